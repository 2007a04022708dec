"""Who reads an incident's attachments, and what their list shows."""

from django.db.models import Prefetch

from ..models import Attachment, AttachmentDownload
from . import fully_visible_incidents, sees_everything


def attachments_visible_to(user):
    """The evidence files `user` may read and download: those of incidents they see in full
    (`fully_visible_incidents`), for holders of `view_attachment`. A reporter outside the
    response sees none, as of the rest of the response."""
    if user is None or not user.is_authenticated or not user.has_perm("incidents.view_attachment"):
        return Attachment.objects.none()
    if sees_everything(user):
        return Attachment.objects.all()
    return Attachment.objects.filter(incident__in=fully_visible_incidents(user).values("pk"))


def attachment_rows(queryset):
    """Attachments with what a list shows (the uploader, the supersession, every download and
    who made it) in a fixed number of queries: one for the page, one for the downloads."""

    downloads = AttachmentDownload.objects.select_related("user").order_by("-at", "-id")
    return queryset.select_related("uploaded_by", "superseded_by_person").prefetch_related(
        Prefetch("downloads", queryset=downloads)
    )
