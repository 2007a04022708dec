"""The second factor's pages: enrol an authenticator app, pass a code, reset (own or another's).

The rules are `core.second_factor`'s; these pages only ask and show. The pages live under
`/accounts/second-factor/` (outside the admin, which waits for them); the reset of someone
else's factor is an admin page (`/admin/second-factor/reset/<id>/`), so its user has passed
their own second factor first.
"""

from base64 import b32encode

import django_otp
import segno
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe

from core import second_factor
from core.errors import DomainError
from core.people import person_label


def _next(request):
    target = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/admin/"


def _page(request, template, **context):
    context.setdefault("next", _next(request))
    context.setdefault("title", "Second factor")
    return render(request, f"core/second_factor/{template}.html", context)


@login_required
def start(request):
    """Verify with a code (TOTP or recovery), or go and enrol when there is no app yet."""
    user = request.user
    if not second_factor.has_second_factor(user):
        if request.method == "POST" or not second_factor.requires_second_factor(user):
            return _page(request, "optional")
        return redirect(f"enrol/?{request.GET.urlencode()}")
    if second_factor.session_verified(request):
        return redirect(_next(request))
    error = ""
    if request.method == "POST":
        try:
            device = second_factor.verify(user=user, code=request.POST.get("code", ""))
        except DomainError as exc:
            error = exc.message
        else:
            django_otp.login(request, device)
            if device.__class__.__name__ == "StaticDevice":
                left = second_factor.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"Recovery code used; {left} left. Renew them under Second factor.",
                )
            return redirect(_next(request))
    return _page(request, "verify", error=error, title="Enter your code")


@login_required
def enrol(request):
    """QR code and secret of a new TOTP device; confirmed with a code, then the recovery codes
    are shown once."""
    user = request.user
    error = ""
    if second_factor.has_second_factor(user):
        return redirect(f"../?{request.GET.urlencode()}")
    if request.method == "POST":
        try:
            codes = second_factor.enrolment_confirm(user=user, code=request.POST.get("code", ""))
        except DomainError as exc:
            error = exc.message
        else:
            django_otp.login(request, second_factor.totp_device(user))
            return _page(request, "recovery_codes", codes=codes, title="Your recovery codes")
    try:
        device = second_factor.enrolment_start(user=user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("/")
    secret = b32encode(device.bin_key).decode().rstrip("=")
    qr = segno.make(device.config_url, error="m").svg_inline(scale=5, title="QR code")
    return _page(
        request,
        "enrol",
        error=error,
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        qr=mark_safe(qr),  # segno's own SVG markup, made from our URL
        title="Set up an authenticator app",
    )


@login_required
def manage(request):
    """My second factor: new recovery codes, or reset (each with a current code)."""
    user = request.user
    error = ""
    if request.method == "POST":
        code = request.POST.get("code", "")
        try:
            if request.POST.get("action") == "reset":
                second_factor.reset(actor=user, user=user, code=code)
                messages.success(request, "Second factor removed; set up a new one.")
                return redirect("second-factor-enrol")
            codes = second_factor.recovery_codes_renew(user=user, code=code)
        except DomainError as exc:
            error = exc.message
        else:
            return _page(request, "recovery_codes", codes=codes, title="Your recovery codes")
    return _page(
        request,
        "manage",
        error=error,
        enrolled=second_factor.has_second_factor(user),
        codes_left=second_factor.recovery_codes_left(user),
        title="My second factor",
    )


def admin_reset(request, user_id):
    """An administrator resets another person's second factor, with a reason (audited)."""
    person = get_object_or_404(get_user_model(), pk=user_id)
    if not request.user.has_perm("core.reset_second_factor"):
        messages.error(request, "You may not reset another person's second factor.")
        return redirect("/admin/")
    error = ""
    if request.method == "POST":
        try:
            second_factor.reset(
                actor=request.user, user=person, reason=request.POST.get("reason", "")
            )
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(
                request, f"{person_label(person)}'s second factor is reset; they enrol again."
            )
            return redirect(f"/admin/auth/user/{person.pk}/change/")
    return _page(
        request,
        "admin_reset",
        person=person,
        person_name=person_label(person),
        enrolled=second_factor.has_second_factor(person),
        error=error,
        title="Reset second factor",
    )
