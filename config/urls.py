"""Top-level URLs: admin, API, the self-service site."""

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.views import defaults

from core import second_factor_views
from directory import oidc_views

admin.site.site_header = "Incident response"
admin.site.site_title = "Incident response"
admin.site.index_title = "Case system"

urlpatterns = [
    # Sign-out ends the provider's session too when the person signed in through it.
    path("admin/logout/", oidc_views.admin_sign_out),
    # Under /admin/ so that its user has passed their own second factor (core/middleware.py).
    path(
        "admin/second-factor/reset/<int:user_id>/",
        admin.site.admin_view(second_factor_views.admin_reset),
        name="second-factor-admin-reset",
    ),
    path("admin/", admin.site.urls),
    path("accounts/logout/", oidc_views.sign_out, name="logout"),
    path("accounts/second-factor/", second_factor_views.start, name="second-factor"),
    path("accounts/second-factor/enrol/", second_factor_views.enrol, name="second-factor-enrol"),
    path("accounts/second-factor/mine/", second_factor_views.manage, name="second-factor-manage"),
    path("api/v1/", include("config.api")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("incidents/", include("incidents.urls")),
    path("plans/", include("plans.urls")),
    path("training/", include("training.urls")),
    path("scim/v2/", include("directory.urls")),
    path("oidc/", include("directory.oidc_urls")),
    path("", include("core.urls")),
]


def _api_or_page(api_status, api_detail, page_view):
    def handler(request, *args, **kwargs):
        if request.path.startswith("/scim/"):
            from directory.views import error_response

            return error_response(api_status, api_detail)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": api_detail}, status=api_status)
        return page_view(request, *args, **kwargs)

    return handler


# The API answers JSON even for paths no route matches (a malformed id, say).
handler404 = _api_or_page(404, "Not found.", defaults.page_not_found)
handler500 = _api_or_page(500, "Server error.", defaults.server_error)
