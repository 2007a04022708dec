"""SCIM tokens, provisioning links and OpenID identities in the admin: shown, written only by
the commands, SCIM and sign-ins through the provider."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from directory.models import OidcIdentity, ProvisionedGroup, ProvisionedUser, ScimToken


@admin.register(ScimToken)
class ScimTokenAdmin(ReadOnlyAdmin):
    list_display = ("name", "created_at", "last_used_at", "revoked_at")
    list_select_related = ()
    exclude = ("token_hash",)


@admin.register(ProvisionedUser)
class ProvisionedUserAdmin(ReadOnlyAdmin):
    list_display = ("user", "external_id", "created_at", "deprovisioned_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "external_id")
    raw_id_fields = ("user",)


@admin.register(ProvisionedGroup)
class ProvisionedGroupAdmin(ReadOnlyAdmin):
    list_display = ("group", "external_id", "created_at", "deprovisioned_at")
    list_select_related = ("group",)
    search_fields = ("group__name", "external_id")


@admin.register(OidcIdentity)
class OidcIdentityAdmin(ReadOnlyAdmin):
    list_display = ("user", "issuer", "subject", "first_seen_at", "last_seen_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__first_name", "user__last_name", "subject")
    raw_id_fields = ("user",)
