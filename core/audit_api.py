"""`GET /api/v1/audit/`: the audit log (core.audit) as JSON pages or a streamed CSV."""

import base64
import binascii
import datetime
import json

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from core import audit
from core.exports import csv_response

AUDIT_PERMISSION = "core.export_history"  # Compliance (core.roles), not coordinators


def wants_csv(request):
    """`?format=csv` or `Accept: text/csv`: the views answer a streamed CSV themselves."""
    if request.query_params.get("format") == "csv":
        return True
    return "text/csv" in request.headers.get("Accept", "")


class CSVNegotiation(DefaultContentNegotiation):
    """Lets a CSV request reach the view, which streams it (core.exports.csv_response); what
    DRF renders itself on such a request (a 400, 403, 404) is JSON, as documented. DRF's own
    negotiation would answer `?format=csv` with 404 and `Accept: text/csv` with 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if wants_csv(request):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


class AuditPermission(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.user.has_perm(AUDIT_PERMISSION)


class AuditQuery(serializers.Serializer):
    model = serializers.ChoiceField(choices=(), required=False, help_text="app_label.model")
    object_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    user = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(min_value=1, max_value=100, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = list(audit.tracked_models())

    def validate_cursor(self, value):
        try:
            date, index, history_id = json.loads(base64.urlsafe_b64decode(value.encode()))
            key = (datetime.datetime.fromisoformat(date), int(index), int(history_id))
        except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeError):
            raise serializers.ValidationError("Not a cursor this list gave out.") from None
        return key

    def filters(self):
        data = self.validated_data
        model = data.get("model")
        return audit.AuditFilters(
            model=audit.tracked_models()[model] if model else None,
            object_id=data.get("object_id"),
            user=data.get("user"),
            since=data.get("since"),
            until=data.get("until"),
        )


def encode_cursor(key):
    date, index, history_id = key
    raw = json.dumps([date.isoformat(), index, history_id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


AuditEntry = inline_serializer(
    name="AuditEntry",
    many=True,
    fields={
        "model": serializers.CharField(),
        "object_id": serializers.IntegerField(),
        "object": serializers.CharField(),
        "history_id": serializers.IntegerField(),
        "history_type": serializers.ChoiceField(choices=["created", "changed", "deleted"]),
        "history_date": serializers.DateTimeField(),
        "history_user": serializers.JSONField(allow_null=True),
        "history_change_reason": serializers.CharField(allow_null=True),
        "changes": serializers.JSONField(),
        "previous_hash": serializers.CharField(),
        "hash": serializers.CharField(),
        "content": serializers.CharField(),
    },
)


class AuditLogView(APIView):
    """Every history entry of every tracked model, newest first (Compliance only)."""

    permission_classes = [permissions.IsAuthenticated, AuditPermission]
    content_negotiation_class = CSVNegotiation

    @extend_schema(
        description="Add `?format=csv` (or send `Accept: text/csv`) for the whole log as a "
        "streamed CSV with the same columns.",
        parameters=[AuditQuery],
        responses=inline_serializer(
            name="AuditPage",
            fields={
                "count": serializers.IntegerField(allow_null=True),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": AuditEntry,
            },
        ),
    )
    def get(self, request):
        query = AuditQuery(data=request.query_params.dict())
        if not query.is_valid():
            raise ValidationError(query.errors)
        filters = query.filters()
        if wants_csv(request):
            return csv_response(
                filename="audit-log.csv",
                header=audit.CSV_HEADER,
                rows=audit.audit_csv_rows(request.user, filters),
            )
        limit = query.validated_data.get("page_size", audit.PAGE_SIZE)
        results, after = audit.audit_page(
            request.user, filters, after=query.validated_data.get("cursor"), limit=limit
        )
        following = None
        if after is not None:
            params = request.query_params.copy()
            params["cursor"] = encode_cursor(after)
            following = request.build_absolute_uri(request.path) + "?" + params.urlencode()
        # No count: it would mean counting every history table (cursor pagination).
        return Response({"count": None, "next": following, "previous": None, "results": results})
