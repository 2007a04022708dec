"""Factories for incidents: categories, targets and incidents made through the services."""

import datetime

from django.utils import timezone

from incidents import services
from incidents.models import Category, ResponseTarget
from tests import factories

TARGETS = {"P1": (15, 240, 1440, 60), "P2": (60, 480, 2880, 240), "P3": (240, 2880, 10080, 1440), "P4": (1440, 10080, 20160, 4320)}


def category(name="Security", plan=None):
    return Category.objects.get_or_create(name=name, defaults={"plan": plan})[0]


def targets():
    for priority, (ack, contain, recover, update) in TARGETS.items():
        ResponseTarget.objects.get_or_create(
            priority=priority,
            defaults=dict(acknowledge_minutes=ack, contain_minutes=contain, recover_minutes=recover, update_minutes=update),
        )


def incident(reporter=None, *, impact=3, urgency=3, occurred_hours_ago=1, **kwargs):
    reporter = reporter or factories.staff()
    kwargs.setdefault("category", category())
    return services.incident_report(
        actor=reporter,
        title=kwargs.pop("title", "Something broke"),
        description=kwargs.pop("description", "It stopped working."),
        occurred_at=timezone.now() - datetime.timedelta(hours=occurred_hours_ago),
        impact=impact,
        urgency=urgency,
        **kwargs,
    )


def walk(incident, actor, *statuses, reason="step"):
    for status in statuses:
        incident = services.incident_transition(incident=incident, actor=actor, status=status, reason=reason)
    return incident


def completed_review(incident, actor):
    services.review_save(
        incident=incident, actor=actor, summary="Summary", root_cause="Cause", lessons_learned="Lessons"
    )
    return services.review_complete(incident=incident, actor=actor)
