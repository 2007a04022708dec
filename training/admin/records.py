"""Admin of training records: the record form, marking records, the sign-in sheet import."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from core.admin import ServiceAdmin, domain_error_message, person_column
from core.errors import DomainError
from core.people import person_label

from .. import imports, queries, services
from ..models import Record

RECORD_FIELDS = ("user", "session", "status", "completed_at", "score")
ADDED, EDITED = "Added in the admin", "Edited in the admin"


class RecordForm(forms.ModelForm):
    """A result entered without a time gets the service's default (the session's end)."""

    class Meta:
        model = Record
        fields = RECORD_FIELDS

    def clean(self):
        data = super().clean()
        session = data.get("session") or getattr(self.instance, "session", None)
        if (
            data.get("status") in Record.RESULT_STATUSES
            and not data.get("completed_at")
            and session is not None
        ):
            data["completed_at"] = self.instance.completed_at or services.default_completion_time(
                session, timezone.now()
            )
            self.instance.completed_at = data["completed_at"]
        return data


def mark_records(request, records, service, label):
    """Apply `service` (mark_attended, mark_completed) to `records` and say how it went."""
    changed, refused = service(records=list(records), actor=request.user)
    if changed:
        messages.success(request, f"{len(changed)} record(s) marked {label}.")
    for record, why in refused[:20]:
        messages.warning(request, f"{person_label(record.user)} · {record.session}: {why}")
    if len(refused) > 20:
        messages.warning(request, f"… and {len(refused) - 20} more refused.")
    if not changed and not refused:
        messages.info(request, "Nothing to mark.")


class ImportForm(forms.Form):
    sheet = forms.FileField(
        required=False,
        help_text=(
            "CSV: username, session (its id, or its title and date: Tabletop 2026-03-14), "
            "status[, completed_at, score]."
        ),
    )
    # The previewed text, posted back to confirm; it is parsed and checked again.
    content = forms.CharField(required=False, widget=forms.HiddenInput)
    source = forms.CharField(required=False, widget=forms.HiddenInput)

    MAX_BYTES = 2 * 1024 * 1024

    def clean(self):
        data = super().clean()
        upload = data.get("sheet")
        if upload is not None:
            if upload.size > self.MAX_BYTES:
                raise forms.ValidationError("The file is larger than 2 MB.")
            try:
                data["content"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise forms.ValidationError("The file is not UTF-8 text.") from exc
            data["source"] = upload.name.replace("\x00", "")[:200]
        if not data.get("content"):
            raise forms.ValidationError("Choose a CSV file.")
        return data


@admin.register(Record)
class RecordAdmin(ServiceAdmin):
    list_display = (
        "user_name",
        "session",
        "course_title",
        "status",
        "completed_at",
        "score",
        "valid_until",
    )
    list_filter = ("status", "session__course")
    list_select_related = ("user", "session", "session__course")
    search_fields = (
        "user__username",
        "user__first_name",
        "user__last_name",
        "user__email",
        "session__course__title",
    )
    autocomplete_fields = ("user", "session")
    user_name = person_column("user", "person")
    ordering = ("-created_at", "-id")
    actions = ("mark_attended", "mark_completed")
    form = RecordForm
    fields = (*RECORD_FIELDS, "valid_until")
    readonly_fields = ("valid_until",)
    service_fields = RECORD_FIELDS
    create_service = services.record_register
    update_service = services.record_update
    change_list_template = "admin/training/record/change_list.html"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if not queries.can_see_all_records(request.user):
            qs = qs.filter(user=request.user)
        return qs

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ("user_name", "session", "valid_until")
        return self.readonly_fields

    def get_fields(self, request, obj=None):
        # A record stays with its person, shown by name.
        fields = super().get_fields(request, obj)
        return [("user_name" if name == "user" else name) for name in fields] if obj else fields

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="course", ordering="session__course__title")
    def course_title(self, record):
        return record.session.course.title

    def service_data(self, request, form, change):
        data = super().service_data(request, form, change)
        if data:
            data["reason"] = EDITED if change else ADDED
        return data

    @admin.action(description="Mark selected records attended", permissions=["change"])
    def mark_attended(self, request, queryset):
        records = queryset.select_related("session", "user")
        mark_records(request, records, services.mark_attended, "attended")

    @admin.action(description="Mark selected records completed", permissions=["change"])
    def mark_completed(self, request, queryset):
        records = queryset.select_related("session", "user")
        mark_records(request, records, services.mark_completed, "completed")

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="training_record_import",
            ),
        ] + super().get_urls()

    def import_view(self, request):
        """Upload a sign-in sheet, see every row checked, then confirm: all rows or none."""
        if not request.user.has_perm("training.import_attendance"):
            raise PermissionDenied
        form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
        rows, sheet_error = None, None
        if request.method == "POST" and form.is_valid():
            content, source = form.cleaned_data["content"], form.cleaned_data["source"]
            try:
                rows = imports.sheet_rows(content)
            except imports.SheetError as exc:
                sheet_error = str(exc)
            if rows is not None and "confirm" in request.POST and not any(r.errors for r in rows):
                done = _import(request, rows, source)
                if done is not None:
                    messages.success(
                        request, f"Imported {done} row(s) from {source or 'the sheet'}."
                    )
                    return redirect("admin:training_record_changelist")
            form = ImportForm(initial={"content": content, "source": source})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import attendance",
            "form": form,
            "rows": rows,
            "sheet_error": sheet_error,
            "has_errors": bool(rows) and any(r.errors for r in rows),
            "error_count": sum(1 for r in rows or () if r.errors),
        }
        return TemplateResponse(request, "admin/training/record/import.html", context)


def _import(request, rows, source):
    """Import the checked `rows`; how many were created or updated, or None when refused (the
    rows then carry the errors found while importing, shown in the preview)."""
    try:
        services.import_attendance(actor=request.user, rows=rows, source=source)
    except services.ImportRejected as exc:
        messages.error(request, exc.message)
        return None
    except DomainError as exc:
        domain_error_message(request, exc)
        return None
    return sum(1 for row in rows if row.action in ("created", "updated"))
