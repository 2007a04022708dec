"""Evidence files in the admin: listed and uploaded on the incident's page (two inlines), a
page of all the files one may see, their download (recorded first) and supersession.

Self-contained: the incident page names `ATTACHMENT_INLINES` among its inlines and
"attachments" among its history children; everything else is here.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from core.admin import AuditedAdmin, ReadOnlyInline, domain_error_message, person_column
from core.errors import DomainError
from core.parsing import parse_id
from core.people import person_label

from .. import queries, services
from ..api.attachments import download_response
from ..models import Attachment, AttachmentDownload
from ..services.incident import REASON_MAX_LENGTH
from .common import for_each

DOWNLOAD_URL = "admin:incidents_attachment_download"


def _when(moment):
    return timezone.localtime(moment).strftime("%d %b %Y %H:%M %Z") if moment else "—"


def download_link(attachment):
    url = reverse(DOWNLOAD_URL, args=[attachment.pk])
    return format_html('<a href="{}">Download</a> (recorded)', url)


def superseded_text(attachment):
    if not attachment.is_superseded:
        return "—"
    by = f" by {attachment.superseded_by.file_name}" if attachment.superseded_by_id else ""
    return (
        f"Superseded{by} on {_when(attachment.superseded_at)} "
        f"({person_label(attachment.superseded_by_person)}): {attachment.superseded_reason}"
    )


class AttachmentListInline(ReadOnlyInline, admin.TabularInline):
    """The incident's evidence files, newest first, each with its download link."""

    model = Attachment
    verbose_name = "evidence file"
    verbose_name_plural = "evidence files"
    fields = (
        "file_name",
        "size",
        "sha256",
        "uploaded_by_name",
        "uploaded_at",
        "superseded",
        "downloads_count",
        "download",
    )
    readonly_fields = fields
    uploaded_by_name = person_column("uploaded_by", "attached by")

    def get_queryset(self, request):
        rows = (
            super()
            .get_queryset(request)
            .filter(pk__in=queries.attachments_visible_to(request.user).values("pk"))
        )
        return queries.attachment_rows(rows).select_related("superseded_by")

    @admin.display(description="superseded")
    def superseded(self, attachment):
        return superseded_text(attachment)

    @admin.display(description="downloads")
    def downloads_count(self, attachment):
        return len(attachment.downloads.all())

    @admin.display(description="file")
    def download(self, attachment):
        return download_link(attachment) if attachment.pk else "—"


class AttachmentUploadForm(forms.ModelForm):
    upload = forms.FileField(
        required=False,
        label="Attach a file",
        help_text="Its SHA-256 and size are recorded; it can never be changed or deleted.",
    )

    class Meta:
        model = Attachment
        fields = ()

    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if upload:
            try:
                services.inspect_upload(upload)
            except DomainError as exc:
                raise ValidationError(exc.message) from None
        return upload


class AttachmentUploadFormSet(BaseInlineFormSet):
    """Saves each chosen file through the service (never the formset's own save)."""

    request = None

    def get_queryset(self):
        return Attachment.objects.none()

    def save(self, commit=True):
        saved = []
        for form in self.forms:
            upload = form.cleaned_data.get("upload") if hasattr(form, "cleaned_data") else None
            if upload:
                saved.append(
                    services.attachment_add(
                        incident=self.instance, actor=self.request.user, upload=upload
                    )
                )
        self.new_objects = saved
        return saved


class AttachmentUploadInline(admin.TabularInline):
    """One empty row to attach a file (those who may attach to incidents)."""

    model = Attachment
    form = AttachmentUploadForm
    formset = AttachmentUploadFormSet
    fields = ("upload",)
    extra = 1
    max_num = 1
    can_delete = False
    verbose_name = "new evidence file"
    verbose_name_plural = "attach evidence"

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"request": request})


ATTACHMENT_INLINES = (AttachmentListInline, AttachmentUploadInline)


class SupersedeForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=REASON_MAX_LENGTH,
        label="Why is it superseded (recorded in the history)",
    )


class DownloadInline(ReadOnlyInline, admin.TabularInline):
    """The chain of custody: every download, newest first."""

    model = AttachmentDownload
    fields = ("at", "user_name", "via")
    readonly_fields = fields
    user_name = person_column("user", "by")
    ordering = ("-at", "-id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(Attachment)
class AttachmentAdmin(AuditedAdmin):
    """Every evidence file one may see; read-only, downloaded through the recorded link,
    superseded (with a reason) by the action."""

    list_display = (
        "file_name",
        "incident",
        "size",
        "short_sha256",
        "uploaded_by_name",
        "uploaded_at",
        "is_superseded",
        "download",
    )
    list_select_related = ("incident", "uploaded_by")
    list_filter = ("content_type",)
    search_fields = ("file_name", "sha256", "incident__reference")
    uploaded_by_name = person_column("uploaded_by", "attached by")
    readonly_fields = (
        "incident",
        "action",
        "review",
        "file_name",
        "content_type",
        "size",
        "sha256",
        "uploaded_by_name",
        "uploaded_at",
        "superseded",
        "download",
    )
    fields = readonly_fields
    inlines = (DownloadInline,)
    actions = ("supersede_selected",)

    def get_queryset(self, request):
        return (
            queries.attachments_visible_to(request.user)
            .select_related("incident", "uploaded_by", "superseded_by", "superseded_by_person")
            .order_by("-uploaded_at", "-id")
        )

    def has_add_permission(self, request):
        return False  # attached on the incident's page

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # The change page shows the file read-only; the permission offers the action.
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="SHA-256")
    def short_sha256(self, attachment):
        return format_html('<code title="{}">{}…</code>', attachment.sha256, attachment.sha256[:16])

    @admin.display(description="superseded", boolean=True)
    def is_superseded(self, attachment):
        return attachment.is_superseded

    @admin.display(description="superseded")
    def superseded(self, attachment):
        return superseded_text(attachment)

    @admin.display(description="file")
    def download(self, attachment):
        return download_link(attachment)

    @admin.action(description="Supersede selected files (with a reason)…", permissions=["change"])
    def supersede_selected(self, request, queryset):
        if "apply" in request.POST:
            form = SupersedeForm(request.POST)
            if form.is_valid():
                done = for_each(
                    request,
                    queryset,
                    lambda attachment: services.attachment_supersede(
                        attachment=attachment,
                        actor=request.user,
                        reason=form.cleaned_data["reason"],
                    ),
                    name=lambda attachment: attachment.file_name,
                )
                if done:
                    messages.success(request, f"{done} file(s) superseded; both are kept.")
                return None
        else:
            form = SupersedeForm()
        context = {
            **self.admin_site.each_context(request),
            "title": "Supersede evidence files",
            "form": form,
            "queryset": queryset,
            "action_name": "supersede_selected",
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/incidents/incident/bulk_form.html", context)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="incidents_attachment_download",
            ),
        ] + super().get_urls()

    def download_view(self, request, object_id):
        """The file, after its download is recorded: 404 for a file one may not see."""
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        pk = parse_id(object_id)
        attachment = self.get_queryset(request).filter(pk=pk).first() if pk else None
        if attachment is None or not self.has_view_permission(request, attachment):
            raise Http404
        try:
            return download_response(attachment, request.user, AttachmentDownload.Via.ADMIN)
        except DomainError as exc:
            domain_error_message(request, exc)
            raise Http404(exc.message) from None


@admin.register(AttachmentDownload)
class AttachmentDownloadAdmin(AuditedAdmin):
    """The chain of custody of every file one may see: read-only."""

    list_display = ("at", "attachment", "user_name", "via")
    list_select_related = ("attachment", "user")
    list_filter = ("via",)
    user_name = person_column("user", "by")
    readonly_fields = ("attachment", "user_name", "at", "via")
    fields = readonly_fields

    def get_queryset(self, request):
        visible = queries.attachments_visible_to(request.user).values("pk")
        return super().get_queryset(request).filter(attachment__in=visible)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
