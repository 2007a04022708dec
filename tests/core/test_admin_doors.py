"""The admin's side doors (issue 11): history pages that wrote, undeclared list lookups,
the view-on-site shortcut, autocomplete and popups; each test replays an attack."""

import datetime

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core.roles import COMPLIANCE, COORDINATORS, PLAN_APPROVERS
from directory import services as directory_services
from incidents import services as incident_services
from incidents.demo import seed_obligations
from incidents.models import (
    Category,
    EscalationLevel,
    EscalationRule,
    Incident,
    MessageTemplate,
    Obligation,
    ResponseTarget,
)
from plans import services as plan_services
from plans.models import AcknowledgementNotice
from plans.models import ReminderClock as PlanReminderClock
from tests import factories
from tests.incidents import factories as f
from tests.plans.factories import draft_of, make_plan, published_plan
from tests.signing import signer_proof
from tests.training.factories import complete, make_course, make_session, people
from training import services as training_services
from training.models import Course
from training.models import ReminderClock as TrainingReminderClock

pytestmark = pytest.mark.django_db

User = get_user_model()
OURS = {"core", "auth", "plans", "incidents", "training", "directory"}


def history_url(obj, record=None):
    opts = obj._meta
    if record is None:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk])
    name = f"admin:{opts.app_label}_{opts.model_name}_simple_history"
    return reverse(name, args=[obj.pk, record.history_id])


def latest(obj):
    return obj.history.order_by("-history_date", "-history_id").first()


def assert_same_404(client, urls):
    """Each URL answers 404 with the same page (its own address aside), naming nothing secret."""
    pages = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 404, url
        pages.append(
            response.content.replace(url.encode(), b"URL").replace(url[1:].encode(), b"URL")
        )
    assert b"Secret" not in pages[0]
    assert all(page == pages[0] for page in pages)


def role(group, username):
    return factories.UserFactory(username=username, groups=[group], is_staff=True)


# 1. History "View" pages never write.


@pytest.mark.parametrize("group", [COMPLIANCE, COORDINATORS, PLAN_APPROVERS])
def test_no_role_makes_itself_superuser_through_its_own_history_page(client, group):
    user = role(group, "climber")
    client.force_login(user)
    before = user.history.count()
    now = timezone.now()
    response = client.post(
        history_url(user, latest(user)),
        {
            "username": "climber",
            "email": "climber@example.org",
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "date_joined_0": now.strftime("%Y-%m-%d"),
            "date_joined_1": now.strftime("%H:%M:%S"),
            "_save": "Save",
        },
    )
    assert response.status_code == 405
    user.refresh_from_db()
    assert not user.is_superuser
    assert user.history.count() == before


def test_compliance_cannot_rewrite_a_timeline_entry_through_its_history(client, compliance_user):
    coordinator = factories.coordinator(username="coord")
    incident = f.incident()
    entry = incident_services.timeline_note_add(
        incident=incident, actor=coordinator, text="Vendor confirmed the leak"
    )
    client.force_login(compliance_user)
    response = client.post(
        history_url(entry, latest(entry)),
        {
            "incident": incident.pk,
            "kind": "note",
            "author": compliance_user.pk,
            "text": "Nothing happened",
            "created_at_0": "2020-01-01",
            "created_at_1": "00:00:00",
        },
    )
    assert response.status_code == 405
    entry.refresh_from_db()
    assert (entry.text, entry.author) == ("Vendor confirmed the leak", coordinator)
    assert entry.history.count() == 1


def test_compliance_cannot_rewrite_a_plan_review_through_its_history(client, compliance_user):
    _, version, _, approver = published_plan()
    review = version.reviews.get(decision="approved")
    client.force_login(compliance_user)
    response = client.post(
        history_url(review, latest(review)),
        {"version": version.pk, "decision": "changes_requested", "reviewer": approver.pk},
    )
    assert response.status_code == 405
    review.refresh_from_db()
    assert review.decision == "approved" and review.history.count() == 1


def test_plan_approver_cannot_rewrite_a_draft_section_through_its_history(client, approver):
    plan = make_plan()
    section = draft_of(plan).sections.first()
    body = section.body
    client.force_login(approver)
    response = client.post(
        history_url(section, latest(section)),
        {"heading": section.heading, "body": "Rewritten by the approver", "key": section.key},
    )
    assert response.status_code == 405
    section.refresh_from_db()
    assert section.body == body
    assert approver not in section.version.editors.all()


@pytest.fixture
def secret(superuser):
    """A confidential incident with a row of every kind hanging off it."""
    incident = f.incident(factories.staff(username="whistle"), confidential=True, title="Secret")
    incident_services.timeline_note_add(incident=incident, actor=superuser, text="hush")
    incident_services.action_create(
        incident=incident, actor=superuser, kind="corrective", description="Rotate keys"
    )
    incident_services.communication_send(
        incident=incident, actor=superuser, subject="Secret", body="b", audience="a@example.org"
    )
    incident_services.incident_escalate(
        incident=incident,
        actor=superuser,
        level=EscalationLevel.INCIDENT_MANAGER,
        reason="r",
        to_user=superuser,
    )
    incident_services.review_save(incident=incident, actor=superuser, summary="Secret summary")
    return incident


def children(incident):
    return [
        incident,
        incident.timeline.first(),
        incident.actions.first(),
        incident.communications.first(),
        incident.escalations.first(),
        incident.review,
    ]


def test_off_team_coordinator_cannot_retitle_a_confidential_incident_via_history(client, secret):
    client.force_login(factories.coordinator(username="outsider"))
    url = history_url(secret, latest(secret))
    response = client.post(url, {"title": "Nothing to see", "confidential": ""})
    assert response.status_code == 405
    secret.refresh_from_db()
    assert (secret.title, secret.confidential) == ("Secret", True)
    assert client.get(url).status_code == 404


def test_history_of_everything_under_a_confidential_incident_is_hidden_off_team(
    client, secret, superuser
):
    outsider = factories.coordinator(username="outsider")
    member = factories.coordinator(username="member")
    incident_services.team_member_add(incident=secret, actor=superuser, user=member)
    for user, expected in ((outsider, 404), (member, 200)):
        client.force_login(user)
        for obj in children(secret):
            for url in (history_url(obj), history_url(obj, latest(obj))):
                assert client.get(url).status_code == expected, (user, url)


def test_a_hidden_version_answers_like_a_missing_one(client, secret, settings):
    settings.DEBUG = True
    client.force_login(factories.coordinator(username="outsider"))
    record = latest(secret)
    urls = [
        reverse("admin:incidents_incident_simple_history", args=[pk, record.history_id])
        for pk in (secret.pk, 987654)
    ]
    assert_same_404(client, urls)


def test_a_version_of_another_object_or_a_bad_id_is_not_found(client, compliance_user):
    one, other = f.incident(title="One"), f.incident(title="Other")
    client.force_login(compliance_user)
    assert client.get(history_url(one, latest(other))).status_code == 404
    for bad in ("x", "²", "1" * 30):
        url = reverse("admin:incidents_incident_simple_history", args=[one.pk, bad])
        assert client.get(url).status_code == 404, bad


def test_a_version_page_shows_the_old_values_read_only(client, coordinator):
    incident = f.incident(title="Old title")
    first = latest(incident)
    incident_services.incident_update(incident=incident, actor=coordinator, title="New title")
    client.force_login(coordinator)
    page = client.get(history_url(incident, first))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Old title" in html and "New title" not in html
    assert 'name="title"' not in html and 'name="_save"' not in html and "Revert" not in html


def test_a_user_version_page_shows_no_password_hash(client, compliance_user):
    person = factories.staff(username="person")
    client.force_login(compliance_user)
    page = client.get(history_url(person, latest(person)))
    assert page.status_code == 200
    assert person.password not in page.content.decode()
    assert "md5$" not in page.content.decode()


def test_history_pages_need_the_history_permission(client, approver, coordinator):
    plan = make_plan()
    version = draft_of(plan)
    for user, expected in ((approver, 403), (coordinator, 200)):
        client.force_login(user)
        assert client.get(history_url(version)).status_code == expected
        assert client.get(history_url(version, latest(version))).status_code == expected


def test_an_anonymous_reporter_stays_hidden_on_a_version_page(client, coordinator, compliance_user):
    reporter = factories.staff(username="rhea", first_name="Rhea", last_name="Porter")
    incident = f.incident(reporter, anonymous=True)
    url = history_url(incident, latest(incident))
    client.force_login(compliance_user)
    assert "Rhea Porter" in client.get(url).content.decode()  # the admin remembers no user
    client.force_login(coordinator)
    page = client.get(url).content.decode()
    assert "Rhea" not in page and "Anonymous (visible to compliance only)" in page


# 10. Every history page answers: 200 on GET, 405 on anything else.


@pytest.fixture
def one_of_each(superuser):
    """At least one row of every model an admin of ours shows."""
    plan, v1, author, _ = published_plan()
    plan_services.acknowledgement_create(
        version=v1,
        actor=author,
        proof=signer_proof(author),
        full_name=author.get_full_name(),
        content_hash=v1.content_hash,
    )
    plan_services.change_request_create(plan=plan, actor=author, summary="s")
    AcknowledgementNotice.objects.create(user=author, version=v1, kind="published")
    PlanReminderClock.objects.create(user=author)
    TrainingReminderClock.objects.create(user=author)
    f.targets()
    Category.objects.get_or_create(name="Other")
    EscalationRule.objects.create(priority="P1", level="2", to_user=superuser)
    MessageTemplate.objects.create(name="t", subject="s", body="b")
    incident = f.incident()
    incident_services.timeline_note_add(incident=incident, actor=superuser, text="n")
    incident_services.action_create(
        incident=incident, actor=superuser, kind="corrective", description="d"
    )
    incident_services.communication_send(
        incident=incident, actor=superuser, subject="s", body="b", audience="a@example.org"
    )
    incident_services.incident_escalate(
        incident=incident, actor=superuser, level="2", reason="r", to_user=superuser
    )
    incident_services.review_save(incident=incident, actor=superuser, summary="s")
    evidence = incident_services.attachment_add(
        incident=incident,
        actor=superuser,
        upload=SimpleUploadedFile("log.txt", b"gateway log\n", content_type="text/plain"),
    )
    incident_services.attachment_download(attachment=evidence, actor=superuser, via="admin")
    for name in ("Privacy", "Security", "Availability"):
        Category.objects.get_or_create(name=name)
    seed_obligations(superuser)
    privacy = f.incident(category=Category.objects.get(name="Privacy"))
    gdpr, *others = Obligation.objects.filter(category__name="Privacy").order_by("pk")
    incident_services.obligation_submit(
        incident=privacy, obligation=gdpr, actor=superuser, recipient="DPA", text="Report"
    )
    security = f.incident(category=Category.objects.get(name="Security"))
    early = Obligation.objects.filter(category__name="Security").order_by("pk").first()
    incident_services.obligation_not_applicable(
        incident=security, obligation=early, actor=superuser, reason="No service affected"
    )
    course = make_course(kind=Course.Kind.DRILL)
    session = make_session(course)
    (person,) = people(1)
    complete(person, course, timezone.now() - datetime.timedelta(hours=1), session=session)
    evaluation = training_services.evaluation_save(session=session, actor=superuser, findings="x")
    training_services.improvement_action_save(
        evaluation=evaluation, actor=superuser, description="Fix", plan=plan
    )
    directory_services.token_create(name="entra", actor=superuser)
    directory_services.user_provision(actor=superuser, username="provisioned", external_id="e")
    directory_services.group_create(actor=superuser, name="Provisioned", external_id="g")
    directory_services.oidc_link(
        user=factories.staff(username="linked"),
        issuer="https://login.example.org",
        subject="sub-1",
        actor=superuser,
    )


def our_admins():
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if hasattr(model_admin, "history_form_view")
    ]


def test_every_history_page_reads_and_refuses_writes(client, superuser, one_of_each):
    assert {m._meta.app_label for m, _ in our_admins()} == OURS - {"core"}
    client.force_login(superuser)
    for model, _ in our_admins():
        obj = model.objects.order_by("pk").first()
        assert obj is not None, model
        record = latest(obj)
        for url in (history_url(obj), history_url(obj, record)):
            assert client.get(url).status_code == 200, url
            for method in ("post", "put", "delete", "patch"):
                assert getattr(client, method)(url).status_code == 405, (method, url)


def test_history_posts_on_evidence_answer_405_not_a_server_error(client, superuser):
    _, version, author, _ = published_plan()
    ack, _ = plan_services.acknowledgement_create(
        version=version,
        actor=author,
        proof=signer_proof(author),
        full_name=author.get_full_name(),
        content_hash=version.content_hash,
    )
    section = version.sections.first()
    client.force_login(superuser)
    for obj in (ack, section):
        response = client.post(history_url(obj, latest(obj)), {"full_name": "B", "body": "x"})
        assert response.status_code == 405


def test_library_admins_history_pages_refuse_writes(client, superuser):
    group = factories.UserFactory(username="g", groups=["Somebody"]).groups.get()
    client.force_login(superuser)
    url = reverse("admin:auth_group_history", args=[group.pk])
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 405


# 3. Only the declared filters.

CHANGELIST = reverse("admin:incidents_incident_changelist")


def test_anonymous_reporters_are_not_named_by_a_lookup(client, coordinator, settings):
    settings.DEBUG = True  # a refusal, not a server error, in DEBUG as in production
    reporter = factories.staff(username="rhea")
    f.incident(reporter, anonymous=True)
    client.force_login(coordinator)
    answers = {
        client.get(CHANGELIST, {"anonymous__exact": 1, "reporter": pk}).status_code
        for pk in (reporter.pk, coordinator.pk)
    }
    assert answers == {400}


@pytest.mark.parametrize(
    "admin_name, query",
    [
        ("incidents_incident", "reporter={reporter}"),
        ("incidents_incident", "reporter__id={reporter}"),
        ("incidents_incident", "reporter__username=rhea"),
        ("incidents_incident", "anonymous__exact=1"),
        ("incidents_incident", "title__regex=("),
        ("incidents_incident", "status__exact=reported&reporter__id__exact={reporter}"),
        ("incidents_timelineentry", "incident__reporter={reporter}"),
        ("incidents_action", "incident__reporter__id__exact={reporter}"),
        ("incidents_postincidentreview", "incident__anonymous=1"),
        ("incidents_communication", "incident__reporter={reporter}"),
        ("incidents_escalation", "incident__confidential=1"),
        ("auth_user", "password__startswith=md5"),
        ("auth_user", "reported_incidents__anonymous=1"),
        ("plans_planversion", "plan__owner={reporter}"),
        ("plans_acknowledgement", "version__plan__owner={reporter}"),
        ("training_record", "user={reporter}"),
        ("axes_accessattempt", "username=rhea"),
        ("authtoken_tokenproxy", "key__startswith=a"),
        ("django_tasks_database_dbtaskresult", "args_kwargs__icontains=a"),
    ],
)
def test_undeclared_lookups_are_refused(client, superuser, admin_name, query):
    reporter = factories.staff(username="rhea")
    client.force_login(superuser)
    url = reverse(f"admin:{admin_name}_changelist") + "?" + query.format(reporter=reporter.pk)
    assert client.get(url).status_code == 400


@pytest.mark.parametrize(
    "admin_name, query",
    [
        ("incidents_incident", "open=yes&status__exact=reported&priority__exact=P3"),
        ("incidents_incident", "targets=breached&is_late__exact=0&confidential__exact=1"),
        ("incidents_incident", "category__id__exact=1&category__isnull=False"),
        ("auth_user", "is_staff__exact=1&groups__id__exact=1"),
        ("plans_acknowledgement", "version__plan__id__exact=1"),
        ("training_session", "course__kind__exact=drill&course__id__exact=1"),
        ("training_course", "required_for__id__exact=1"),
        (
            "axes_accessattempt",
            "attempt_time__gte=2026-01-01+00:00:00%2B00:00&attempt_time__lt=2027-01-01+00:00:00%2B00:00",
        ),
        ("axes_accessattempt", "attempt_time__year=2026&attempt_time__month=1&path_info=/x"),
        ("axes_accessfailurelog", "locked_out__exact=1"),
        ("authtoken_tokenproxy", "created__gte=2026-01-01+00:00:00%2B00:00"),
        ("django_tasks_database_dbtaskresult", "status__exact=READY"),
    ],
)
def test_declared_filters_still_work(client, superuser, admin_name, query):
    client.force_login(superuser)
    url = reverse(f"admin:{admin_name}_changelist") + "?" + query
    assert client.get(url).status_code == 200


def test_every_admin_on_the_site_refuses_an_undeclared_lookup(client, superuser):
    client.force_login(superuser)
    for model in admin.site._registry:
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert client.get(url, {"pk__gte": 0}).status_code == 400, url


# 16. The view-on-site shortcut.


def test_view_on_site_answers_alike_for_hidden_and_missing_incidents(client, secret, settings):
    settings.DEBUG = True
    client.force_login(factories.coordinator(username="outsider"))
    content_type = ContentType.objects.get_for_model(Incident)
    urls = [reverse("admin:view_on_site", args=[content_type.pk, pk]) for pk in (secret.pk, 987654)]
    assert_same_404(client, urls)


# 6. Autocomplete and popups.


@pytest.mark.parametrize(
    "model_name, field_name",
    [
        ("action", "incident"),
        ("communication", "incident"),
        ("postincidentreview", "incident"),
        ("timelineentry", "incident"),
        ("historicaltimelineentry", "incident"),
    ],
)
def test_autocomplete_offers_only_what_the_user_may_see(client, secret, model_name, field_name):
    client.force_login(factories.coordinator(username="outsider"))
    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "incidents",
            "model_name": model_name,
            "field_name": field_name,
            "term": "Secret",
        },
    )
    assert response.status_code == 200
    assert "Secret" not in response.content.decode()


def test_popups_show_no_hidden_rows_or_fields(client, secret):
    client.force_login(factories.coordinator(username="outsider"))
    popup = client.get(CHANGELIST, {"_popup": 1, "_to_field": "id", "q": "Secret"})
    assert popup.status_code == 200 and secret.reference not in popup.content.decode()
    assert client.get(CHANGELIST, {"_popup": 1, "_to_field": "reporter"}).status_code == 400
    assert client.get(CHANGELIST, {"_popup": 1, "_to_field": "title"}).status_code == 400


def test_response_target_history_shows_its_rows(client, superuser):
    f.targets()
    target = ResponseTarget.objects.get(priority="P1")
    client.force_login(superuser)
    assert "15" in client.get(history_url(target, latest(target))).content.decode()


def test_a_version_page_shows_the_groups_the_history_recorded(client, compliance_user):
    person = factories.UserFactory(username="mover", groups=["Alpha"])
    first = latest(person)
    person.groups.add(factories.UserFactory(username="b", groups=["Bravo"]).groups.get())
    client.force_login(compliance_user)
    html = client.get(history_url(person, first)).content.decode()
    assert "Alpha" in html and "Bravo" not in html


def test_a_sent_communication_page_opens(client, secret, superuser, compliance_user):
    communication = secret.communications.first()
    url = reverse("admin:incidents_communication_change", args=[communication.pk])
    for user in (superuser, compliance_user):
        client.force_login(user)
        page = client.get(url)
        assert page.status_code == 200 and 'name="subject"' not in page.content.decode()
