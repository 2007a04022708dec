"""Background work of plans: publication notices to a version's audience."""

from django_tasks import task

from core.history import acting_as, system_user

from . import notices, queries
from .models import AcknowledgementNotice, PlanVersion


@task()
def send_publication_notices(version_id):
    """Tell every audience member once about a newly published version.

    Each notice is recorded (unique per person and version) with its email queued in the
    outbox, so a retried or duplicated task never emails anyone twice. Returns how many
    were queued.
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
            if notices.notice_record(user=user, version=version, actor=actor):
                sent += 1
    return sent
