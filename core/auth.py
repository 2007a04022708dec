"""Sign-in protection: django-axes' lockout for every web sign-in."""

from axes.backends import AxesStandaloneBackend
from axes.conf import settings
from django.contrib.auth import get_user_model


class LockoutBackend(AxesStandaloneBackend):
    """Axes' lockout check, for sign-ins that come with a request.

    Every web sign-in (admin, self-service site, API token endpoint) passes the
    request and is counted. Calls without one (the shell, `Client.login` in
    tests) cannot come from a password guesser over the network, so they fall
    through to the model backend instead of failing outright.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_username(request, credentials=None):
    """The username django-axes counts failures under (AXES_USERNAME_CALLABLE), cut to the
    longest a username can be.

    Axes stores it in a 255-character column: a longer one (which names no account) made
    PostgreSQL refuse the attempt record, and every sign-in page answered 500.
    """
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        username = credentials.get(field)
    else:
        username = getattr(request, "data", request.POST).get(field)
    if not isinstance(username, str):
        return username
    return username[: get_user_model()._meta.get_field("username").max_length]
