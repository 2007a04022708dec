"""Background work of plans: publication notices to a version's audience."""

from django.conf import settings
from django.urls import reverse
from django_tasks import task

from core.history import acting_as, system_user
from core.mail import send_message

from . import queries, services
from .models import AcknowledgementNotice, PlanVersion


def acknowledge_url(version):
    return settings.SITE_URL + reverse("plans:version", args=[version.pk])


def publication_email(version, user):
    subject = f"Please acknowledge {version.plan.title} version {version.number}"
    body = (
        f"Hello {user.get_full_name() or user.get_username()},\n\n"
        f"Version {version.number} of {version.plan.title} ({version.plan.code}) has been "
        f"published. Please read it and acknowledge it by "
        f"{version.acknowledge_by:%d %B %Y}:\n\n{acknowledge_url(version)}\n\n"
        f"What changed: {version.change_summary or 'see the plan.'}\n"
    )
    return subject, body


@task()
def send_publication_notices(version_id):
    """Email every audience member once about a newly published version.

    Each email is recorded (unique per person and version) in the same savepoint
    as it is sent, so a retried or duplicated task never emails anyone twice.
    """
    version = PlanVersion.objects.select_related("plan").get(pk=version_id)
    if version.status != PlanVersion.Status.PUBLISHED:
        return 0
    actor = system_user()
    already = AcknowledgementNotice.objects.filter(
        version=version, kind=AcknowledgementNotice.Kind.PUBLISHED
    ).values("user_id")
    recipients = (
        queries.audience_users(version.plan)
        .exclude(pk__in=already)
        .exclude(email="")
        .order_by("pk")
    )
    sent = 0
    with acting_as(actor):
        for user in recipients.iterator(chunk_size=500):
            subject, body = publication_email(version, user)

            def send(user=user, subject=subject, body=body):
                send_message(subject=subject, body=body, recipients=[user.email])

            if services.notice_record(
                user=user,
                version=version,
                kind=AcknowledgementNotice.Kind.PUBLISHED,
                actor=actor,
                send=send,
            ):
                sent += 1
    return sent
