"""Shared API building blocks: pagination, audited views, history endpoints, ETags, permissions."""

import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from simple_history.models import HistoricalRecords

from core.errors import StaleEdit
from core.pagination import StandardPagination  # noqa: F401  (re-exported)
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


HISTORY_META_FIELDS = {
    "history_id",
    "history_date",
    "history_user",
    "history_user_id",
    "history_type",
    "history_change_reason",
    "history_relation",
}


def _fields(record):
    """(name shown, attribute read) for each tracked column: foreign keys by name, their id as value."""
    return [
        (f.name, f.attname)
        for f in type(record)._meta.concrete_fields
        if f.attname not in HISTORY_META_FIELDS and f.name not in HISTORY_META_FIELDS
    ]


def _plain(value):
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def m2m_names(history_model):
    """Names of the many-to-many fields a historical model tracks."""
    return [field.name for field in getattr(history_model, "_history_m2m_fields", [])]


def _m2m_snapshot(records):
    """{(history_id, m2m name): sorted related ids} for the given historical records, one query per field."""
    records = [r for r in records if r is not None]
    if not records:
        return {}
    history_model = type(records[0])
    tracked = records[0].instance_type
    ids = [r.history_id for r in records]
    snapshot = {(hid, name): [] for hid in ids for name in m2m_names(history_model)}
    for name in m2m_names(history_model):
        through = getattr(records[0], name).model
        target = next(
            f
            for f in through._meta.fields
            if f.is_relation and f.name != "history" and f.related_model is not tracked
        )
        for hid, target_id in through.objects.filter(history_id__in=ids).values_list(
            "history_id", target.attname
        ):
            snapshot[(hid, name)].append(target_id)
    return {key: sorted(values) for key, values in snapshot.items()}


def _value(record, name, attname, m2m):
    if record is None:
        return None
    if (record.history_id, name) in m2m:
        return m2m[(record.history_id, name)]
    return getattr(record, attname)


def history_entries(records, previous, *, hidden_fields=()):
    """Turn history records (newest first) into entries with the fields that changed.

    `previous` is the record just older than the last one in `records` (or None).
    Fields in `hidden_fields` are never shown, neither old nor new values.
    """
    records = list(records)
    older = records[1:] + [previous]
    m2m = _m2m_snapshot([*records, previous])
    entries = []
    for record, before in zip(records, older, strict=True):
        changes = {}
        names = _fields(record) + [(name, name) for name in m2m_names(type(record))]
        for name, attname in names:
            if name in hidden_fields or attname in hidden_fields:
                continue
            new = _value(record, name, attname, m2m)
            old = _value(before, name, attname, m2m)
            if record.history_type == "+" or before is None:
                if new not in (None, "", []):
                    changes[name] = {"old": None, "new": _plain(new)}
            elif old != new:
                changes[name] = {"old": _plain(old), "new": _plain(new)}
        entries.append(
            {
                "history_id": record.history_id,
                "history_date": record.history_date,
                "history_user": record.history_user_id,
                "history_user_name": (
                    record.history_user.get_username() if record.history_user_id else None
                ),
                "history_type": {"+": "created", "~": "changed", "-": "deleted"}[
                    record.history_type
                ],
                "history_change_reason": record.history_change_reason,
                "changes": changes,
            }
        )
    return entries


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
    see the history of. Override `history_hidden_fields(instance)` to mask
    fields for this request, and `clean_history_entry` to mask more.
    """

    history_permission = "core.view_history"

    def history_hidden_fields(self, instance):
        return ()

    def clean_history_entry(self, instance, record, entry):
        return entry

    @extend_schema(responses=HistoryEntrySerializer, filters=False)
    @action(
        detail=True,
        methods=["get"],
        url_path="history",
        filter_backends=[],
        permission_classes=[permissions.IsAuthenticated, HistoryPermission],
    )
    def history(self, request, *args, **kwargs):
        instance = self.get_object()
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
        hidden = self.history_hidden_fields(instance)
        entries = history_entries(page, previous, hidden_fields=hidden)
        entries = [
            self.clean_history_entry(instance, record, entry)
            for record, entry in zip(page, entries, strict=True)
        ]
        return paginator.get_paginated_response(entries)


def stored_row(instance):
    """The record as the database holds it now: every column, and the ids of its many-to-many
    links (a plan's audience), read fresh (one query, plus one per many-to-many field)."""
    model = type(instance)
    opts = model._meta
    columns = [f.attname for f in opts.concrete_fields]
    row = model._base_manager.filter(pk=instance.pk).values(*columns).first() or {}
    for field in opts.many_to_many:
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
            if request.headers.get("If-Match"):
                check_if_match(request, self.get_object_for_update())
            response = super().update(request, *args, **kwargs)
        if isinstance(response, Response) and response.status_code == 200:
            try:
                instance = self.get_object()
            except Http404:
                # The write took the record out of the writer's sight (an intake member
                # naming a confidential incident's manager hands it to its team): it is
                # saved, and there is nothing they may be shown.
                return Response(status=204)
            response.data = self.read_representation(instance)
            response["ETag"] = etag_for(instance)
        return response

    def get_object_for_update(self):
        """The object, locked for the rest of the transaction where the database can."""
        instance = self.get_object()
        list(
            type(instance)
            ._default_manager.select_for_update()
            .filter(pk=instance.pk)
            .values_list("pk")
        )
        return self.get_object()


class SafeLinkField(serializers.CharField):
    """A link as clients may put it in an href: a stored unsafe one (from before links were
    validated, see core.validators) reads as "" rather than as a `javascript:` URL."""

    def to_representation(self, value):
        return safe_href(value) or ""
