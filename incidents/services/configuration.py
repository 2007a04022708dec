"""The app's configuration, kept by coordinators in the admin: categories, response targets,
escalation rules and message templates (each change permission-checked, validated, in the history)."""

from django.db import transaction

from core.errors import InvalidInput
from core.services import audited_save, lock, model_update, require

from ..models import Category, EscalationRule, MessageTemplate, ResponseTarget

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


def _permission(model, verb):
    return f"{model._meta.app_label}.{verb}_{model._meta.model_name}"


def _create(model, *, actor, fields, allowed):
    require(actor, _permission(model, "add"))
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise InvalidInput(f"These fields cannot be set here: {', '.join(unknown)}.")
    return audited_save(model(**fields), actor=actor, reason="Created")


def _update(instance, *, actor, fields, allowed, reason):
    require(actor, _permission(type(instance), "change"))
    instance = lock(instance)
    model_update(
        instance=instance, actor=actor, fields=fields, allowed=allowed, reason=reason or "Edited"
    )
    return instance


@transaction.atomic
def category_create(*, actor, **fields):
    return _create(Category, actor=actor, fields=fields, allowed=CATEGORY_FIELDS)


@transaction.atomic
def category_update(*, category, actor, reason="", **fields):
    return _update(category, actor=actor, fields=fields, allowed=CATEGORY_FIELDS, reason=reason)


@transaction.atomic
def response_target_create(*, actor, **fields):
    return _create(ResponseTarget, actor=actor, fields=fields, allowed=RESPONSE_TARGET_FIELDS)


@transaction.atomic
def response_target_update(*, response_target, actor, reason="", **fields):
    return _update(
        response_target, actor=actor, fields=fields, allowed=RESPONSE_TARGET_FIELDS, reason=reason
    )


@transaction.atomic
def escalation_rule_create(*, actor, **fields):
    return _create(EscalationRule, actor=actor, fields=fields, allowed=ESCALATION_RULE_FIELDS)


@transaction.atomic
def escalation_rule_update(*, escalation_rule, actor, reason="", **fields):
    return _update(
        escalation_rule, actor=actor, fields=fields, allowed=ESCALATION_RULE_FIELDS, reason=reason
    )


@transaction.atomic
def message_template_create(*, actor, **fields):
    return _create(MessageTemplate, actor=actor, fields=fields, allowed=MESSAGE_TEMPLATE_FIELDS)


@transaction.atomic
def message_template_update(*, message_template, actor, reason="", **fields):
    return _update(
        message_template, actor=actor, fields=fields, allowed=MESSAGE_TEMPLATE_FIELDS, reason=reason
    )
