"""The app's configuration, kept by coordinators in the admin: categories, response targets,
escalation rules and message templates (each change permission-checked, validated, in the history)."""

from django.db import transaction

from core.errors import InvalidInput
from core.services import audited_save, lock, model_update, require

from ..models import Category, EscalationRule, MessageTemplate, Obligation, ResponseTarget

CATEGORY_FIELDS = ("name", "description", "plan", "active")
RESPONSE_TARGET_FIELDS = (
    "priority",
    "acknowledge_minutes",
    "contain_minutes",
    "recover_minutes",
    "update_minutes",
)
ESCALATION_RULE_FIELDS = ("priority", "level", "to_user", "to_group", "active")
MESSAGE_TEMPLATE_FIELDS = ("name", "scenario", "subject", "body", "active")
OBLIGATION_FIELDS = (
    "category",
    "name",
    "authority",
    "deliverable",
    "deadline_hours",
    "deadline_months",
    "anchor",
    "previous",
    "cap_hours",
    "active",
)


def _permission(model, verb):
    return f"{model._meta.app_label}.{verb}_{model._meta.model_name}"


def _services_for(model, allowed, name):
    """The create and update services of one configuration model (`name`: the keyword the
    update takes its record by); they differ only in the model and the fields offered."""

    @transaction.atomic
    def create(*, actor, **fields):
        require(actor, _permission(model, "add"))
        unknown = sorted(set(fields) - set(allowed))
        if unknown:
            raise InvalidInput(f"These fields cannot be set here: {', '.join(unknown)}.")
        return audited_save(model(**fields), actor=actor, reason="Created")

    @transaction.atomic
    def update(*, actor, reason="", **fields):
        instance = fields.pop(name)
        require(actor, _permission(model, "change"))
        instance = lock(instance)
        model_update(
            instance=instance,
            actor=actor,
            fields=fields,
            allowed=allowed,
            reason=reason or "Edited",
        )
        return instance

    for service, verb in ((create, "create"), (update, "update")):
        service.__name__ = service.__qualname__ = f"{name}_{verb}"
    return create, update


category_create, category_update = _services_for(Category, CATEGORY_FIELDS, "category")
response_target_create, response_target_update = _services_for(
    ResponseTarget, RESPONSE_TARGET_FIELDS, "response_target"
)
escalation_rule_create, escalation_rule_update = _services_for(
    EscalationRule, ESCALATION_RULE_FIELDS, "escalation_rule"
)
message_template_create, message_template_update = _services_for(
    MessageTemplate, MESSAGE_TEMPLATE_FIELDS, "message_template"
)

obligation_create, obligation_update = _services_for(Obligation, OBLIGATION_FIELDS, "obligation")

# The services of each configuration model, for the admin's declarations.
CONFIGURATION_SERVICES = {
    Category: (category_create, category_update),
    ResponseTarget: (response_target_create, response_target_update),
    EscalationRule: (escalation_rule_create, escalation_rule_update),
    MessageTemplate: (message_template_create, message_template_update),
    Obligation: (obligation_create, obligation_update),
}
