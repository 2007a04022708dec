"""Tables of the incidents app: incidents, their response team, escalations, timeline, communications, actions, reviews, evidence files."""

from .attachments import Attachment, AttachmentDownload
from .communications import PLACEHOLDERS, Communication, MessageTemplate, template_placeholders
from .incident import (
    OPEN_STATUSES,
    PRIORITY_MATRIX,
    UNCLASSIFIED_STATUSES,
    Category,
    Impact,
    Incident,
    Priority,
    ReferenceCounter,
    ResponseTarget,
    Status,
    TeamMember,
    Urgency,
    derive_priority,
    now,
)
from .obligations import Obligation, ObligationSubmission, ObligationWaiver
from .readiness import Readiness
from .response import (
    Action,
    Escalation,
    EscalationLevel,
    EscalationRule,
    PostIncidentReview,
    TimelineEntry,
)

__all__ = [
    "OPEN_STATUSES",
    "PLACEHOLDERS",
    "PRIORITY_MATRIX",
    "UNCLASSIFIED_STATUSES",
    "Action",
    "Attachment",
    "AttachmentDownload",
    "Category",
    "Communication",
    "Escalation",
    "EscalationLevel",
    "EscalationRule",
    "Impact",
    "Incident",
    "MessageTemplate",
    "Obligation",
    "ObligationSubmission",
    "ObligationWaiver",
    "PostIncidentReview",
    "Priority",
    "Readiness",
    "ReferenceCounter",
    "ResponseTarget",
    "Status",
    "TeamMember",
    "TimelineEntry",
    "Urgency",
    "derive_priority",
    "now",
    "template_placeholders",
]
