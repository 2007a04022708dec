"""Every change to an incident goes through here: the rules, the timeline, the history reason, the emails.

One module per part of the work (written on core.services: require, lock, audited_save,
model_update); callers import them all from `incidents.services`.
"""

from .common import incident_url, require_on
from .communications import (
    RenderedCommunication,
    communication_render,
    communication_send,
    email_delivery_record,
    next_update_due,
    render_placeholders,
)
from .configuration import (
    CATEGORY_FIELDS,
    CONFIGURATION_SERVICES,
    ESCALATION_RULE_FIELDS,
    MESSAGE_TEMPLATE_FIELDS,
    RESPONSE_TARGET_FIELDS,
    category_create,
    category_update,
    escalation_rule_create,
    escalation_rule_update,
    message_template_create,
    message_template_update,
    response_target_create,
    response_target_update,
)
from .escalations import (
    escalate_overdue,
    escalation_acknowledge,
    escalation_message,
    incident_escalate,
)
from .incident import (
    DESCRIPTIVE_FIELDS,
    REASON_MAX_LENGTH,
    incident_report,
    incident_transition,
    incident_update,
    intake_message,
)
from .readiness import readiness_record
from .response import (
    ACTION_FIELDS,
    action_create,
    action_update,
    team_member_add,
    team_member_remove,
    timeline_note_add,
)
from .reviews import (
    CONFIDENTIAL_CHANGE_REQUEST,
    REVIEW_FIELDS,
    change_request_text,
    restate_confidential_change_requests,
    review_complete,
    review_save,
)

__all__ = [
    "readiness_record",
    "CATEGORY_FIELDS",
    "CONFIGURATION_SERVICES",
    "ESCALATION_RULE_FIELDS",
    "MESSAGE_TEMPLATE_FIELDS",
    "RESPONSE_TARGET_FIELDS",
    "category_create",
    "category_update",
    "escalation_rule_create",
    "escalation_rule_update",
    "message_template_create",
    "message_template_update",
    "response_target_create",
    "response_target_update",
    "ACTION_FIELDS",
    "CONFIDENTIAL_CHANGE_REQUEST",
    "DESCRIPTIVE_FIELDS",
    "REASON_MAX_LENGTH",
    "REVIEW_FIELDS",
    "RenderedCommunication",
    "action_create",
    "action_update",
    "change_request_text",
    "communication_render",
    "communication_send",
    "email_delivery_record",
    "escalate_overdue",
    "escalation_acknowledge",
    "escalation_message",
    "incident_escalate",
    "incident_report",
    "incident_transition",
    "incident_update",
    "incident_url",
    "intake_message",
    "next_update_due",
    "render_placeholders",
    "require_on",
    "restate_confidential_change_requests",
    "review_complete",
    "review_save",
    "team_member_add",
    "team_member_remove",
    "timeline_note_add",
]
