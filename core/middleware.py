"""Request guards that turn input and load the database cannot take into a clear 4xx/503.

- `RefuseNulMiddleware`: PostgreSQL cannot store or compare a NUL character; any lookup
  with one (a changelist search, a filter, an autocomplete term, an id in the path) fails
  inside the database driver as a 500. Refuse the request before any view sees it.
- `DatabaseBusyMiddleware`: on SQLite a writer can still find the database locked after
  the busy timeout; that is load, not a bug, so the client is told to retry (503 with
  `Retry-After`), never a 500.
- `ResolvedUserMiddleware`: `request.user` as the user itself, not behind lazy proxies.
"""

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpResponse, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect
from django.utils.functional import LazyObject, empty

from core.database import is_database_busy
from core.parsing import NUL_MESSAGE, form_has_nul
from core.second_factor import requires_second_factor, session_verified

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
BUSY_RETRY_AFTER_SECONDS = 2
BUSY_MESSAGE = "The database is busy; retry in a moment."


def is_api(request):
    return request.path_info.startswith("/api/")


def refusal(request, status, message, code):
    """The error in the shape the client reads: the API's JSON body, or a short plain page."""
    if is_api(request):
        return JsonResponse({"detail": message, "code": code}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def drop_cookies_with_nul(request):
    """A cookie holding a NUL (`sessionid="ab\\000c"` unquotes to one) is treated as never
    sent: the session lookup would fail in PostgreSQL on every page, and refusing the
    request would lock the browser out until its cookies are cleared."""
    cookies = request.COOKIES
    if any("\x00" in name or "\x00" in value for name, value in cookies.items()):
        request.COOKIES = {
            name: value
            for name, value in cookies.items()
            if "\x00" not in name and "\x00" not in value
        }


def request_has_nul(request):
    """A NUL in the path, the query string, a header (a token, a user agent an acknowledgement
    keeps), or a posted form's fields (files may hold any bytes)."""
    if "\x00" in request.path or form_has_nul(request.GET):
        return True
    if any(
        "\x00" in value
        for name, value in request.META.items()
        if name.startswith("HTTP_") and name != "HTTP_COOKIE" and isinstance(value, str)
    ):
        return True
    if request.method == "POST" and request.content_type in FORM_TYPES:
        try:
            return form_has_nul(request.POST)
        except MultiPartParserError:
            return False  # a malformed body: the view refuses it as it always did
    return False


class RefuseNulMiddleware:
    """400 for a request carrying a NUL character anywhere a view could pass it to the database.

    The API's parsers (`core.parsing`) check JSON bodies and PUT/PATCH forms.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        drop_cookies_with_nul(request)
        if request_has_nul(request):
            return refusal(request, 400, NUL_MESSAGE, "invalid")
        return self.get_response(request)


class DatabaseBusyMiddleware:
    """503 with `Retry-After` when SQLite stays locked beyond its busy timeout."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exc):
        if not is_database_busy(exc):
            return None
        response = refusal(request, 503, BUSY_MESSAGE, "database_busy")
        response["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
        return response


SECOND_FACTOR_MESSAGE = "Pass your second factor in the admin first (/accounts/second-factor/)."
# The admin's own sign-in and sign-out stay open: the password comes before the code.
SECOND_FACTOR_OPEN = ("/admin/login/", "/admin/logout/")


class SecondFactorMiddleware:
    """Every admin URL and every session-authenticated API call waits for the second factor.

    One guard for all doors, so admin views that libraries add, history pages, autocomplete,
    popups and the browsable API are covered without a check in each view. Only the session's
    user is looked at: a token or SCIM call is not signed in here (DRF authenticates it
    later), so it passes. Who needs a second factor and what verifies a session are
    `core.second_factor`'s to say.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        guarded = path.startswith("/admin/") or is_api(request)
        if (
            settings.ADMIN_REQUIRE_2FA
            and guarded
            and not path.startswith(SECOND_FACTOR_OPEN)
            and request.user.is_authenticated
            and not session_verified(request)
            and requires_second_factor(request.user)
        ):
            if is_api(request):
                return JsonResponse(
                    {"detail": SECOND_FACTOR_MESSAGE, "code": "second_factor_required"},
                    status=403,
                )
            query = QueryDict(mutable=True)
            query[REDIRECT_FIELD_NAME] = request.get_full_path()
            return redirect(f"/accounts/second-factor/?{query.urlencode()}")
        return self.get_response(request)


class ResolvedUserMiddleware:
    """`request.user` becomes the user object itself, loaded here once.

    Django's AuthenticationMiddleware puts a lazy proxy there and django-otp wraps it in a
    second one; every later read of an attribute (each permission check, each visibility
    filter, each `user.pk` in a query, DRF's session authentication returning it) went
    through both, a tenth of an API detail read's Python. The admin and the API load the
    user first thing anyway (SecondFactorMiddleware asks whether it is signed in), and a
    request without a session cookie loads it without a query. Signing in and out within
    a request replace `request.user` themselves, as they always do.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        while isinstance(user, LazyObject):
            if user._wrapped is empty:
                user._setup()
            user = user._wrapped
        request.user = user
        return self.get_response(request)
