"""Factories for training: courses, sessions and records built through the services."""

import datetime

from django.contrib.auth.models import Group
from django.utils import timezone

from core.roles import STAFF
from tests import factories
from training import services
from training.models import Course, Record


def actor():
    return factories.coordinator(username="training-coordinator")


def make_course(
    title="Awareness", kind=Course.Kind.AWARENESS, validity_days=365, groups=(STAFF,), **kw
):
    required = [Group.objects.get_or_create(name=name)[0] for name in groups]
    return services.course_create(
        actor=actor(),
        title=title,
        kind=kind,
        validity_days=validity_days,
        required_for=required,
        **kw,
    )


def make_session(course, *, starts_at=None, hours=2, **kw):
    starts_at = starts_at or timezone.now() - datetime.timedelta(days=1)
    return services.session_create(
        actor=actor(),
        course=course,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(hours=hours),
        **kw,
    )


def complete(user, course, completed_at, session=None):
    """A completed record of `user` for `course` at `completed_at` (a new session if none given)."""
    session = session or make_session(course, starts_at=completed_at - datetime.timedelta(hours=2))
    return services.record_register(
        actor=actor(),
        user=user,
        session=session,
        status=Record.Status.COMPLETED,
        completed_at=completed_at,
    )


def people(n, prefix="p", groups=(STAFF,)):
    return [
        factories.UserFactory(
            username=f"{prefix}{i:03}",
            first_name="Person",
            last_name=f"{prefix}{i:03}",
            groups=list(groups),
        )
        for i in range(n)
    ]
