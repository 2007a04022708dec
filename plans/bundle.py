"""A plan version's evidence bundle (core.bundles): its text, fingerprint, signatures,
acknowledgements and history, with a PDF of the version and its signature page.

Files, under `plan-version/` (an incident's bundle includes the same files for the version
in force, under the same folder name):

- `plan_version.json`: the plan code, version number and sections (the fingerprint's input:
  `verify.py` recomputes it), with the status, dates and signers;
- `signatures.json`: every signature on the version (meaning, printed name, time, the
  fingerprint signed);
- `acknowledgements.json`: every acknowledgement (printed and typed name, time, statement,
  fingerprint, whether the person has since left);
- `reviews.json`: each review step with its decision and comment;
- `plan_version.pdf`: the version as people read it, and its signature page.

The bundle adds `history.jsonl` (the plan's, the version's, its sections', reviews' and
acknowledgements' history rows), `verify.py` and `manifest.json`.
"""

from django.template.loader import render_to_string
from django.utils import timezone

from core import audit, bundles
from core.people import person_label

from .models import Acknowledgement, Plan, PlanVersion, Review, Section, Signature
from .rendering import render_markdown

FOLDER = "plan-version/"


def _person(user):
    if user is None:
        return None
    return {"id": user.pk, "username": user.get_username(), "name": user.get_full_name()}


def version_record(version):
    sections = list(version.sections.order_by("order", "id"))
    return {
        "plan": version.plan.code,
        "version": version.number,
        "title": version.plan.title,
        "status": version.status,
        "change_summary": version.change_summary,
        "author": _person(version.author),
        "created_at": version.created_at,
        "submitted_by": _person(version.submitted_by),
        "submitted_at": version.submitted_at,
        "approved_by": _person(version.approved_by),
        "approved_at": version.approved_at,
        "published_by": _person(version.published_by),
        "published_at": version.published_at,
        "effective_date": version.effective_date,
        "next_review_due": version.next_review_due,
        "superseded_at": version.superseded_at,
        "content_hash": version.content_hash,
        "sections": [{"key": s.key, "heading": s.heading, "body": s.body} for s in sections],
    }


def acknowledgement_rows(version):
    rows = Acknowledgement.objects.filter(version=version).select_related("user")
    return [
        {
            "id": a.pk,
            "person": _person(a.user),
            "printed_name": a.user.get_full_name() or a.user.get_username(),
            "typed_name": a.full_name,
            "acknowledged_at": a.acknowledged_at,
            "statement": a.statement,
            "content_hash": a.content_hash,
            "former_staff": not a.user.is_active,
            "ip_address": a.ip_address,
            "user_agent": a.user_agent,
        }
        for a in rows.order_by("acknowledged_at", "id")
    ]


def review_rows(version):
    rows = Review.objects.filter(version=version).select_related("reviewer")
    return [
        {
            "id": r.pk,
            "decision": r.decision,
            "reviewer": _person(r.reviewer),
            "comment": r.comment,
            "created_at": r.created_at,
        }
        for r in rows.order_by("created_at", "id")
    ]


def signature_rows(version, reader):
    """Every signature on the version `reader` may read (queries.signatures_of: the review
    steps', and acknowledgements as the acknowledgement rule allows), oldest first."""
    from .queries import signatures_of

    return [
        {
            "id": row.pk,
            "meaning": row.meaning,
            "printed_name": row.printed_name,
            "person": _person(row.signer),
            "signed_at": row.signed_at,
            "content_hash": row.content_hash,
            "method": row.method,
        }
        for row in signatures_of(version, reader).select_related("signer")
    ]


def history_scopes(version):
    return [
        (Plan, {"id": version.plan_id}),
        (PlanVersion, {"id": version.pk}),
        (Section, {"version_id": version.pk}),
        (Review, {"version_id": version.pk}),
        (Acknowledgement, {"version_id": version.pk}),
        (Signature, {"version_id": version.pk}),
    ]


def version_pdf(version, record, signatures, reader_zone):
    html = render_to_string(
        "plans/evidence/version.html",
        {
            "version": version,
            "record": record,
            "sections": [
                {"heading": s["heading"], "html": render_markdown(s["body"])}
                for s in record["sections"]
            ],
            "signatures": signatures,
            "zone": reader_zone,
            "exported_at": timezone.now(),
        },
    )
    return bundles.pdf(html)


def add_version_files(bundle, version, reader, *, folder=FOLDER, reader_zone="UTC"):
    """The version's files into `bundle` (also used by an incident's bundle)."""
    record = version_record(version)
    signatures = signature_rows(version, reader)
    bundle.add_json(folder + "plan_version.json", record)
    bundle.add_json(folder + "signatures.json", signatures)
    bundle.add_json(folder + "acknowledgements.json", acknowledgement_rows(version))
    bundle.add_json(folder + "reviews.json", review_rows(version))
    bundle.add(
        folder + "plan_version.pdf",
        lambda: [version_pdf(version, record, signatures, reader_zone)],
    )


def version_bundle(version, reader):
    """The bundle of one plan version, for `reader` (who holds core.view_history)."""
    bundle = bundles.Bundle(
        kind="plan_version",
        subject=f"{version.plan.code} v{version.number}",
        exported_by=person_label(reader),
        extra={"plan_version_id": version.pk, "content_hash": version.content_hash},
    )
    add_version_files(bundle, version, reader, reader_zone=timezone.get_current_timezone_name())
    bundle.add_history("history.jsonl", audit.scoped_sources(reader, history_scopes(version)))
    return bundle


def find_version(reader, key):
    """A plan version `reader` may see, by id or as "CODE vN"."""
    from . import queries

    rows = queries.visible_versions(reader).select_related("plan")
    key = key.strip()
    if key.isdigit():
        return rows.filter(pk=int(key)).first()
    code, _, number = key.rpartition(" v")
    if not code or not number.isdigit():
        return None
    return rows.filter(plan__code=code, number=int(number)).first()


KINDS = {"plan-version": (find_version, version_bundle)}
