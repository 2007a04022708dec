"""The metrics dashboard and API (issue 14 item 6): the right numbers per group, the date
range in the reader's zone, the plan version in force, visibility, the CSV, fixed cost."""

import csv
import datetime
import io
import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.durations import duration_words
from core.timezones import time_zone_set
from incidents import metrics
from plans import services as plan_services
from tests import factories
from tests.incidents import factories as f
from tests.plans.factories import draft_of, fill, publish, published_plan

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("admin:incidents_incident_dashboard")
CHANGELIST = reverse("admin:incidents_incident_changelist")
API = "/api/v1/metrics/incidents/"
UTC = datetime.UTC
MIN, HOUR, DAY = 60, 3600, 86400


def at(day, hour=12, minute=0, month=3):
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def timed(incident, reported, ack=None, contain=None, recover=None):
    """Set an incident's phase times (seconds after the report) for the figures to read."""
    incident.reported_at = reported
    incident.occurred_at = reported - datetime.timedelta(minutes=5)
    for field, seconds in (
        ("acknowledged_at", ack),
        ("contained_at", contain),
        ("recovered_at", recover),
    ):
        setattr(
            incident,
            field,
            None if seconds is None else reported + datetime.timedelta(seconds=seconds),
        )
    incident.save()
    return incident


@pytest.fixture
def dataset(db):
    """Three incidents: two P1 Security ones in March, a P3 Network one in April."""
    f.targets()  # P1: acknowledge 15 min, contain 4 h, recover 24 h; P3: 4 h, 2 days, 7 days
    reporter = factories.staff(username="rep")
    security, network = f.category("Security"), f.category("Network")
    a = timed(
        f.incident(reporter, impact=1, urgency=1, category=security, title="A"),
        at(10),
        ack=10 * MIN,
        contain=2 * HOUR,
        recover=30 * HOUR,
    )
    b = timed(
        f.incident(reporter, impact=1, urgency=1, category=security, title="B"),
        at(20),
        ack=20 * MIN,
    )
    c = timed(
        f.incident(reporter, impact=3, urgency=3, category=network, title="C"),
        at(5, month=4),
        ack=2 * HOUR,
        contain=DAY,
        recover=3 * DAY,
    )
    return a, b, c


def rows_by_label(rows):
    return {row["label"]: row for row in rows}


def test_durations_read_in_minutes_hours_or_days():
    assert duration_words(None) is None
    assert duration_words(14 * MIN + 20) == "14 min"
    assert duration_words(90 * MIN) == "1.5 h"
    assert duration_words(30 * HOUR) == "30 h"
    assert duration_words(3 * DAY) == "3 days"
    assert duration_words(3.25 * DAY) == "3.2 days"


def test_the_figures_by_month_category_and_priority(dataset, coordinator):
    m = metrics.incident_metrics(coordinator)
    assert m["incidents"] == 3
    assert m["mean_seconds_to_acknowledge"] == (10 * MIN + 20 * MIN + 2 * HOUR) / 3
    assert m["mean_time_to_acknowledge"] == "50 min"
    assert m["mean_minutes_to_acknowledge"] == 50.0  # the first version's field, kept
    assert m["targets_met_percent"] == {"acknowledge": 66.7, "contain": 100.0, "recover": 50.0}

    months = rows_by_label(m["breakdowns"]["by_month"])
    assert list(months) == ["Mar 2026", "Apr 2026"]
    march, april = months["Mar 2026"], months["Apr 2026"]
    assert march["key"] == "2026-03" and march["incidents"] == 2
    assert march["mean_seconds_to_acknowledge"] == 15 * MIN
    assert march["mean_time_to_acknowledge"] == "15 min"
    assert march["mean_time_to_contain"] == "2 h"  # only A was contained
    assert march["mean_time_to_recover"] == "30 h"
    assert march["targets_met_percent"] == {"acknowledge": 50.0, "contain": 100.0, "recover": 0.0}
    assert april["mean_time_to_acknowledge"] == "2 h"
    assert april["mean_time_to_contain"] == "24 h"
    assert april["mean_time_to_recover"] == "3 days"
    assert april["targets_met_percent"] == {
        "acknowledge": 100.0,
        "contain": 100.0,
        "recover": 100.0,
    }

    categories = rows_by_label(m["breakdowns"]["by_category"])
    assert categories["Security"]["incidents"] == 2
    assert categories["Security"]["mean_seconds_to_acknowledge"] == 15 * MIN
    assert categories["Network"]["mean_seconds_to_recover"] == 3 * DAY

    priorities = rows_by_label(m["breakdowns"]["by_priority"])
    assert list(priorities) == ["P1", "P2", "P3", "P4"]
    assert priorities["P1"]["incidents"] == 2 and priorities["P3"]["incidents"] == 1
    assert (
        priorities["P2"]["incidents"] == 0 and priorities["P2"]["mean_time_to_acknowledge"] is None
    )
    assert m["by_priority"] == {"P1": 2, "P2": 0, "P3": 1, "P4": 0}
    assert m["by_month"] == [
        {"month": "2026-03-01", "count": 2},
        {"month": "2026-04-01", "count": 1},
    ]


def test_the_date_range_counts_what_was_reported_within_it(dataset, coordinator):
    m = metrics.incident_metrics(coordinator, since=at(1, 0, month=4), until=at(1, 0, month=5))
    assert m["incidents"] == 1
    assert [row["label"] for row in m["breakdowns"]["by_month"]] == ["Apr 2026"]
    assert m["mean_time_to_acknowledge"] == "2 h"


def test_the_dashboard_range_is_whole_days_in_the_readers_zone(dataset, client, coordinator):
    a, b, c = dataset
    # 23:30 UTC on 31 March is 01:30 on 1 April in Berlin.
    timed(b, datetime.datetime(2026, 3, 31, 23, 30, tzinfo=UTC), ack=20 * MIN)
    time_zone_set(user=coordinator, actor=coordinator, time_zone="Europe/Berlin")
    client.force_login(coordinator)
    page = client.get(DASHBOARD, {"since": "2026-04-01", "until": "2026-04-30"})
    assert page.status_code == 200
    m = page.context["m"]
    assert m["incidents"] == 2  # B (1 April in Berlin) and C
    assert [row["label"] for row in m["breakdowns"]["by_month"]] == ["Apr 2026"]
    assert "Europe/Berlin" in page.content.decode()
    one_day = client.get(DASHBOARD, {"since": "2026-04-05", "until": "2026-04-05"})
    assert one_day.context["m"]["incidents"] == 1  # "to" is inclusive: C, reported that day
    bad = client.get(DASHBOARD, {"since": "2026-04-05", "until": "2026-04-01"})
    assert bad.status_code == 200 and bad.context["m"] is None
    assert "before its start" in bad.content.decode()
    assert client.get(DASHBOARD, {"since": "tomorrow"}).context["m"] is None


def _changelist_rows(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode().count('class="action-select"')


def test_each_tile_and_row_links_to_the_list_it_counts(dataset, client, coordinator):
    a, b, c = dataset
    b.is_late = True
    b.occurred_at = b.reported_at - datetime.timedelta(days=3)
    b.save()
    client.force_login(coordinator)
    context = client.get(DASHBOARD, {"since": "2026-03-01", "until": "2026-04-30"}).context
    tiles = {tile["id"]: tile for tile in context["tiles"]}
    assert _changelist_rows(client, tiles["incidents"]["url"]) == 3
    assert (
        _changelist_rows(client, tiles["late-reports"]["url"])
        == 1
        == tiles["late-reports"]["value"]
    )
    assert _changelist_rows(client, tiles["open"]["url"]) == tiles["open"]["value"] == 3
    for tile in ("escalations", "open-actions-past-due"):
        assert client.get(tiles[tile]["url"]).status_code == 200
    for section in context["sections"]:
        for row in section["rows"]:
            assert _changelist_rows(client, row["url"]) == row["cells"][0], (section["key"], row)
    # A narrower range narrows the links too: March alone holds A and B.
    march = client.get(DASHBOARD, {"since": "2026-03-01", "until": "2026-03-31"}).context
    assert _changelist_rows(client, march["tiles"][0]["url"]) == 2


def test_by_plan_version_in_force_compares_versions(client, coordinator):
    f.targets()
    plan, v1, author, approver = published_plan(code="IRP")
    governed = f.category("Governed", plan=plan)
    reporter = factories.staff(username="rep")
    old = timed(f.incident(reporter, category=governed, title="under v1"), at(2), ack=3 * HOUR)
    draft = plan_services.version_create_draft(plan=plan, actor=author)
    v2 = publish(fill(draft_of(plan), author, "Better"), author=author, approver=approver)
    assert draft.pk == v2.pk
    new = f.incident(reporter, category=governed, title="under v2")
    assert (old.plan_version, new.plan_version) == (v1, v2)
    timed(new, at(3), ack=30 * MIN)
    timed(f.incident(reporter, category=f.category("Ungoverned"), title="no plan"), at(4), ack=HOUR)

    versions = rows_by_label(metrics.incident_metrics(coordinator)["breakdowns"]["by_plan_version"])
    assert list(versions) == ["IRP v1", "IRP v2", "No plan in force"]
    assert versions["IRP v1"]["mean_time_to_acknowledge"] == "3 h"
    assert versions["IRP v2"]["mean_time_to_acknowledge"] == "30 min"
    assert versions["IRP v2"]["version"] == 2 and versions["IRP v2"]["key"] == v2.pk
    assert versions["No plan in force"]["incidents"] == 1

    client.force_login(coordinator)
    section = next(
        s for s in client.get(DASHBOARD).context["sections"] if s["key"] == "by_plan_version"
    )
    for row in section["rows"]:
        assert _changelist_rows(client, row["url"]) == 1
    assert client.get(CHANGELIST, {"plan_version": "x1"}).status_code == 200


def test_confidential_incidents_count_only_for_those_who_may_see_them(
    dataset, api, client, coordinator, compliance_user
):
    secret = f.incident(factories.staff(username="whistle"), confidential=True, title="Secret")
    timed(secret, at(15), ack=5 * MIN)
    assert metrics.incident_metrics(coordinator)["incidents"] == 3
    assert metrics.incident_metrics(compliance_user)["incidents"] == 4
    body = api(coordinator).get(API).json()
    assert body["incidents"] == 3
    assert sum(row["incidents"] for row in body["breakdowns"]["by_month"]) == 3
    assert api(compliance_user).get(API).json()["incidents"] == 4
    client.force_login(coordinator)
    page = client.get(DASHBOARD).context
    assert page["m"]["incidents"] == 3
    assert _changelist_rows(client, page["tiles"][0]["url"]) == 3


class Tables(HTMLParser):
    """The dashboard's breakdown tables as lists of cell texts."""

    def __init__(self):
        super().__init__()
        self.sections, self.row, self.cell, self.title = [], None, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self.sections.append([])
        elif tag == "tr" and self.sections:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.sections[-1].append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def test_the_csv_holds_exactly_what_the_page_shows(dataset, client, coordinator):
    client.force_login(coordinator)
    params = {"since": "2026-03-01", "until": "2026-04-30"}
    page = client.get(DASHBOARD, params)
    html = page.content.decode()
    parser = Tables()
    parser.feed(html)
    response = client.get(DASHBOARD, params | {"export": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert "incident-metrics-2026-03-01-to-2026-04-30.csv" in response["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    blank = lines.index([])
    tiles, table = lines[1:blank], lines[blank + 2 :]
    for label, value, note in tiles:
        assert re.search(
            rf">{re.escape(label)}<strong>{re.escape(value)}</strong><small>{re.escape(note)}</small>",
            html,
        ), label
    assert len(tiles) == len(page.context["tiles"])
    shown = []
    for section, rows in zip(page.context["sections"], parser.sections, strict=True):
        header, *body = rows
        assert header[1:] == lines[blank + 1][2:]
        shown += [[section["title"], *row] for row in body if row[0] != "All incidents"]
    assert table[0][:2] == ["All", "All incidents"]
    assert table[1:] == shown
    assert [
        "Month reported",
        "Mar 2026",
        "2",
        "2",
        "15 min",
        "2 h",
        "30 h",
        "50 %",
        "100 %",
        "0 %",
    ] in shown


def test_the_charts_are_svg_with_titles_coloured_by_css(dataset, client, coordinator):
    client.force_login(coordinator)
    html = client.get(DASHBOARD).content.decode()
    assert html.count('<svg class="chart" role="img"') == 8
    assert "<title id=" in html and "Incidents by category</title>" in html
    assert "<title>Mar 2026 · MTTA: 15 min</title>" in html
    assert 'class="chart-s0"' in html and "var(--chart-1)" in html
    assert ':root[data-theme="dark"]' in html  # the chart colours have dark-mode values


def _grow(n, reporter, categories):
    for i in range(n):
        incident = f.incident(
            reporter, impact=1 + i % 4, urgency=1 + i % 3, category=categories[i % len(categories)]
        )
        timed(incident, at(1 + i % 28, month=1 + i % 9), ack=(i + 1) * MIN, contain=(i + 2) * HOUR)


def test_the_figures_cost_the_same_queries_at_two_sizes(api, client, coordinator):
    f.targets()
    reporter = factories.staff(username="rep")
    plan, *_ = published_plan(code="IRP")
    categories = [f.category("Security", plan=plan), f.category("Network"), None]
    _grow(3, reporter, categories)
    client.force_login(coordinator)
    client.get(DASHBOARD)  # warm the permission caches

    def costs():
        with CaptureQueriesContext(connection) as direct:
            metrics.incident_metrics(coordinator)
        with CaptureQueriesContext(connection) as page:
            assert client.get(DASHBOARD).status_code == 200
        with CaptureQueriesContext(connection) as csv_export:
            b"".join(client.get(DASHBOARD, {"export": "csv"}).streaming_content)
        with CaptureQueriesContext(connection) as endpoint:
            assert api(coordinator).get(API).status_code == 200
        return len(direct), len(page), len(csv_export), len(endpoint)

    small = costs()
    _grow(40, reporter, [*categories, f.category("Hardware"), f.category("People")])
    large = costs()
    assert metrics.incident_metrics(coordinator)["incidents"] == 43
    assert small == large, (small, large)
    # 8 for the figures of the first dashboard, +1 obligations met, +1 responder readiness.
    assert small[0] <= 10


@pytest.mark.parametrize(
    "query",
    [
        "since=bad",
        "until=2026-13-01T00:00:00Z",
        "since=2026-04-01T00:00:00Z&until=2026-03-01T00:00:00Z",
        "since=2026-04-01T00:00:00Z&until=2026-04-01T00:00:00Z",
        "since=2026-04-01%00",
        "since=99999-01-01T00:00:00Z",
    ],
)
def test_the_api_refuses_a_bad_range(api, coordinator, query):
    response = api(coordinator).get(f"{API}?{query}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) & {"since", "until"} or "NUL" in body["detail"]  # says what was wrong


def test_the_api_answers_the_breakdowns_in_its_schema(dataset, api, coordinator):
    body = (
        api(coordinator).get(f"{API}?since=2026-03-01T00:00:00Z&until=2026-05-01T00:00:00Z").json()
    )
    assert body["incidents"] == 3 and body["time_zone"] == "UTC"
    assert set(body["breakdowns"]) == {"by_month", "by_category", "by_priority", "by_plan_version"}
    march = body["breakdowns"]["by_month"][0]
    assert (
        march["mean_seconds_to_acknowledge"] == 900
        and march["mean_time_to_acknowledge"] == "15 min"
    )
    schema = api(coordinator).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    component = schema["components"]["schemas"]["Metrics"]
    assert "breakdowns" in component["properties"]
    assert "by_plan_version" in schema["components"]["schemas"]["Breakdowns"]["properties"]


def test_the_admin_index_links_the_dashboard_for_those_who_may_read_it(client, coordinator):
    client.force_login(coordinator)
    index = client.get(reverse("admin:index")).content.decode()
    assert f'<a href="{DASHBOARD}">Incident dashboard</a>' in index
    approver = factories.approver(username="only-plans")
    client.force_login(approver)
    assert "Incident dashboard" not in client.get(reverse("admin:index")).content.decode()
