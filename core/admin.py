"""Shared admin pieces: the audited base admin, a paginator that scales, users with history."""

import inspect

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connections, models
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from simple_history.admin import SimpleHistoryAdmin
from simple_history.utils import get_history_model_for_model

from core.admin_history import ReadableHistory
from core.admin_list import escaped
from core.admin_site import AdminDoors, refuse_writes
from core.errors import DomainError
from core.evidence import history_entries_by
from core.parsing import parse_id
from core.people import PERSON_SEARCH_FIELDS, people_visible_to, person_label
from core.second_factor import has_second_factor

# Reading any record's history (the admin's history pages and the API's /history/).
HISTORY_PERMISSION = "core.view_history"

# Below this many rows an exact COUNT(*) is cheap enough.
ESTIMATE_THRESHOLD = 50_000


class EstimatedCountPaginator(Paginator):
    """Counts an unfiltered PostgreSQL table from its planner estimate, exactly otherwise."""

    @cached_property
    def count(self):
        qs = self.object_list
        query = getattr(qs, "query", None)
        if query is not None and not query.where and not query.distinct:
            connection = connections[qs.db]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                        [qs.model._meta.db_table],
                    )
                    row = cursor.fetchone()
                if row and row[0] and row[0] > ESTIMATE_THRESHOLD:
                    return int(row[0])
        return super().count


def is_value_for(field, value):
    """Whether `value` (from a form or query string) can be stored in `field`: integer ids in
    ASCII digits within range (Python's int() takes "٣" as 3), others by the field's parsing."""
    if isinstance(field, models.IntegerField):  # AutoField and BigAutoField too
        return parse_id(value) is not None
    try:
        field.get_prep_value(field.to_python(value))
    except (ValidationError, ValueError, TypeError):
        return False
    return True


def _historical_m2m(field, record):
    """Shows a many-to-many field as the history recorded it at that version (`record`)."""

    def display(_instance):
        target = field.m2m_reverse_field_name()
        names = sorted(str(getattr(row, target)) for row in getattr(record, field.name).all())
        return ", ".join(names) or "—"

    display.short_description = capfirst(field.verbose_name)
    return display


def is_person_field(db_field):
    return db_field.is_relation and db_field.related_model is get_user_model()


class PeopleByName:
    """Every field that names a person offers and shows them by name (`person_label`), not
    by the bare username `str(user)` is: the selected value of an autocomplete, a drop-down's
    choices, a multiple choice. Mixed into AuditedAdmin and into the inlines that name people."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None and is_person_field(db_field):
            formfield.label_from_instance = person_label
        return formfield


def person_column(field_name, description=None):
    """A list column or read-only field showing the person in `field_name` by name; declare it
    on the admin or inline (`owner_name = person_column("owner")`) and name it in its fields."""

    def show(_admin, obj):
        user = getattr(obj, field_name)
        return person_label(user) if user is not None else "—"

    show.__name__ = f"{field_name}_name"
    return admin.display(
        description=description or field_name.replace("_", " "),
        ordering=f"{field_name}__last_name",
    )(show)


class PersonFilter(admin.RelatedOnlyFieldListFilter):
    """A filter on a person: only the people who occur in the list (not every account), by name."""

    def field_choices(self, field, request, model_admin):
        people = (
            model_admin.get_queryset(request)
            .exclude(**{f"{self.field_path}__isnull": True})
            .values(f"{self.field_path}__pk")
        )
        users = people_visible_to(request.user).filter(pk__in=people)
        return [(user.pk, person_label(user)) for user in users]


class AuditedAdmin(PeopleByName, AdminDoors, ReadableHistory, SimpleHistoryAdmin):
    """Base admin for every model of ours: history pages (read-only, for those who may read
    history, of rows they may see, in words: core.admin_history), cheap changelists, declared
    filters only."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50

    def action_checkbox(self, obj):
        """Django's row checkbox, the same markup without a form-renderer template per row
        (which was a sixth of a 50-row changelist)."""
        # format_html's result, the parts escaped here (it ran twice a row): the translated
        # sentence as it stands, the record's name escaped in it.
        label = _("Select this object for an action - {}").format(escaped(str(obj)))
        return mark_safe(
            f'<input type="checkbox" name="{helpers.ACTION_CHECKBOX_NAME}" '
            f'value="{escaped(obj.pk)}" class="action-select" aria-label="{label}">'
        )

    def response_action(self, request, queryset):
        """Run an action only on selected ids the primary key can hold.

        Django filters `pk__in` with the posted `_selected_action` values as they are: "²" or
        "abc" make the query raise (a 500), "٣" quietly means 3. Drop what is not an id; with
        nothing left Django says that items must be selected.
        """
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        valid = [value for value in selected if is_value_for(self.model._meta.pk, value)]
        if len(valid) != len(selected):
            request.POST = request.POST.copy()
            request.POST.setlist(helpers.ACTION_CHECKBOX_NAME, valid)
        return super().response_action(request, queryset)

    def get_changeform_initial_data(self, request):
        """Django's initial values from the query string (`add/?incident=3`), without ids that
        cannot exist: the related-object widget looked "²" up and the add page answered 500."""
        initial = super().get_changeform_initial_data(request)
        for name, value in list(initial.items()):
            try:
                field = self.model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            values = value if isinstance(value, list) else [value]
            if field.is_relation and not all(is_value_for(field.target_field, v) for v in values):
                del initial[name]
        return initial

    # History pages are evidence: nobody reverts or edits through them (simple-history's
    # form view saved its form on POST with only view permission).
    def revert_disabled(self, request, obj=None):
        return True

    def has_change_history_permission(self, request, obj=None):
        return False

    def has_view_history_permission(self, request, obj=None):
        return self.has_view_permission(request, obj) and request.user.has_perm(HISTORY_PERMISSION)

    def has_view_history_or_change_history_permission(self, request, obj=None):
        return self.has_view_history_permission(request, obj)

    def _visible_or_404(self, request, object_id):
        # simple-history falls back to the last historical record when the object is
        # outside get_queryset(); that would leak records the user may not see.
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_view_history_permission(request, obj):
            raise PermissionDenied
        return obj

    def history_view(self, request, object_id, extra_context=None):
        refused = refuse_writes(request)
        if refused:
            return refused
        obj = self._visible_or_404(request, object_id)
        return self.render_readable_history(request, obj, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """One historical version, every field read-only; GET only, never saves."""
        refused = refuse_writes(request)
        if refused:
            return refused
        request.current_app = self.admin_site.name
        current = self._visible_or_404(request, object_id)
        history = getattr(self.model, self.opts.simple_history_manager_attribute)
        try:
            record = history.get(**{self.opts.pk.attname: current.pk, "history_id": version_id})
        except (history.model.DoesNotExist, ValueError, ValidationError):
            raise Http404 from None
        obj = record.instance
        obj._state.adding = False
        fieldsets = self.historical_fieldsets(request, obj, record)
        form = forms.modelform_factory(self.model, fields=())(instance=obj)
        admin_form = helpers.AdminForm(
            form, fieldsets, {}, flatten_fieldsets(fieldsets), model_admin=self
        )
        url = f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}"
        context = {
            **self.admin_site.each_context(request),
            "title": _("View %s") % obj,
            "adminform": admin_form,
            "object_id": object_id,
            "original": obj,
            "is_popup": False,
            "media": self.media + admin_form.media,
            "errors": helpers.AdminErrorList(form, []),
            "app_label": self.opts.app_label,
            "original_opts": self.opts,
            "opts": record._meta,
            "changelist_url": reverse(f"{url}_changelist"),
            "change_url": reverse(f"{url}_change", args=(current.pk,)),
            "history_url": reverse(f"{url}_history", args=(current.pk,)),
            "change_history": False,
            "revert_disabled": True,
            "add": False,
            "change": True,
            "has_add_permission": False,
            "has_view_permission": True,
            "has_change_permission": False,
            "has_delete_permission": False,
            "has_editable_inline_admin_formsets": False,
            "has_file_field": False,
            "has_absolute_url": False,
            "form_url": "",
            "save_as": False,
            "save_on_top": False,
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.object_history_form_template, context)

    def historical_fieldsets(self, request, obj, record):
        """The change page's fieldsets as the history recorded them: fields the history
        does not keep (a password hash, say) are left out, since `record.instance` would
        fill them from the live row; many-to-many fields come from the history's own table."""
        history_model = get_history_model_for_model(self.model)
        recorded = {f.name for f in history_model._meta.fields}
        m2m_recorded = {f.name for f in getattr(history_model, "_history_m2m_fields", ())}
        result = []
        for name, options in self.get_fieldsets(request, obj):
            fields = []
            for field_name in flatten_fieldsets([(name, options)]):
                try:
                    field = self.opts.get_field(field_name)
                except FieldDoesNotExist:
                    fields.append(field_name)  # an admin or model method: shown as is
                    continue
                if field.many_to_many and field.name in m2m_recorded:
                    fields.append(_historical_m2m(field, record))
                elif field.concrete and not field.many_to_many and field.name in recorded:
                    fields.append(field_name)
            if fields:
                result.append((name, {**options, "fields": fields}))
        return result


def domain_error_message(request, exc, *, about=""):
    """A service's refusal (a DomainError, or a model ValidationError) as a message on the page;
    `about` names the record it concerns (an action run over several: "INC-2026-0007: …")."""
    lead = f"{about}: " if about else ""
    texts = exc.messages if isinstance(exc, ValidationError) else [exc.message]
    for text in texts:
        messages.error(request, lead + text)


def run_service(request, service, /, **kwargs):
    """Call `service(actor=request.user, **kwargs)` for a button or an action; a refusal becomes
    a message on the page and None is returned (the service's transaction saved nothing)."""
    try:
        return service(actor=request.user, **kwargs)
    except (DomainError, ValidationError) as exc:
        domain_error_message(request, exc)
        return None


class ServiceAdmin(AuditedAdmin):
    """The one admin shape for a model whose writes go through services.

    Declare `create_service` and `update_service` (functions of the app's `services`, taking
    the acting user as `actor`, the record as `service_object` — the model's name by default —
    and the form's fields as keywords) and `service_fields` (the fields the form hands over).
    The add and change forms then save through the services only: the rules, the permission
    check and the history reason are theirs. A refusal after the form validated is a message on
    the page, and Django's transaction around the form keeps nothing it saved before.
    Many-to-many fields in `service_fields` are handed to the service too (it stores them), so
    the form's own `save_m2m` is not run; inlines are saved as usual.
    """

    create_service = None
    update_service = None
    service_fields = ()
    service_object = None
    change_reason = "Edited in the admin"

    def service_data(self, request, form, change):
        """The keywords the service receives: on a change only what the form changed."""
        names = [name for name in self.service_fields if name in form.cleaned_data]
        if change:
            names = [name for name in names if name in form.changed_data]
        return {name: form.cleaned_data[name] for name in names}

    @classmethod
    def update_service_takes_reason(cls):
        """Whether `update_service` names a `reason` (then the history says `change_reason`)."""
        if "_takes_reason" not in cls.__dict__:
            cls._takes_reason = "reason" in inspect.signature(cls.update_service).parameters
        return cls._takes_reason

    def save_model(self, request, obj, form, change):
        data = self.service_data(request, form, change)
        if change:
            if data:
                target = self.service_object or self.opts.model_name
                if self.update_service_takes_reason():
                    data.setdefault("reason", self.change_reason)
                type(self).update_service(**{target: obj}, actor=request.user, **data)
            return
        created = type(self).create_service(actor=request.user, **data)
        obj.pk = created.pk
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            self.save_formset(request, form, formset, change)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (DomainError, ValidationError) as exc:
            domain_error_message(request, exc)
            return redirect(request.get_full_path())


class NoWrites:
    """Offers no add, change or delete: the rows are written only by services elsewhere."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(NoWrites, AuditedAdmin):
    """Rows written only by services elsewhere (notices, clocks, outbox, custody): shown, never
    added, changed or deleted from the admin."""


class ReadOnlyInline(NoWrites):
    """An inline that shows related rows and offers no add, change or delete."""

    extra = 0
    can_delete = False


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class AuditedUserAdmin(UserAdmin, AuditedAdmin):
    list_display = ("username", "first_name", "last_name", "email", "is_staff", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    # Every person chooser (autocomplete_fields naming a user) searches these, and shows
    # each result as `autocomplete_label` (CaseAdminSite's autocomplete view).
    search_fields = PERSON_SEARCH_FIELDS
    ordering = ("last_name", "first_name", "username")
    fieldsets = (*UserAdmin.fieldsets, ("Second factor", {"fields": ("second_factor",)}))
    readonly_fields = ("second_factor",)

    @admin.display(description="Authenticator app")
    def second_factor(self, user):
        """Whether the person has one, and the reset page (which asks for
        `core.reset_second_factor` and a reason)."""
        if user.pk is None:
            return "–"
        if not has_second_factor(user):
            return "Not set up"
        url = reverse("second-factor-admin-reset", args=[user.pk])
        return format_html('Set up · <a href="{}">Reset…</a>', url)

    @staticmethod
    def autocomplete_label(user):
        return person_label(user)

    def get_deleted_objects(self, objs, request):
        """A person the history names as having made a change is kept (the audit trail needs
        them): the delete page says why and what to do, and deletes nothing."""
        users = list(objs)
        named = history_entries_by([user.pk for user in users])
        if not named:
            return super().get_deleted_objects(objs, request)
        protected = [
            ngettext(
                "%(user)s: named in %(n)d audit history entry as the person who made the change. "
                "The audit history keeps everyone it names: deactivate the account instead "
                "(untick “Active”).",
                "%(user)s: named in %(n)d audit history entries as the person who made the "
                "change. The audit history keeps everyone it names: deactivate the account "
                "instead (untick “Active”).",
                named[user.pk],
            )
            % {"user": user.get_username(), "n": named[user.pk]}
            for user in users
            if user.pk in named
        ]
        return [], {}, set(), protected


class EvidenceBundleAdmin:
    """The record's evidence bundle (core.bundles) from the admin: a page
    `…/<id>/evidence/` that downloads it, and a list action for one selected record.

    The record is found through the admin's own `get_queryset` (so what the reader may not
    see there, they may not export), and the bundle needs what the history needs
    (`core.view_history`). The model admin says what goes in: `evidence_bundle(request, obj)`."""

    evidence_permission = "core.view_history"

    def evidence_bundle(self, request, obj):
        raise NotImplementedError

    def may_export_evidence(self, request):
        return request.user.has_perm(self.evidence_permission)

    def get_urls(self):
        from django.urls import path

        opts = self.model._meta
        return [
            path(
                "<path:object_id>/evidence/",
                self.admin_site.admin_view(self.evidence_view),
                name=f"{opts.app_label}_{opts.model_name}_evidence",
            )
        ] + super().get_urls()

    def evidence_view(self, request, object_id):
        from core import bundles

        obj = self.get_object(request, unquote(object_id))
        if obj is None or not self.has_view_permission(request, obj):
            raise Http404
        if not self.may_export_evidence(request):
            raise PermissionDenied
        return bundles.response(self.evidence_bundle(request, obj))

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.may_export_evidence(request):
            actions["download_evidence"] = self.get_action("download_evidence")
        return actions

    @admin.action(description="Download the evidence bundle (one record)")
    def download_evidence(self, request, queryset):
        chosen = list(queryset.values_list("pk", flat=True)[:2])
        if len(chosen) != 1:
            self.message_user(
                request, "Choose exactly one record to download its evidence bundle.",
                messages.WARNING,
            )
            return None
        return self.evidence_view(request, str(chosen[0]))
# django-otp's own device admins would add and change devices outside our services (and so
# outside the reasons the history needs): devices are made by enrolment and removed by reset
# (core/second_factor.py); their history is in the audit log.
for _otp_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_otp_model):
        admin.site.unregister(_otp_model)
