"""Sign-in protection: django-axes' lockout for every web sign-in."""

from axes.backends import AxesStandaloneBackend


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
