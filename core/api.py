"""Shared API building blocks: pagination, audited views, history endpoints, ETags, permissions."""

import hashlib
import json

from django.core.exceptions import ObjectDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from simple_history.models import HistoricalRecords

from core import audit, bundles, history_diff
from core.audit_api import CSVNegotiation, wants_csv
from core.errors import StaleEdit
from core.exports import csv_response
from core.pagination import StandardPagination  # noqa: F401  (re-exported)
from core.parsing import parse_id
from core.services import mark_locked
from core.validators import safe_href


class ModelPermissions(permissions.DjangoModelPermissions):
    """Django model permissions, with `view` required to read.

    A method the endpoint does not offer answers 405 to everyone: DRF checks
    permissions before it looks for a handler, so without this a DELETE from
    someone lacking the delete permission would be a 403, not 405.
    """

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
    }

    def has_permission(self, request, view):
        if request.method not in view.allowed_methods:
            return True
        return super().has_permission(request, view)


class OfferedMethodsFirstMixin:
    """A method the endpoint does not offer answers 405 to anyone signed in, before any other
    permission is checked (anonymous clients still get 401/403 first).

    DRF checks permissions before it looks for a handler, so a DELETE on `…/history/` from
    someone the action's own permission refuses answered 403 (`ModelPermissions` covers only
    the viewsets' default permission, not an action's `permission_classes`).
    """

    def check_permissions(self, request):
        if request.method not in self.allowed_methods and request.user.is_authenticated:
            self.http_method_not_allowed(request)
        super().check_permissions(request)


class AuditedViewMixin(OfferedMethodsFirstMixin):
    """Makes the API's authenticated user (token or session) the history user of every save.

    Django's middleware sees only session users; DRF authenticates tokens later,
    so we hand simple-history the DRF request once authentication has run.
    """

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        HistoricalRecords.context.request = request

    def filter_queryset(self, queryset):
        """Filters, search and ordering narrow lists; one record is found by its id in what
        `get_queryset` lets the reader see, whatever the query string (building the list's
        filter form for every single read was a sixth of an incident's detail read)."""
        if getattr(self, "detail", False):
            return queryset
        return super().filter_queryset(queryset)


# The one diff engine and mask (core.history_diff); `history_entries` re-exported for callers.
history_entries = history_diff.history_entries


HistoryEntrySerializer = inline_serializer(
    name="HistoryEntry",
    many=True,
    fields={
        "history_id": serializers.IntegerField(),
        "history_date": serializers.DateTimeField(),
        "history_user": serializers.IntegerField(allow_null=True),
        "history_user_name": serializers.CharField(allow_null=True),
        "history_type": serializers.ChoiceField(choices=["created", "changed", "deleted"]),
        "history_change_reason": serializers.CharField(allow_null=True),
        "changes": serializers.DictField(
            child=inline_serializer(
                name="HistoryChange",
                fields={"old": serializers.JSONField(), "new": serializers.JSONField()},
            )
        ),
    },
)


class HistoryPermission(permissions.BasePermission):
    """History is for compliance and coordinators: those holding the history view permission."""

    def has_permission(self, request, view):
        return request.user.has_perm(view.history_permission)


class HistoryMixin:
    """Adds a read-only `…/{id}/history/` action to a viewset.

    Visibility follows `get_object()`: what a user may not see, they may not
    see the history of. Override `history_mask(instance)` to hide values or people
    from this request's reader (the admin's history pages use the same mask).
    """

    history_permission = "core.view_history"

    def history_mask(self, instance):
        return history_diff.NO_MASK

    @extend_schema(responses=HistoryEntrySerializer, filters=False)
    @action(
        detail=True,
        methods=["get"],
        url_path="history",
        filter_backends=[],
        permission_classes=[permissions.IsAuthenticated, HistoryPermission],
        content_negotiation_class=CSVNegotiation,  # `?format=csv`: the audit log's columns
    )
    def history(self, request, *args, **kwargs):
        instance = self.get_object()
        if wants_csv(request):
            return csv_response(
                filename=f"{instance._meta.label_lower}-{instance.pk}-history.csv",
                header=audit.CSV_HEADER,
                rows=audit.record_csv_rows(instance, self.history_mask(instance)),
            )
        queryset = instance.history.select_related("history_user").order_by(
            "-history_date", "-history_id"
        )
        paginator = self.paginator
        page = paginator.paginate_queryset(queryset, request, view=self)
        previous = None
        if page:
            last = page[-1]
            previous = (
                instance.history.filter(history_date__lte=last.history_date)
                .exclude(history_id=last.history_id)
                .exclude(history_date=last.history_date, history_id__gt=last.history_id)
                .order_by("-history_date", "-history_id")
                .first()
            )
        entries = history_entries(page or [], previous, mask=self.history_mask(instance))
        return paginator.get_paginated_response(entries)


class ZipNegotiation(DefaultContentNegotiation):
    """Lets `Accept: application/zip` reach the evidence action, which streams the zip itself;
    what DRF renders on such a request (a 403, 404) is JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if "application/zip" in request.headers.get("Accept", ""):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


class EvidenceMixin:
    """Adds `…/{id}/evidence/` to a viewset: the record's evidence bundle (core.bundles), a
    zip streamed in constant memory. It holds the record's history, so it needs what the
    history needs (`history_permission`), and visibility follows `get_object()`. The viewset
    says what goes in: `evidence_bundle(instance)`."""

    history_permission = "core.view_history"

    def evidence_bundle(self, instance):
        raise NotImplementedError

    @extend_schema(
        responses={(200, "application/zip"): OpenApiTypes.BINARY}, filters=False, parameters=[]
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="evidence",
        filter_backends=[],
        permission_classes=[permissions.IsAuthenticated, HistoryPermission],
        content_negotiation_class=ZipNegotiation,
    )
    def evidence(self, request, *args, **kwargs):
        """The evidence bundle: a zip with manifest.json (SHA-256 of every file), a PDF, the
        history and verify.py (docs/evidence.md, "Evidence bundles")."""
        return bundles.response(self.evidence_bundle(self.get_object()))


def stored_row(instance):
    """The record as the database holds it: every column, and the ids of its many-to-many
    links (a plan's audience).

    Read from `instance` itself when it was loaded whole (a detail read loads its row once);
    otherwise, and for links not prefetched, from the database.
    """
    model = type(instance)
    opts = model._meta
    columns = [f.attname for f in opts.concrete_fields]
    if instance.pk is not None and not instance.get_deferred_fields():
        row = {name: getattr(instance, name) for name in columns}
    else:
        row = model._base_manager.filter(pk=instance.pk).values(*columns).first() or {}
    prefetched = getattr(instance, "_prefetched_objects_cache", {})
    for field in opts.many_to_many:
        if field.name in prefetched:
            row[field.name] = sorted(related.pk for related in prefetched[field.name])
            continue
        row[field.name] = sorted(
            model._base_manager.filter(pk=instance.pk)
            .exclude(**{f"{field.name}__isnull": True})
            .values_list(f"{field.name}__pk", flat=True)
        )
    return {"model": opts.label_lower, **row}


def etag_for(instance):
    """A strong validator of the stored record, not of its representation.

    Representations carry values computed from the clock (an incident's response-target
    states turn "at risk", then "breached"): an ETag hashing them changed with no edit, and a
    client got a false 412. Every edit changes a column (or a link), so hashing the stored
    row changes exactly when the record does.
    """
    payload = json.dumps(stored_row(instance), sort_keys=True, cls=DjangoJSONEncoder).encode()
    return '"' + hashlib.sha256(payload).hexdigest()[:32] + '"'


def check_if_match(request, instance):
    """412 when the client's If-Match no longer matches the stored record."""
    if_match = request.headers.get("If-Match")
    if if_match:
        tags = {tag.strip() for tag in if_match.split(",")}
        if "*" not in tags and etag_for(instance) not in tags:
            raise StaleEdit("The record changed since you read it; reload and retry.")


def with_etag(data, instance, status_code=200):
    """A response carrying `data` and the ETag of the stored `instance` it shows."""
    response = Response(data, status=status_code)
    response["ETag"] = etag_for(instance)
    return response


class ETagMixin:
    """Detail responses carry an ETag; a PATCH/PUT with a stale If-Match answers 412.

    The ETag is that of the stored row (`etag_for`), whatever serializer shows it.
    """

    read_serializer_class = None

    def read_representation(self, instance):
        serializer_class = self.read_serializer_class or self.get_serializer_class()
        return serializer_class(instance, context=self.get_serializer_context()).data

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        return with_etag(self.read_representation(instance), instance)

    def update(self, request, *args, **kwargs):
        with transaction.atomic():
            instance = self.get_object_for_update()
            check_if_match(request, instance)
            # UpdateModelMixin's update reads the object again; hand it the locked one.
            self.get_object = lambda: instance
            try:
                response = super().update(request, *args, **kwargs)
            finally:
                del self.get_object
        if isinstance(response, Response) and response.status_code == 200:
            return self.respond(instance)
        return response

    def lock_requested_row(self):
        """Lock the row the URL names, before it is read, where the database can (PostgreSQL;
        SQLite's write transactions are serialised already). Reads nothing of it."""
        lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        pk = parse_id(lookup) if lookup is not None else None
        if pk is None:
            return
        model = self.get_queryset().model
        list(model._base_manager.select_for_update().filter(pk=pk).values_list("pk"))

    def get_object_for_update(self):
        """The object as this reader may see it, locked for the rest of the transaction,
        read once (after the lock, so what the rules see is current); the service's own `lock`
        takes it as it is (core.services.mark_locked)."""
        self.lock_requested_row()
        return mark_locked(self.get_object())

    def respond(self, instance, status_code=200):
        """The record as the detail shows it after a write, read back once through the
        viewset's queryset (its annotations and prefetches), with its ETag; 204 when the write
        took it out of the writer's sight (an intake member naming a confidential incident's
        manager hands it to its team: it is saved, and there is nothing they may be shown)."""
        try:
            instance = self.get_queryset().get(pk=instance.pk)
        except ObjectDoesNotExist:
            return Response(status=204)
        return with_etag(self.read_representation(instance), instance, status_code)


class offered_with:
    """A viewset method that exists only on viewsets declaring the service it calls.

    DRF's router maps a method to an action (and the schema documents it) only where
    `hasattr(viewset, action)`: a viewset without `create_service` has no `create`, so a POST
    on its list answers 405 to everyone, as for any method an endpoint does not offer.
    """

    def __init__(self, service_attribute):
        self.service_attribute = service_attribute

    def __call__(self, function):
        self.function = function
        return self

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, instance, owner=None):
        owner = owner or type(instance)
        if getattr(owner, self.service_attribute, None) is None:
            raise AttributeError(self.name)
        return self.function if instance is None else self.function.__get__(instance, owner)


def documented_writes(read, *, create=None, update=None):
    """The OpenAPI shapes of a ServiceViewSet's create and PATCH: their input, then `read`
    (the detail the view answers with)."""
    shapes = {}
    if create is not None:
        shapes["create"] = extend_schema(request=create, responses={201: read})
    if update is not None:
        shapes["partial_update"] = extend_schema(request=update, responses=read)
    return extend_schema_view(**shapes)


class ServiceViewSet(
    AuditedViewMixin,
    HistoryMixin,
    ETagMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The one API view shape (NetBox's `NetBoxModelViewSet`): declare, do not write.

    - `get_queryset()` (from the app's `queries`), `serializer_class` (reads; a
      `list_serializer_class` for the list where it differs), `write_serializer_class`
      (the input of create and PATCH);
    - `create_service` and `update_service`: the app's services, called with the acting
      user as `actor`, the record as `service_object` (the model's name by default) and the
      validated input as keywords (`service_arguments` reshapes it where needed).

    Create validates, calls the service and answers 201 with the detail read back once.
    PATCH locks the row, reads it once, checks If-Match on it (412 when stale), validates,
    calls the service and answers the detail with its new ETag, all in one transaction.
    A viewset without `create_service` or `update_service` offers neither.
    """

    permission_classes = [permissions.IsAuthenticated, ModelPermissions]
    http_method_names = ["get", "post", "patch", "head", "options"]
    list_serializer_class = None
    write_serializer_class = None
    create_service = None
    update_service = None
    service_object = None

    def get_serializer_class(self):
        if self.action == "list" and self.list_serializer_class is not None:
            return self.list_serializer_class
        if self.action in ("create", "partial_update") and self.write_serializer_class:
            return self.write_serializer_class
        return super().get_serializer_class()

    def read_representation(self, instance):
        serializer_class = self.read_serializer_class or self.serializer_class
        return serializer_class(instance, context=self.get_serializer_context()).data

    def service_arguments(self, data, instance=None):
        """The service's keywords from the validated input (override to rename or drop)."""
        return dict(data)

    def write_serializer(self, *, data, instance=None):
        return self.write_serializer_class(
            instance, data=data, partial=instance is not None, context=self.get_serializer_context()
        )

    @offered_with("create_service")
    def create(self, request, *args, **kwargs):
        serializer = self.write_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = type(self).create_service(
            actor=request.user, **self.service_arguments(serializer.validated_data)
        )
        return self.respond(instance, status.HTTP_201_CREATED)

    @offered_with("update_service")
    @transaction.atomic  # the If-Match check and the write see the same locked row
    def partial_update(self, request, *args, **kwargs):
        instance = self.get_object_for_update()
        check_if_match(request, instance)
        serializer = self.write_serializer(data=request.data, instance=instance)
        serializer.is_valid(raise_exception=True)
        target = self.service_object or instance._meta.model_name
        instance = type(self).update_service(
            **{target: instance},
            actor=request.user,
            **self.service_arguments(serializer.validated_data, instance),
        )
        return self.respond(instance)


class SafeLinkField(serializers.CharField):
    """A link as clients may put it in an href: a stored unsafe one (from before links were
    validated, see core.validators) reads as "" rather than as a `javascript:` URL."""

    def to_representation(self, value):
        return safe_href(value) or ""
