"""The API root: authentication, /me, schema and docs, each app's routes, and the one exception handler."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.urls import include, path
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import exceptions, serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from core import second_factor
from core.api import AuditedViewMixin
from core.audit_api import AuditLogView
from core.errors import DomainError
from core.people_api import PersonViewSet
from core.timezones import remember_in_session, time_zone_set, zone_name_of


def exception_handler(exc, context):
    """Translate domain and Django errors into API responses; never a 500 for a refused change."""
    if isinstance(exc, DomainError):
        body = {"detail": exc.message, "code": exc.code}
        if exc.field:
            body = {exc.field: [exc.message], "detail": exc.message, "code": exc.code}
        return Response(body, status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail = {
                ("non_field_errors" if field == "__all__" else field): [m for m in messages]
                for field, messages in exc.message_dict.items()
            }
        else:
            detail = {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, ProtectedError):
        return Response(
            {
                "detail": "This record is referred to by others and cannot be removed.",
                "code": "protected",
            },
            status=409,
        )
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    return drf_exception_handler(exc, context)


ME = inline_serializer(
    name="Me",
    fields={
        "id": serializers.IntegerField(),
        "username": serializers.CharField(),
        "full_name": serializers.CharField(),
        "groups": serializers.ListField(child=serializers.CharField()),
        "time_zone": serializers.CharField(help_text="IANA name; the site's default if unset."),
    },
)


class MeWriteSerializer(serializers.Serializer):
    time_zone = serializers.CharField(max_length=64)


class MeView(AuditedViewMixin, APIView):
    """The requesting user; PATCH sets their time zone (pages and forms read and show times in it)."""

    def _body(self, user):
        return {
            "id": user.pk,
            "username": user.get_username(),
            "full_name": user.get_full_name(),
            "groups": sorted(user.groups.values_list("name", flat=True)),
            "time_zone": zone_name_of(user),
        }

    @extend_schema(responses=ME)
    def get(self, request):
        return Response(self._body(request.user))

    @extend_schema(request=MeWriteSerializer, responses=ME)
    def patch(self, request):
        serializer = MeWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = request.user
        name = time_zone_set(
            user=user, actor=user, time_zone=serializer.validated_data["time_zone"]
        )
        if getattr(request, "session", None) is not None and request.session.session_key:
            remember_in_session(request, name)
        return Response({**self._body(user), "time_zone": name})


USERNAME_MAX_LENGTH = get_user_model()._meta.get_field("username").max_length


class TokenRequestSerializer(AuthTokenSerializer):
    """DRF's token request, with the username no longer than any account's.

    A longer one can name no one, and django-axes would try to store it in its attempt record
    (255 characters): PostgreSQL refused the insert with a 500.
    """

    username = serializers.CharField(
        label="Username", max_length=USERNAME_MAX_LENGTH, write_only=True
    )
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        write_only=True,
        help_text="The current code of your authenticator app (or a recovery code): needed "
        "when the second factor is required of you (ADMIN_REQUIRE_2FA and an admin role).",
    )


class TokenView(ObtainAuthToken):
    """Exchange a username and password for an API token."""

    throttle_scope = "auth"
    throttle_classes = [ScopedRateThrottle]
    serializer_class = TokenRequestSerializer
    # ObtainAuthToken names DRF's own parsers; ours refuse deep JSON and NUL characters.
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES

    @extend_schema(
        request=inline_serializer(
            name="TokenRequest",
            fields={
                "username": serializers.CharField(),
                "password": serializers.CharField(),
                "otp": serializers.CharField(required=False),
            },
        ),
        responses=inline_serializer(
            name="TokenResponse", fields={"token": serializers.CharField()}
        ),
    )
    def post(self, request, *args, **kwargs):
        """A token is the session API without the browser: whoever must pass a second factor
        for the admin and the session API (core.second_factor) passes it here too, as `otp`,
        or a password alone would open the API to a role's account."""
        try:
            serializer = self.get_serializer(data=request.data)
            serializer.is_valid(raise_exception=True)
        except exceptions.ValidationError:
            # django-axes flags the request when the sign-in was refused by lockout.
            if getattr(request, "axes_locked_out", False):
                return Response(
                    {"detail": "Too many failed sign-ins; try again later.", "code": "locked_out"},
                    status=429,
                )
            raise
        user = serializer.validated_data["user"]
        if second_factor.requires_second_factor(user):
            code = serializer.validated_data.get("otp") or ""
            if not second_factor.has_second_factor(user):
                raise second_factor.SecondFactorRequired(
                    "Your role needs a second factor: enrol an authenticator app by signing in "
                    "to the admin, then send its code as `otp`."
                )
            if not code:
                raise second_factor.SecondFactorRequired(
                    "Your role needs a second factor: send the current code of your "
                    "authenticator app (or a recovery code) as `otp`."
                )
            second_factor.verify(user=user, code=code)
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


people = DefaultRouter()
people.include_root_view = False
people.register("users", PersonViewSet, basename="user")

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("me/", MeView.as_view(), name="api-me"),
    path("audit/", AuditLogView.as_view(), name="api-audit"),
    *people.urls,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("incidents.api.urls")),
    path("", include("plans.api.urls")),
    path("", include("training.api.urls")),
]
