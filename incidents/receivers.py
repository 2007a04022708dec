"""Signal receivers of incidents: an email about an escalation or a communication that failed lands on the timeline."""

from django.dispatch import receiver

from core.history import system_user
from core.mail import email_delivered

from . import services


@receiver(email_delivered, dispatch_uid="incidents.email_delivered")
def note_delivery_on_the_incident(sender, email, **kwargs):
    if email.about_type_id is None:
        return  # not about a record (a reminder)
    services.email_delivery_record(email=email, actor=system_user())
