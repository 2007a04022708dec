"""An incident's evidence bundle (core.bundles): what an auditor or a regulator is shown.

Files:

- `incident.json`: the record as the API's detail shows it to the exporter (an anonymous
  reporter stays hidden unless the exporter may see reporters);
- `timeline.json`, `team.json` (with each member's readiness as they joined),
  `readiness.json` (every readiness record: the manager's too), `escalations.json`, `communications.json`, `actions.json`,
  `review.json`: the incident's lists, as the API shows them, read in batches;
- `attachments.json` and `attachments/<id>-<name>`: every evidence file of the incident
  (superseded ones too) with the SHA-256 taken at upload and its chain of custody; copying
  a file into the bundle is recorded in that custody (`via: bundle`) before it streams;
- `post_incident_report.pdf`: the report people read (the record, the review, the actions,
  the team, the escalations and the first 500 timeline entries; the whole timeline is in
  timeline.json);
- `plan-version/…`: the plan version in force when it was reported, with its text,
  fingerprint and signatures (plans.bundle), when there was one;
- `history.jsonl`: the history of the incident and of every record that belongs to it
  (history_visibility.INCIDENT_CHILDREN), under the exporter's masks.

Who may export: whoever sees the incident in full and holds the history permission (the
bundle holds the history): coordinators on the incident, and compliance.
"""

from types import SimpleNamespace

from django.template.loader import render_to_string
from django.utils import timezone

from core import audit, bundles
from core.people import person_label
from plans.bundle import add_version_files

from . import queries
from .api import serializers, workspace
from .api.attachments import AttachmentSerializer
from .history_visibility import INCIDENT_CHILDREN
from .models import AttachmentDownload, Incident, PostIncidentReview
from .services import attachment_download, attachment_open

PDF_TIMELINE = 500


def incident_record(incident, reader):
    """The incident as the API's detail shows it to `reader`."""
    context = {
        "request": SimpleNamespace(user=reader),
        "sees_reporter": queries.sees_reporter_identity(reader),
        "targets": queries.targets_by_priority(),
    }
    return serializers.IncidentDetailSerializer(incident, context=context).data


def _lists(incident):
    """(file name, rows, serializer) of each of the incident's lists, oldest first."""
    return [
        ("timeline.json", incident.timeline.order_by("created_at", "id"),
         serializers.TimelineEntrySerializer),
        ("team.json",
         queries.with_readiness(incident.team.select_related("user")).order_by("added_at", "id"),
         workspace.TeamMemberRowSerializer),
        ("readiness.json",
         incident.readiness.select_related("user").order_by("recorded_at", "id"),
         workspace.ReadinessRowSerializer),
        ("escalations.json",
         incident.escalations.select_related("to_group").order_by("created_at", "id"),
         serializers.EscalationSerializer),
        ("communications.json",
         incident.communications.select_related("group").order_by("sent_at", "id"),
         workspace.CommunicationSerializer),
        ("actions.json", incident.actions.order_by("due_date", "id"),
         serializers.ActionSerializer),
    ]


def _review(incident):
    review = (
        PostIncidentReview.objects.filter(incident=incident)
        .prefetch_related("participants")
        .first()
    )
    return None if review is None else workspace.PostIncidentReviewSerializer(review).data


def report_pdf(incident, record, review, reader):
    lists = {name: rows for name, rows, _ in _lists(incident)}
    timeline = list(lists["timeline.json"].select_related("author")[: PDF_TIMELINE + 1])
    html = render_to_string(
        "incidents/evidence/report.html",
        {
            "incident": incident,
            "record": record,
            "review": review,
            "review_object": PostIncidentReview.objects.filter(incident=incident).first(),
            "timeline": timeline[:PDF_TIMELINE],
            "timeline_cut": len(timeline) > PDF_TIMELINE,
            "team": lists["team.json"],
            "readiness": lists["readiness.json"],
            "escalations": lists["escalations.json"].select_related("to_user"),
            "actions": lists["actions.json"].select_related("owner"),
            "communications": lists["communications.json"],
            "reporter_shown": not incident.anonymous or queries.sees_reporter_identity(reader),
            "zone": timezone.get_current_timezone_name(),
            "exported_at": timezone.now(),
        },
    )
    return bundles.pdf(html)


def history_scopes(incident):
    return [(Incident, {"id": incident.pk})] + [
        (model, {"incident_id": incident.pk}) for model in INCIDENT_CHILDREN
    ] + [(AttachmentDownload, {"attachment__incident_id": incident.pk})]


def add_attachments(bundle, incident, reader):
    """`attachments.json` (each file with its SHA-256 from upload and its chain of custody)
    and, for a reader who may download them, the files under `attachments/`: each copy is
    recorded in its custody first (via "bundle"), as a download is. Superseded files are
    included too: both are evidence."""
    rows = list(
        queries.attachment_rows(
            queries.attachments_visible_to(reader).filter(incident=incident)
        ).order_by("uploaded_at", "id")
    )
    may_copy = reader.has_perm("incidents.view_attachment")
    listed = []
    for row in rows:
        item = dict(AttachmentSerializer(row).data)
        item.pop("download_url", None)
        if may_copy:
            attachment_download(attachment=row, actor=reader, via=AttachmentDownload.Via.BUNDLE)
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in row.file_name)
            item["bundle_path"] = f"attachments/{row.pk}-{safe}"
        listed.append(item)
    bundle.add_json("attachments.json", listed)
    for row, item in zip(rows, listed, strict=True):
        if "bundle_path" in item:
            bundle.add(item["bundle_path"], _stored_file(row))


def _stored_file(attachment):
    def chunks():
        with attachment_open(attachment) as handle:
            while chunk := handle.read(bundles.CHUNK):
                yield chunk

    return chunks


def incident_bundle(incident, reader):
    """The bundle of one incident, for `reader` (who sees it in full and may read history)."""
    record = incident_record(incident, reader)
    review = _review(incident)
    bundle = bundles.Bundle(
        kind="incident",
        subject=incident.reference,
        exported_by=person_label(reader),
        extra={"incident_id": incident.pk, "plan_version_id": incident.plan_version_id},
    )
    bundle.add_json("incident.json", record)
    for name, rows, serializer in _lists(incident):
        bundle.add(name, bundles.json_array(rows, lambda row, s=serializer: s(row).data))
    bundle.add_json("review.json", review)
    add_attachments(bundle, incident, reader)
    bundle.add("post_incident_report.pdf", lambda: [report_pdf(incident, record, review, reader)])
    if incident.plan_version_id is not None:
        add_version_files(
            bundle,
            incident.plan_version,
            reader,
            reader_zone=timezone.get_current_timezone_name(),
        )
    bundle.add_history("history.jsonl", audit.scoped_sources(reader, history_scopes(incident)))
    return bundle


def find_incident(reader, key):
    """An incident `reader` sees in full, by reference or id."""
    rows = queries.fully_visible_incidents(reader).select_related("plan_version__plan")
    if key.isdigit():
        return rows.filter(pk=int(key)).first()
    return rows.filter(reference=key.strip().upper()).first()


KINDS = {"incident": (find_incident, incident_bundle)}
