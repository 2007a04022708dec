"""The admin's audit log page (Compliance): the API's `/api/v1/audit/` (core.audit) as a page,
with the same filters, the same keyset pages and the same CSV export."""

from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from core import audit
from core.audit_api import AUDIT_PERMISSION, AuditQuery, encode_cursor
from core.exports import csv_response


def audit_log_view(request, admin_site):
    if not request.user.has_perm(AUDIT_PERMISSION):
        raise PermissionDenied
    params = {k: v for k, v in request.GET.items() if v != "" and k != "format"}
    query = AuditQuery(data=params)
    valid = query.is_valid()
    filters = query.filters() if valid else audit.AuditFilters()
    if valid and request.GET.get("format") == "csv":
        return csv_response(
            filename="audit-log.csv",
            header=audit.CSV_HEADER,
            rows=audit.audit_csv_rows(request.user, filters),
        )
    rows, after = ([], None)
    if valid:
        rows, after = audit.audit_page(
            request.user, filters, after=query.validated_data.get("cursor"), limit=100
        )
    following = None
    if after is not None:
        following = request.GET.copy()
        following["cursor"] = encode_cursor(after)
        following = following.urlencode()
    exported = request.GET.copy()
    exported.pop("cursor", None)
    exported["format"] = "csv"
    context = {
        **admin_site.each_context(request),
        "title": "Audit log",
        "subtitle": None,
        "rows": rows,
        "errors": None if valid else query.errors,
        "models": list(audit.tracked_models()),
        "params": params,
        "next_query": following,
        "csv_query": exported.urlencode(),
    }
    request.current_app = admin_site.name
    return TemplateResponse(request, "admin/core/audit_log.html", context)
