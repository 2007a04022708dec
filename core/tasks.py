"""Background work shared by the apps: delivering the outbox (the one way email leaves).

Runs through Django's Tasks API (django-tasks backport): immediately in
development and tests, on django-tasks-db workers in production, where each
queued task is claimed by exactly one worker (row lock with SKIP LOCKED) and
its result is recorded in the task table.
"""

from django_tasks import task

from core.mail import email_deliver


@task()
def deliver_email(email_id):
    """Deliver one queued OutgoingEmail; a failure is recorded on the row (and retried), not raised."""
    return email_deliver(email_id).status
