"""What a reader may see of the incidents' history in the audit log (core.audit): the same
rules as the incidents themselves (queries.fully_visible_incidents, queries.history_mask)."""

from core.audit import HistoryRule
from core.history_diff import NO_MASK

from . import queries
from .models import (
    Action,
    Attachment,
    AttachmentDownload,
    Communication,
    Escalation,
    Incident,
    ObligationSubmission,
    ObligationWaiver,
    PostIncidentReview,
    Readiness,
    TeamMember,
    TimelineEntry,
)

# The records that belong to an incident: their history is hidden with it.
INCIDENT_CHILDREN = (
    TeamMember,
    Attachment,
    Action,
    Escalation,
    Communication,
    PostIncidentReview,
    TimelineEntry,
    Readiness,
    ObligationSubmission,
    ObligationWaiver,
)


def _incident_masks(user):
    def masks(records):
        ids = {record.id for record in records}
        anonymous = {i.pk: i for i in Incident.objects.filter(pk__in=ids, anonymous=True)}
        return {
            record.history_id: queries.history_mask(user, anonymous[record.id])
            if record.id in anonymous
            else NO_MASK
            for record in records
        }

    return masks


def history_rules(user):
    condition = queries.fully_visible_incidents(user)
    if queries.sees_everything(user):
        visible_own = visible_child = None
    else:
        visible_ids = condition.values("pk")

        def visible_own(rows):
            return rows.filter(id__in=visible_ids)

        def visible_child(rows):
            return rows.filter(incident_id__in=visible_ids)

    rules = {Incident: HistoryRule(visible=visible_own, masks=_incident_masks(user))}
    rules.update({model: HistoryRule(visible=visible_child) for model in INCIDENT_CHILDREN})
    if visible_child is not None:
        # A download belongs to its file's incident.
        rules[AttachmentDownload] = HistoryRule(
            visible=lambda rows: rows.filter(
                attachment_id__in=Attachment.objects.filter(incident_id__in=visible_ids).values(
                    "pk"
                )
            )
        )
    else:
        rules[AttachmentDownload] = HistoryRule()
    return rules
