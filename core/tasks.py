"""Background work shared by the apps: sending one email.

Runs through Django's Tasks API (django-tasks backport): immediately in
development and tests, on django-tasks-db workers in production, where each
queued task is claimed by exactly one worker (row lock with SKIP LOCKED) and
its result is recorded in the task table.
"""

from django.conf import settings
from django.core.mail import send_mail
from django_tasks import task


@task()
def send_email(*, subject, body, recipients, html_body=None):
    """Send one email to `recipients` (a list of addresses); returns how many were sent."""
    recipients = [address for address in recipients if address]
    if not recipients:
        return 0
    return send_mail(
        subject,
        body,
        settings.DEFAULT_FROM_EMAIL,
        recipients,
        html_message=html_body,
        fail_silently=False,
    )
