"""Signal receivers of incidents: an email about an escalation or a communication that failed lands on the timeline."""

from django.db.backends.signals import connection_created
from django.dispatch import receiver

from core.history import system_user
from core.mail import email_delivered

from . import queries, services


@receiver(email_delivered, dispatch_uid="incidents.email_delivered")
def note_delivery_on_the_incident(sender, email, **kwargs):
    if email.about_type_id is None:
        return  # not about a record (a reminder)
    services.email_delivery_record(email=email, actor=system_user())


@receiver(connection_created, dispatch_uid="incidents.sqlite_functions")
def add_sqlite_functions(sender, connection, **kwargs):
    """SQLite has no calendar-month arithmetic: the obligations' deadlines use ours
    (queries.DeadlineAdd; PostgreSQL's make_interval elsewhere)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "incidents_add_deadline", 3, queries.sqlite_add_deadline, deterministic=True
        )
