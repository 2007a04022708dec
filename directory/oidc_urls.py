"""Sign-in through the OpenID provider, mounted at /oidc/ (directory/oidc_views.py)."""

from django.urls import path

from directory import oidc_views

urlpatterns = [
    path("authenticate/", oidc_views.SignIn.as_view(), name="oidc_authentication_init"),
    path("callback/", oidc_views.Callback.as_view(), name="oidc_authentication_callback"),
    path("reauth/", oidc_views.Reauthenticate.as_view(), name="oidc-reauth"),
]
