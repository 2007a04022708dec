"""Second factor for the admin roles: who needs one, enrolment, verification, reset.

Decisions (README, "Second factor"):

- **Library**: django-otp with its TOTP plugin (an authenticator app: 6 digits every 30 s)
  and its static plugin for recovery codes (10 one-use codes of 8 characters, shown once
  when the TOTP device is confirmed). django-allauth's MFA would bring allauth's whole
  account flow; django-otp is a small set of models we drive from our own services.
- **Who**: with `ADMIN_REQUIRE_2FA` on, every member of Coordinators, Plan approvers,
  Compliance or Incident intake, and every superuser (`requires_second_factor`). Staff and
  anyone else are not asked, and the self-service site never asks.
- **Where**: every admin URL (including views libraries add, history pages, autocomplete,
  popups) and every `/api/v1/` call authenticated by the session cookie (so the browsable
  API too) wait until the session is verified (`core.middleware.SecondFactorMiddleware`).
  Token and SCIM calls carry no session and are unaffected.
- **OIDC**: a sign-in whose provider reported (`amr`, RFC 8176, kept in the session under
  `oidc_amr` by the OIDC sign-in) one of `SATISFYING_AMR` counts as verified: `mfa`
  (multiple factors), `mca` (multiple channels), `otp`, `hwk` and `swk` (proof of a hardware
  or software key), `sc` (smart card). `pwd`, `pin`, `kba` (something known) and biometric
  values alone (`face`, `fpt`, …, a device unlock) do not; nor do `sms` or `tel`.
- **Wrong codes**: django-otp's throttling: after n wrong codes in a row the next attempt is
  refused for 2^(n-1) seconds (`OTP_*_THROTTLE_FACTOR`); both devices of a person must be
  out of their wait before a code is tried. Each attempt is a history row of the device.
- **History**: the device and recovery-code tables are registered with simple-history under
  `core` (core/models.py): enrolment (unconfirmed device), confirmation, each code used,
  each failure count, and reset (the devices deleted, with who and why) are rows with the
  actor. A reset by someone else needs `core.reset_second_factor` and a reason.
"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.errors import DomainError, InvalidInput, NotPermitted
from core.history import stamp
from core.roles import COMPLIANCE, COORDINATORS, INCIDENT_INTAKE, PLAN_APPROVERS
from core.services import audited_save, require

ROLES_REQUIRING_SECOND_FACTOR = (COORDINATORS, PLAN_APPROVERS, COMPLIANCE, INCIDENT_INTAKE)
SATISFYING_AMR = frozenset({"mfa", "mca", "otp", "hwk", "swk", "sc"})
AMR_SESSION_KEY = "oidc_amr"
RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


class WrongCode(DomainError, http_status=400, code="wrong_code"):
    """That code is not right."""


class SecondFactorRequired(DomainError, http_status=403, code="second_factor_required"):
    """A sign-in for the API (a token) by a role that needs a second factor, without one."""


class TooManyAttempts(DomainError, http_status=429, code="throttled"):
    """Too many wrong codes: wait a moment before the next try."""


# --- queries -------------------------------------------------------------------------


def requires_second_factor(user):
    """Does this person need a second factor for the admin and the session API?"""
    if not getattr(settings, "ADMIN_REQUIRE_2FA", False):
        return False
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name__in=ROLES_REQUIRING_SECOND_FACTOR).exists()


def amr_satisfies(amr):
    """Does the OIDC provider's `amr` list name a second factor (RFC 8176)?"""
    if isinstance(amr, str):
        amr = [amr]
    if not isinstance(amr, list | tuple):
        return False
    return any(isinstance(value, str) and value.lower() in SATISFYING_AMR for value in amr)


def session_verified(request):
    """Has this session passed a second factor (a code here, or the OIDC provider's)?"""
    verified = getattr(request.user, "is_verified", None)
    if verified is not None and verified():
        return True
    return amr_satisfies(request.session.get(AMR_SESSION_KEY))


def totp_device(user, *, confirmed=True):
    return (
        TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("pk").first()
        if user.is_authenticated
        else None
    )


def has_second_factor(user):
    return totp_device(user) is not None


def recovery_codes_left(user):
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# --- services ------------------------------------------------------------------------


@transaction.atomic
def enrolment_start(*, user):
    """The person's unconfirmed TOTP device (a new secret), created once and kept until
    confirmed; refused when they already have a confirmed one (reset it first)."""
    if has_second_factor(user):
        raise InvalidInput("You already have an authenticator app; reset it to enrol another.")
    device = totp_device(user, confirmed=False)
    if device is None:
        device = TOTPDevice(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
        audited_save(device, actor=user, reason="Second factor enrolment started")
    return device


def enrolment_confirm(*, user, code):
    """Confirm the app with a code it shows; returns the recovery codes (shown once).

    A wrong code is refused after its failure count is committed (the throttle holds)."""
    codes = _enrolment_confirm(user=user, code=code)
    if codes is None:
        raise WrongCode("That code is not right; enter the 6 digits the app shows now.")
    return codes


@transaction.atomic
def _enrolment_confirm(*, user, code):
    device = totp_device(user, confirmed=False)
    if device is None:
        raise InvalidInput("Start the enrolment first.")
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    _check_allowed([device])
    stamp(device, actor=user, reason="Second factor code checked")
    if not device.verify_token(_digits(code)):
        return None
    device.confirmed = True
    audited_save(device, actor=user, reason="Second factor enrolment confirmed")
    return _new_recovery_codes(user)


def verify(*, user, code):
    """Check a TOTP code or a recovery code (used up); returns the device that matched.

    The face then marks the session verified (`django_otp.login`). A wrong code is refused
    after its failure count is committed, so the throttle holds."""
    device = _verify(user=user, code=code)
    if device is None:
        raise WrongCode("That code is not right.")
    return device


@transaction.atomic
def _verify(*, user, code):
    totp = totp_device(user)
    if totp is None:
        raise InvalidInput("You have no authenticator app yet; enrol one first.")
    totp = TOTPDevice.objects.select_for_update().get(pk=totp.pk)
    recovery = (
        StaticDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
    )
    _check_allowed([totp, recovery])
    code = (code or "").strip()
    digits = _digits(code)
    if digits.isdigit() and len(digits) == totp.digits:
        stamp(totp, actor=user, reason="Second factor code checked")
        if totp.verify_token(digits):
            return totp
    elif recovery is not None and code:
        token = code.replace(" ", "").replace("-", "").lower()
        match = recovery.token_set.filter(token=token).first()
        if match is not None:
            stamp(match, actor=user, reason="Recovery code used")
            match.delete()
            recovery.throttle_reset(commit=False)
            audited_save(recovery, actor=user, reason="Recovery code used")
            return recovery
        stamp(recovery, actor=user, reason="Wrong recovery code")
        recovery.throttle_increment(commit=True)
    else:
        stamp(totp, actor=user, reason="Wrong code")
        totp.throttle_increment(commit=True)
    return None


def recovery_codes_renew(*, user, code):
    """Fresh recovery codes for the person (the old ones stop working), with a current code."""
    verify(user=user, code=code)  # outside the block below: a wrong code's count is kept
    with transaction.atomic():
        return _new_recovery_codes(user)


def reset(*, actor, user, reason="", code=None):
    """Remove the person's second factor: they enrol again at their next admin sign-in.

    Their own: with a current code (TOTP or recovery). Someone else's: with the permission
    `core.reset_second_factor` and a reason."""
    reason = (reason or "").strip()
    if actor.pk == user.pk:
        verify(user=user, code=code)
        reason = reason or "Own second factor reset"
    else:
        require(actor, "core.reset_second_factor")
        if not reason:
            raise InvalidInput("Say why the second factor is reset.", field="reason")
        if actor.is_superuser is False and user.is_superuser:
            raise NotPermitted("Only a superuser may reset a superuser's second factor.")
    return _remove_devices(actor=actor, user=user, reason=reason)


def operator_reset(*, actor, user, reason):
    """The way back in when nobody who may reset is able to (the only superuser lost their
    phone and their recovery codes): someone with shell access to the server runs
    `manage.py reset_second_factor USERNAME --reason "..."`. Shell access is the authority, as
    for `createsuperuser`; the reason is required and the history records it, marked as the
    command's, with the actor (`--user`, else the system user)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the second factor is reset.", field="reason")
    return _remove_devices(
        actor=actor, user=user, reason=f"{reason} (manage.py reset_second_factor)"
    )


@transaction.atomic
def _remove_devices(*, actor, user, reason):
    removed = 0
    for device in StaticDevice.objects.select_for_update().filter(user=user):
        for token in device.token_set.all():
            stamp(token, actor=actor, reason=reason)
            token.delete()
        stamp(device, actor=actor, reason=reason)
        device.delete()
        removed += 1
    for device in TOTPDevice.objects.select_for_update().filter(user=user):
        stamp(device, actor=actor, reason=reason)
        device.delete()
        removed += 1
    return removed


# --- helpers -------------------------------------------------------------------------


def _digits(code):
    return "".join((code or "").split())


def _check_allowed(devices):
    for device in devices:
        if device is None:
            continue
        allowed, data = device.verify_is_allowed()
        if not allowed:
            wait = ""
            locked_until = (data or {}).get("locked_until")
            if locked_until is not None:
                seconds = max(1, int((locked_until - timezone.now()).total_seconds()) + 1)
                wait = f" Try again in {seconds} seconds."
            raise TooManyAttempts(f"Too many wrong codes.{wait}")


def _new_recovery_codes(user):
    for device in StaticDevice.objects.select_for_update().filter(user=user):
        for token in device.token_set.all():
            stamp(token, actor=user, reason="Recovery codes replaced")
            token.delete()
        stamp(device, actor=user, reason="Recovery codes replaced")
        device.delete()
    device = StaticDevice(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    audited_save(device, actor=user, reason="Recovery codes issued")
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        token = StaticToken(device=device, token=StaticToken.random_token())
        audited_save(token, actor=user, reason="Recovery codes issued")
        codes.append(token.token)
    return codes
