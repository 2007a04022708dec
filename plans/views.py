"""Self-service pages: what I still have to acknowledge, a version's text, the form and the receipt."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.errors import DomainError, add_to_form
from core.http import client_ip
from core.signing import authenticate_signer, reauth_url

from . import queries, services
from .forms import AcknowledgementForm
from .models import Acknowledgement
from .rendering import render_markdown


@login_required
def pending(request):
    """The plans I must acknowledge, and the published plans that apply to me."""
    owed = list(queries.pending_acknowledgements(request.user))
    mine = queries.applicable_versions(request.user)
    return render(request, "plans/pending.html", {"owed": owed, "applicable": mine})


def _version_page(request, version, form=None, status=200):
    acknowledgement = Acknowledgement.objects.filter(user=request.user, version=version).first()
    can_acknowledge = queries.can_acknowledge(
        request.user, version, signed=acknowledgement is not None
    )
    if can_acknowledge and form is None:
        form = AcknowledgementForm(
            statement=version.statement,
            initial={"content_hash": version.content_hash},
        )
    sections = [
        {"key": s.key, "heading": s.heading, "html": render_markdown(s.body)}
        for s in version.sections.order_by("order", "id")
    ]
    context = {
        "version": version,
        "sections": sections,
        "acknowledgement": acknowledgement,
        "form": form if can_acknowledge else None,
        "reauth_url": reauth_url(request.user),
    }
    return render(request, "plans/version.html", context, status=status)


def _visible_version(request, pk):
    return get_object_or_404(queries.visible_versions(request.user).select_related("plan"), pk=pk)


@login_required
def version(request, pk):
    """A version's full text, with the acknowledgement form when the user still owes one."""
    return _version_page(request, _visible_version(request, pk))


@login_required
@require_POST
def acknowledge(request, pk):
    version = _visible_version(request, pk)
    form = AcknowledgementForm(request.POST, statement=version.statement)
    if not form.is_valid():
        return _version_page(request, version, form=form, status=400)
    try:
        proof = authenticate_signer(request, request.user, form.cleaned_data["password"])
        acknowledgement, created = services.acknowledgement_create(
            version=version,
            actor=request.user,
            proof=proof,
            full_name=form.cleaned_data["full_name"],
            content_hash=form.cleaned_data["content_hash"],
            ip_address=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except DomainError as exc:
        add_to_form(form, exc)
        return _version_page(request, version, form=form, status=exc.http_status)
    if created:
        messages.success(request, "Thank you: your acknowledgement is recorded.")
    else:
        messages.info(request, "You had already acknowledged this version.")
    return redirect("plans:receipt", pk=acknowledgement.pk)


@login_required
def receipt(request, pk):
    acknowledgement = get_object_or_404(
        Acknowledgement.objects.select_related("version", "version__plan", "user", "signature"),
        pk=pk,
        user=request.user,
    )
    return render(request, "plans/receipt.html", {"acknowledgement": acknowledgement})


@login_required
def my_acknowledgements(request):
    acknowledgements = (
        Acknowledgement.objects.filter(user=request.user)
        .select_related("version", "version__plan")
        .order_by("-acknowledged_at", "-id")
    )
    return render(request, "plans/my_acknowledgements.html", {"acknowledgements": acknowledgements})
