"""The compliance pages of a plan version: who acknowledged it, who has not, who is overdue."""

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.template.response import TemplateResponse

from core.exports import csv_response

from .. import queries

# The CSV's columns: full_name is the printed name from the account, typed_name what the
# signer typed; meaning says what the signature means (21 CFR 11.50).
CSV_HEADER = (
    "plan",
    "version",
    "user_id",
    "username",
    "full_name",
    "email",
    "state",
    "meaning",
    "typed_name",
    "statement",
    "fingerprint",
    "acknowledged_at",
    "ip_address",
    "user_agent",
)
ROWS_SHOWN = {
    "outstanding": {"acknowledged_at__isnull": True},
    "acknowledged": {"acknowledged_at__isnull": False},
    "all": {},
}


def csv_row(version, person):
    signed = person.acknowledged_at is not None
    return [
        version.plan.code,
        version.number,
        person.pk,
        person.get_username(),
        person.get_full_name(),
        person.email,
        person.state,
        queries.ComplianceState.ACKNOWLEDGED if signed else "",
        person.signed_name or "",
        person.signed_statement or "",
        person.signed_hash or "",
        person.acknowledged_at.isoformat() if signed else "",
        person.signed_ip_address or "",
        person.signed_user_agent or "",
    ]


class ComplianceViews:
    """The compliance page and its CSV, for the plan version admin (which routes them and
    supplies `version_for(request, pk)`: the version as this reader may see it)."""

    def _require_compliance(self, request):
        if not queries.can_see_all_acknowledgements(request.user):
            raise PermissionDenied

    def compliance_view(self, request, pk):
        """Who in the audience acknowledged this version, who has not, and who is overdue."""
        self._require_compliance(request)
        version = self.version_for(request, pk)
        summary = queries.compliance_summary(version)
        show = request.GET.get("show", "outstanding")
        rows = queries.compliance_rows(version).filter(**ROWS_SHOWN.get(show, {}))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Acknowledgements of {version}",
            "version": version,
            "summary": summary,
            "page": Paginator(rows, 100).get_page(request.GET.get("page")),
            "show": show,
        }
        return TemplateResponse(request, "admin/plans/planversion/compliance.html", context)

    def compliance_csv_view(self, request, pk):
        """The compliance evidence as CSV, streamed row by row (fine for 10,000 people)."""
        self._require_compliance(request)
        version = self.version_for(request, pk)
        rows = queries.compliance_rows(version).iterator(chunk_size=2000)
        return csv_response(
            filename=f"{version.plan.code}-v{version.number}-acknowledgements.csv",
            header=CSV_HEADER,
            rows=(csv_row(version, person) for person in rows),
        )
