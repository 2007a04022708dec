"""`GET /api/v1/audit/`: the audit log (core.audit) as JSON pages or a streamed CSV."""

import base64
import binascii
import datetime
import json

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, renderers, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core import audit
from core.exports import csv_response

AUDIT_PERMISSION = "core.export_history"  # Compliance (core.roles), not coordinators


class CSVRenderer(renderers.BaseRenderer):
    """Lets `?format=csv` and `Accept: text/csv` choose the streamed export; the views answer
    a StreamingHttpResponse themselves, so this renders only errors."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        detail = data.get("detail", data) if isinstance(data, dict) else data
        return f"detail\n{json.dumps(detail, default=str)}\n".encode()


def wants_csv(request):
    return getattr(request.accepted_renderer, "format", None) == "csv"


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
        except (ValueError, TypeError, binascii.Error, UnicodeError):
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
    renderer_classes = [*APIView.renderer_classes, CSVRenderer]

    @extend_schema(
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
