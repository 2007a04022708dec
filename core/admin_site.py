"""The admin site itself: rules every ModelAdmin on it keeps, ours and the libraries' alike.

`CaseAdminSite` is the default site (see `CaseAdminConfig`, named in INSTALLED_APPS
instead of `django.contrib.admin`). Every admin class registered on it, including those
that django-axes, DRF's tokens or django-tasks-db register, gets `AdminDoors` mixed in:

- list lookups in the query string are limited to the declared filters (Django's own
  `lookup_allowed` accepts any lookup on a local field, so `?reporter=<id>` on the incident
  list told whether that person reported an anonymous incident);
- history pages only answer GET and HEAD;

and the "view on site" shortcut (`/admin/r/<content type>/<id>/`) answers the same 404 for
an object the user may not see as for one that does not exist.
"""

from django.contrib.admin import AdminSite, ModelAdmin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.filters import (
    AllValuesFieldListFilter,
    BooleanFieldListFilter,
    ChoicesFieldListFilter,
    DateFieldListFilter,
    EmptyFieldListFilter,
    FieldListFilter,
    ListFilter,
    RelatedFieldListFilter,
    RelatedOnlyFieldListFilter,
    SimpleListFilter,
)
from django.contrib.admin.utils import get_fields_from_path, unquote
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import url_params_from_lookup_dict
from django.core.exceptions import PermissionDenied
from django.db.models import Field
from django.http import Http404, HttpResponseNotAllowed
from django.urls import path

from core import admin_nav
from core.roles import reads_only

READ_METHODS = ("GET", "HEAD")


def refuse_writes(request):
    """A 405 for anything but a read: history pages show what was, they never save."""
    if request.method not in READ_METHODS:
        return HttpResponseNotAllowed(READ_METHODS)
    return None


def _related_params(path_, field):
    return {f"{path_}__{field.target_field.name}__exact", f"{path_}__isnull"}


def _exact_params(path_, field):
    return {f"{path_}__exact", f"{path_}__isnull"}


def _date_params(path_, field):
    return {f"{path_}__gte", f"{path_}__lt"} | ({f"{path_}__isnull"} if field.null else set())


# The query-string parameters each of Django's field filters reads (their expected_parameters()),
# known without building the filter: building one runs its choices query.
FIELD_FILTER_PARAMS = {
    RelatedFieldListFilter: _related_params,
    RelatedOnlyFieldListFilter: _related_params,
    BooleanFieldListFilter: _exact_params,
    ChoicesFieldListFilter: _exact_params,
    DateFieldListFilter: _date_params,
    AllValuesFieldListFilter: lambda path_, field: {path_, f"{path_}__isnull"},
    EmptyFieldListFilter: lambda path_, field: {f"{path_}__isempty"},
}


def filter_parameters(model_admin, request, item):
    """The query-string parameters one `list_filter` entry declares."""
    if isinstance(item, type) and issubclass(item, SimpleListFilter):
        return {item.parameter_name}
    if isinstance(item, type) and issubclass(item, ListFilter):
        spec = item(request, {}, model_admin.model, model_admin)
        return set(spec.expected_parameters())
    path_, filter_class = item if isinstance(item, (list, tuple)) else (item, None)
    if isinstance(path_, Field):
        field, path_ = path_, path_.name
    else:
        field = get_fields_from_path(model_admin.model, path_)[-1]
    if filter_class is None:
        filter_class = next(c for test, c in FieldListFilter._field_list_filters if test(field))
    params = next(
        (FIELD_FILTER_PARAMS[c] for c in filter_class.__mro__ if c in FIELD_FILTER_PARAMS), None
    )
    if params is not None:
        return params(path_, field)
    spec = filter_class(field, request, {}, model_admin.model, model_admin, field_path=path_)
    return set(spec.expected_parameters())


class AdminDoors:
    """Mixed into every ModelAdmin on the site (by `CaseAdminSite.register`)."""

    def declared_lookups(self, request):
        """The lookups a changelist accepts: its filters' parameters and the date hierarchy's."""
        allowed = set()
        if self.date_hierarchy:
            allowed |= {f"{self.date_hierarchy}__{part}" for part in ("year", "month", "day")}
        for item in self.get_list_filter(request):
            allowed |= filter_parameters(self, request, item)
        return allowed

    def lookup_allowed(self, lookup, value, request=None):
        # The raw-id popup of a foreign key with limit_choices_to narrows the list by
        # those (declared) conditions; Django allows them for the same reason.
        for fk_lookup in self.model._meta.related_fkey_lookups:
            if callable(fk_lookup):
                fk_lookup = fk_lookup()
            if (lookup, value) in url_params_from_lookup_dict(fk_lookup).items():
                return True
        # Anything else is refused (DisallowedModelAdminLookup: a 400), whatever the field.
        return lookup in self.declared_lookups(request)

    def history_view(self, request, object_id, extra_context=None):
        return refuse_writes(request) or super().history_view(request, object_id, extra_context)

    # Compliance is read-only by every admin door (core.roles.reads_only); Django refuses a
    # POST to a change or add page, an action or a delete when these say no.
    def has_add_permission(self, request, *args, **kwargs):
        return not reads_only(request.user) and super().has_add_permission(request, *args, **kwargs)

    def has_change_permission(self, request, obj=None):
        return not reads_only(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not reads_only(request.user) and super().has_delete_permission(request, obj)


class LabelledAutocompleteView(AutocompleteJsonView):
    """Django's autocomplete (its doors unchanged: the source field must be an autocomplete
    field of a registered admin, the reader needs view permission on the target's admin),
    with each result's text from the target admin's `autocomplete_label(obj)` where it has
    one (people by name: core.admin.AuditedUserAdmin) rather than `str(obj)`.

    One door more: the reader must also hold the view permission of the field's own model
    (Django checks only the target's), so a list of people answers only someone who may see
    the records that name them.
    """

    def process_request(self, request):
        term, model_admin, source_field, to_field_name = super().process_request(request)
        opts = source_field.model._meta
        if not request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
            raise PermissionDenied
        return term, model_admin, source_field, to_field_name

    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        label = getattr(self.model_admin, "autocomplete_label", None)
        return {**result, "text": label(obj)} if label is not None else result


class CaseAdminSite(AdminSite):
    index_template = "admin/core/index.html"  # links the audit log (core/admin_audit.py)

    def _build_app_dict(self, request, label=None):
        """Django's app list (index, app pages, the navigation sidebar), plus the pages a
        ModelAdmin lists beside its model: `index_pages(request)` gives (name, object name,
        url) for each, e.g. the incident dashboard; shown as view-only rows of the app."""
        app_dict = super()._build_app_dict(request, label)
        for app in app_dict.values():
            pages = []
            for row in app["models"]:
                index_pages = getattr(self._registry.get(row["model"]), "index_pages", None)
                for name, object_name, url in index_pages(request) if index_pages else ():
                    pages.append(
                        {
                            "model": row["model"],
                            "name": name,
                            "object_name": object_name,
                            "perms": {"add": False, "change": False, "delete": False, "view": True},
                            "admin_url": url,
                            "add_url": None,
                            "view_only": True,
                        }
                    )
            app["models"].extend(pages)
        return app_dict

    def get_app_list(self, request, app_label=None):
        """Django's, once per kind of reader (core.admin_nav: the same permissions, language
        and prefix see the same list)."""
        return admin_nav.app_list(
            request, app_label, lambda: super(CaseAdminSite, self).get_app_list(request, app_label)
        )

    def autocomplete_view(self, request):
        return LabelledAutocompleteView.as_view(admin_site=self)(request)

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or ModelAdmin
        if not issubclass(admin_class, AdminDoors):
            admin_class = type(
                admin_class.__name__,
                (AdminDoors, admin_class),
                {"__module__": admin_class.__module__, "__qualname__": admin_class.__qualname__},
            )
        return super().register(model_or_iterable, admin_class, **options)

    def get_urls(self):
        # Ours first: it shadows Django's `r/` route of the same name.
        return [
            path(
                "r/<int:content_type_id>/<path:object_id>/",
                self.admin_view(self.view_on_site),
                name="view_on_site",
            ),
            path("audit-log/", self.admin_view(self.audit_log), name="audit_log"),
        ] + super().get_urls()

    def audit_log(self, request):
        from core.admin_audit import audit_log_view

        return audit_log_view(request, self)

    def view_on_site(self, request, content_type_id, object_id):
        """Django's shortcut, for objects the user may see in their admin; otherwise one 404."""
        from django.contrib.contenttypes.models import ContentType
        from django.contrib.contenttypes.views import shortcut

        try:
            model = ContentType.objects.get_for_id(content_type_id).model_class()
        except ContentType.DoesNotExist:
            model = None
        model_admin = self._registry.get(model)
        if model_admin is None or not model_admin.has_view_permission(request):
            raise Http404
        obj = model_admin.get_object(request, unquote(object_id))
        if (
            obj is None
            or not model_admin.has_view_permission(request, obj)
            or not hasattr(obj, "get_absolute_url")
        ):
            raise Http404
        return shortcut(request, content_type_id, obj.pk)


class CaseAdminConfig(AdminConfig):
    """django.contrib.admin with `CaseAdminSite` as `admin.site`."""

    default = False
    default_site = "core.admin_site.CaseAdminSite"
