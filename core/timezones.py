"""Each person's time zone: stored on their profile, kept in their session, active on every page.

Times are stored in UTC. Forms read a typed time in the reader's zone and pages
show times in it, naming the zone (Django does both for the *current* time zone,
which the middleware below sets per request). The API keeps ISO 8601 with an
offset, so it needs no zone.
"""

import zoneinfo
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.errors import NotPermitted
from core.services import audited_save

SESSION_KEY = "time_zone"


@cache
def known_time_zones():
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value):
    if value and value not in known_time_zones():
        raise ValidationError(
            f"{value[:64]!r} is not a time zone name (IANA, such as Europe/Berlin).",
            code="unknown_time_zone",
        )


def zone_name_of(user):
    """The IANA name of `user`'s time zone: their own, else the site's TIME_ZONE."""
    from core.models import Profile

    if not user.is_authenticated:
        return settings.TIME_ZONE
    chosen = Profile.objects.filter(user=user).values_list("time_zone", flat=True).first()
    return chosen or settings.TIME_ZONE


@transaction.atomic
def time_zone_set(*, user, actor, time_zone):
    """Set the zone a person reads and types times in (their own, or any as a superuser)."""
    if actor.pk != user.pk and not actor.is_superuser:
        raise NotPermitted("You may only set your own time zone.")
    if not time_zone:
        raise ValidationError({"time_zone": "Choose a time zone."})
    try:
        validate_time_zone(time_zone)
    except ValidationError as exc:
        raise ValidationError({"time_zone": exc.messages}) from None
    from core.models import Profile

    profile, _ = Profile.objects.get_or_create(user=user)
    profile = Profile.objects.select_for_update().get(pk=profile.pk)
    if profile.time_zone == time_zone:
        return time_zone
    profile.time_zone = time_zone
    audited_save(profile, actor=actor, reason=f"Time zone set to {time_zone}")
    return time_zone


def remember_in_session(request, name):
    request.session[SESSION_KEY] = name


def remember_on_sign_in(sender, request, user, **kwargs):
    """user_logged_in: the zone goes into the session once, so pages cost no query for it."""
    if request is not None and hasattr(request, "session"):
        remember_in_session(request, zone_name_of(user))


class TimeZoneMiddleware:
    """Activates the signed-in person's zone for the request (from their session)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = None
        session = getattr(request, "session", None)
        if session is not None and session.session_key:
            name = session.get(SESSION_KEY)
        if name and name in known_time_zones():
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
