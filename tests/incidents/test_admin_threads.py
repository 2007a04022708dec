"""Two people, two threads, one admin instance: neither page renders with the other's rights."""

import threading

import pytest
from django.test import Client
from django.urls import reverse

from incidents import queries, services
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


def _rendezvous(monkeypatch, module, name):
    """Make each thread's first call of `module.name` wait for the other thread's, so both
    requests are in flight at once, past their setup and before their rendering."""
    barrier = threading.Barrier(2, timeout=20)
    seen = threading.local()
    original = getattr(module, name)

    def waiting(*args, **kwargs):
        if not getattr(seen, "done", False):
            seen.done = True
            barrier.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, waiting)


def _in_two_threads(*jobs):
    results = [None] * len(jobs)

    def run(i, job):
        try:
            results[i] = job()
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _page(user, url):
    client = Client()
    client.force_login(user)
    return lambda: client.get(url).content.decode()


def test_an_anonymous_reporter_stays_hidden_whoever_renders_at_the_same_time(monkeypatch):
    reporter = factories.staff(username="whistle", first_name="Wanda", last_name="Whistle")
    incident = f.incident(reporter, anonymous=True)
    compliance = factories.compliance(username="audit")
    coordinator = factories.coordinator(username="coord")
    url = reverse("admin:incidents_incident_change", args=[incident.pk])
    _rendezvous(monkeypatch, queries, "sees_reporter_identity")
    seen_by_compliance, seen_by_coordinator = _in_two_threads(
        _page(compliance, url), _page(coordinator, url)
    )
    assert "Wanda Whistle" in seen_by_compliance
    assert "Wanda Whistle" not in seen_by_coordinator
    assert "Anonymous" in seen_by_coordinator


def test_the_incident_list_shows_each_reader_their_own_incidents_at_the_same_time(monkeypatch):
    root = factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    on_team = factories.coordinator(username="on-team")
    off_team = factories.coordinator(username="off-team")
    secret = f.incident(confidential=True, title="Secret merger leak")
    services.team_member_add(incident=secret, actor=root, user=on_team)
    f.incident(title="Printer on fire")
    url = reverse("admin:incidents_incident_changelist")
    _rendezvous(monkeypatch, queries, "targets_by_priority")
    seen_on_team, seen_off_team = _in_two_threads(_page(on_team, url), _page(off_team, url))
    assert "Secret merger leak" in seen_on_team and "Printer on fire" in seen_on_team
    assert "Secret merger leak" not in seen_off_team and "Printer on fire" in seen_off_team
