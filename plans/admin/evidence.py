"""Admin of the evidence of plans: acknowledgements, signatures, reviews, sections, notices
and clocks.

Visible to those allowed to see them, never added, changed or deleted here.
"""

from django.contrib import admin

from core.admin import ReadOnlyAdmin, person_column

from .. import queries
from ..models import (
    Acknowledgement,
    AcknowledgementNotice,
    ReminderClock,
    Review,
    Section,
    Signature,
)


@admin.register(Acknowledgement)
class AcknowledgementAdmin(ReadOnlyAdmin):
    list_display = ("user_name", "version", "acknowledged_at", "full_name", "content_hash")
    user_name = person_column("user", "person")
    list_select_related = ("user", "version", "version__plan")
    list_filter = ("version__plan",)
    search_fields = ("user__username", "full_name", "user__last_name")
    raw_id_fields = ("user", "version")
    ordering = ("-acknowledged_at", "-id")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if not queries.can_see_all_acknowledgements(request.user):
            qs = qs.filter(user=request.user)
        return qs


@admin.register(Signature)
class SignatureAdmin(ReadOnlyAdmin):
    """Electronic signatures: read-only everywhere (the model and the database refuse changes)."""

    list_display = ("signed_at", "meaning", "printed_name", "version", "content_hash", "method")
    list_select_related = ("version", "version__plan")
    list_filter = ("meaning", "method", "version__plan")
    search_fields = ("printed_name", "signer__username")
    raw_id_fields = ("signer", "version", "acknowledgement", "review")
    ordering = ("-signed_at", "-id")

    def get_queryset(self, request):
        return queries.signatures_visible_to(request.user, super().get_queryset(request))


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ("version", "decision", "reviewer_name", "created_at", "comment")
    reviewer_name = person_column("reviewer")
    list_select_related = ("version", "version__plan", "reviewer")
    list_filter = ("decision",)
    ordering = ("-created_at", "-id")

    def get_queryset(self, request):
        """A review is read with its version: a reviewer's comments on a draft are for those
        who may read the draft (a custom group holding only `view_review` sees the reviews
        of published versions)."""
        qs = super().get_queryset(request)
        return qs.filter(version__in=queries.visible_versions(request.user))


@admin.register(Section)
class SectionAdmin(ReadOnlyAdmin):
    """Sections are edited inline on their version; here for their own history pages."""

    list_display = ("heading", "key", "version")
    list_select_related = ("version", "version__plan")
    search_fields = ("heading", "body")
    ordering = ("version", "order")

    def get_model_perms(self, request):
        return {}  # not listed on the admin index

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs.filter(version__in=queries.visible_versions(request.user))


@admin.register(AcknowledgementNotice)
class AcknowledgementNoticeAdmin(ReadOnlyAdmin):
    list_display = ("user_name", "version", "kind", "sent_at")
    user_name = person_column("user", "person")
    list_select_related = ("user", "version", "version__plan")
    list_filter = ("kind",)
    raw_id_fields = ("user", "version")
    ordering = ("-sent_at", "-id")


@admin.register(ReminderClock)
class ReminderClockAdmin(ReadOnlyAdmin):
    list_display = ("user_name", "last_sent_at")
    user_name = person_column("user", "person")
    list_select_related = ("user",)
    ordering = ("-last_sent_at", "id")
