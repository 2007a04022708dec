"""API of evidence files: the incident's list and upload (`…/incidents/{id}/attachments/`),
one file (`/attachments/{id}/`), its download (`…/download/`, recorded before it streams) and
its supersession (`…/supersede/`). See docs/incidents.md §Attachments."""

from django.contrib.auth import get_user_model
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import AuditedViewMixin, ETagMixin, HistoryMixin
from core.people import person_label
from incidents import queries, services
from incidents.models import Action, Attachment, AttachmentDownload, PostIncidentReview
from incidents.services.attachments import NAME_MAX_LENGTH
from incidents.services.incident import REASON_MAX_LENGTH

User = get_user_model()


class AttachmentDownloadSerializer(serializers.ModelSerializer):
    user_name = serializers.SerializerMethodField()

    class Meta:
        model = AttachmentDownload
        fields = ("user", "user_name", "at", "via")
        read_only_fields = fields

    def get_user_name(self, row) -> str:
        return person_label(row.user)


class AttachmentSerializer(serializers.ModelSerializer):
    """One evidence file with its chain of custody (`downloads`, newest first)."""

    uploaded_by_name = serializers.SerializerMethodField()
    superseded_by_person_name = serializers.SerializerMethodField()
    downloads = AttachmentDownloadSerializer(many=True, read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = (
            "id",
            "incident",
            "action",
            "review",
            "file_name",
            "content_type",
            "size",
            "sha256",
            "uploaded_by",
            "uploaded_by_name",
            "uploaded_at",
            "superseded_at",
            "superseded_reason",
            "superseded_by",
            "superseded_by_person",
            "superseded_by_person_name",
            "download_url",
            "downloads",
        )
        read_only_fields = fields

    def get_uploaded_by_name(self, row) -> str:
        return person_label(row.uploaded_by)

    def get_superseded_by_person_name(self, row) -> str | None:
        return person_label(row.superseded_by_person) if row.superseded_by_person_id else None

    def get_download_url(self, row) -> str:
        return f"/api/v1/attachments/{row.pk}/download/"


class AttachmentUploadSerializer(serializers.Serializer):
    """multipart/form-data: `file`, and optionally the incident's `action` or `review` it
    belongs to, or the attachment it `supersedes` with the `reason`."""

    file = serializers.FileField(
        allow_empty_file=True,  # the service says "The file is empty." itself
        max_length=NAME_MAX_LENGTH * 4,  # the service says how long a name may be
        help_text="The file. Its SHA-256, size and kind are taken from its bytes.",
    )
    action = serializers.PrimaryKeyRelatedField(
        queryset=Action.objects.all(), required=False, allow_null=True, default=None
    )
    review = serializers.PrimaryKeyRelatedField(
        queryset=PostIncidentReview.objects.all(), required=False, allow_null=True, default=None
    )
    supersedes = serializers.PrimaryKeyRelatedField(
        queryset=Attachment.objects.select_related("incident"),
        required=False,
        allow_null=True,
        default=None,
        help_text="An attachment of this incident that this file replaces (give a `reason`).",
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=REASON_MAX_LENGTH
    )


class SupersedeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH)
    replacement = serializers.PrimaryKeyRelatedField(
        queryset=Attachment.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="The attachment of the same incident that replaces this one, if any.",
    )


def download_response(attachment, user, via):
    """The file as a download, after the download is recorded (and committed): never shown
    inline, never sniffed into another type, no script or style may run if it were."""
    handle = services.attachment_open(attachment)
    try:
        services.attachment_download(attachment=attachment, actor=user, via=via)
    except BaseException:
        handle.close()
        raise
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.file_name,
        content_type=attachment.content_type,
    )
    response["Content-Length"] = str(attachment.size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    response["Digest"] = f"sha-256={attachment.sha256}"
    return response


class AttachmentViewSet(
    AuditedViewMixin, HistoryMixin, ETagMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Evidence files of the incidents you see in full: read one (and its history), download
    it (recorded), supersede it with a reason (those who may change attachments)."""

    serializer_class = AttachmentSerializer
    permission_classes = [permissions.IsAuthenticated]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return queries.attachment_rows(queries.attachments_visible_to(self.request.user))

    @extend_schema(
        responses={
            # The file's own type (its `content_type`), whatever it is.
            (200, "*/*"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file, as a download."
            )
        },
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def download(self, request, pk=None):
        """The file (`Content-Disposition: attachment`); the download is recorded first."""
        return download_response(self.get_object(), request.user, AttachmentDownload.Via.API)

    @extend_schema(request=SupersedeSerializer, responses=AttachmentSerializer, filters=False)
    @action(detail=True, methods=["post"], filter_backends=[])
    def supersede(self, request, pk=None):
        """Mark the file superseded (once), with a reason and optionally its replacement:
        both stay. 409 if it was superseded already."""
        attachment = self.get_object()
        serializer = SupersedeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.attachment_supersede(
            attachment=attachment, actor=request.user, **serializer.validated_data
        )
        return Response(AttachmentSerializer(self.get_queryset().get(pk=attachment.pk)).data)
