"""Communications in the admin: checked addresses, a preview before sending, "sent" only when sent."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from core.models import OutgoingEmail
from incidents import services
from incidents.models import Communication, MessageTemplate
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db

ADD = "admin:incidents_communication_add"
LIST = "admin:incidents_communication_changelist"


@pytest.fixture
def template(db):
    return MessageTemplate.objects.create(
        name="Update", subject="[{priority}] {reference}", body="{title} is {status}."
    )


def form_data(incident, template, **extra):
    return {"incident": incident.pk, "template": template.pk, "audience": "a@example.org", **extra}


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def test_the_first_post_previews_the_rendered_message_and_sends_nothing(
    client, coordinator, template
):
    incident = f.incident(title="Portal down")
    client.force_login(coordinator)
    response = client.post(reverse(ADD), form_data(incident, template))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Preview: nothing has been sent yet" in page
    assert f'<dd id="preview-subject">[P3] {incident.reference}</dd>' in page
    assert '<pre id="preview-body">Portal down is Reported.</pre>' in page
    assert '<dd id="preview-recipients">a@example.org</dd>' in page
    assert 'name="_send"' in page
    assert not Communication.objects.exists()
    assert not OutgoingEmail.objects.exists() and mail.outbox == []


def test_send_confirming_the_preview_sends_it_once_and_says_it_is_queued_until_it_is_sent(
    client, coordinator, template, django_capture_on_commit_callbacks
):
    incident = f.incident(title="Portal down")
    client.force_login(coordinator)
    preview = client.post(reverse(ADD), form_data(incident, template)).context["preview"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse(ADD),
            form_data(incident, template, _send="Send", preview_digest=preview.digest),
            follow=True,
        )
        # Inside the request nothing had been delivered yet, and the page says so.
        assert messages_of(response) == [
            f"Queued “[P3] {incident.reference}” to 1 recipient(s): it is not sent yet. "
            "The list shows when it has been sent."
        ]
        assert "queued, not sent yet" in response.content.decode()
    sent = Communication.objects.get()
    assert (sent.subject, sent.body) == (preview.subject, preview.body)
    assert OutgoingEmail.objects.get().status == "sent"
    [message] = mail.outbox
    assert (message.subject, message.body, message.to) == (
        preview.subject,
        preview.body,
        ["a@example.org"],
    )
    listing = client.get(reverse(LIST)).content.decode()
    assert "queued, not sent yet" not in listing
    assert re.search(r"<td class=\"field-delivery\">sent \d\d \w{3} \d{4} \d\d:\d\d", listing)
    lines = list(incident.timeline.filter(kind="communication").values_list("text", flat=True))
    assert lines == [
        f"Email “[P3] {incident.reference}” to a@example.org delivered.",
        f"Communication “[P3] {incident.reference}” to 1 recipient(s): email queued",
    ]


@pytest.mark.django_db(transaction=True)
def test_the_admin_says_sent_once_the_outbox_has_sent_it(client, coordinator, template):
    incident = f.incident(title="Portal down")
    client.force_login(coordinator)
    preview = client.post(reverse(ADD), form_data(incident, template)).context["preview"]
    response = client.post(
        reverse(ADD),
        form_data(incident, template, _send="Send", preview_digest=preview.digest),
        follow=True,
    )
    assert messages_of(response) == [f"Sent “[P3] {incident.reference}” to 1 recipient(s)."]
    assert len(mail.outbox) == 1


def test_a_message_that_changed_since_the_preview_is_shown_again_not_sent(
    client, coordinator, template
):
    incident = f.incident(title="Portal down")
    client.force_login(coordinator)
    preview = client.post(reverse(ADD), form_data(incident, template)).context["preview"]
    services.incident_transition(incident=incident, actor=coordinator, status="triaged")
    response = client.post(
        reverse(ADD), form_data(incident, template, _send="Send", preview_digest=preview.digest)
    )
    assert response.status_code == 200
    assert "changed since the preview" in " ".join(messages_of(response))
    assert '<pre id="preview-body">Portal down is Triaged.</pre>' in response.content.decode()
    assert not Communication.objects.exists() and not OutgoingEmail.objects.exists()


def test_a_send_without_a_preview_sends_nothing(client, coordinator, template):
    incident = f.incident()
    client.force_login(coordinator)
    response = client.post(
        reverse(ADD), form_data(incident, template, _send="Send", preview_digest="0" * 64)
    )
    assert response.status_code == 200  # shown as a preview to confirm, not sent
    assert "changed since the preview" in " ".join(messages_of(response))
    assert not Communication.objects.exists() and not OutgoingEmail.objects.exists()


def test_a_bad_address_on_preview_is_an_error_on_the_field_and_no_preview(
    client, coordinator, template
):
    incident = f.incident()
    client.force_login(coordinator)
    response = client.post(
        reverse(ADD), form_data(incident, template, audience="ok@example.org, not-an-email")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["audience"] == ["“not-an-email” is not an email address."]
    page = response.content.decode()
    assert "Preview: nothing has been sent yet" not in page and 'name="_send"' not in page
    assert 'value="Preview"' in page
    assert not Communication.objects.exists() and not OutgoingEmail.objects.exists()


def test_a_template_placeholder_problem_is_shown_on_the_preview(client, coordinator):
    incident = f.incident()
    client.force_login(coordinator)
    response = client.post(
        reverse(ADD),
        {"incident": incident.pk, "subject": "Update", "body": "{secret}", "audience": "a@b.org"},
    )
    assert response.status_code == 200
    assert "Unknown placeholder(s): secret." in str(response.context["adminform"].form.errors)
    assert not Communication.objects.exists()
