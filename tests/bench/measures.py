"""The benchmark's measures: each read through django.test.Client, beside its one-SQL floor.

A floor is the same rows fetched by ONE hand-written SQL query and serialised
with json.dumps, in the same run. Where a page shows a total (the paginated
API lists, the admin changelist), the floor's one query returns it too, as a
scalar subquery: the page cannot be produced without it. The incident lists' total is taken
as the app takes it (the tally the database keeps, plus the confidential incidents the reader
may see), so the floor is the best one SQL query can do, not a strawman.
"""

from contextlib import contextmanager
from unittest import mock

from django.db import connection, models
from django.test import Client, override_settings
from django.utils import timezone

from core.chain import ChainedHistory
from incidents import metrics
from incidents import services as incident_services
from incidents.models import OPEN_STATUSES, Action, Incident, TimelineEntry
from training.queries import compliance_count_sql, due_soon_window

from .harness import measure, sql_floor, streamed_memory_mb

JSON = {"HTTP_ACCEPT": "application/json"}

# Who may see an incident, as incidents.queries.visible_incidents says for a coordinator.
VISIBLE_TO_COORDINATOR = """(
    i.confidential = %s OR i.incident_manager_id = %s OR i.reporter_id = %s
    OR EXISTS (SELECT 1 FROM incidents_teammember t WHERE t.incident_id = i.id AND t.user_id = %s)
)"""


# The total of what a coordinator may see, as incidents.queries.visible_count takes it: the
# database-kept tally of non-confidential incidents + the confidential ones they may see.
VISIBLE_TOTAL = f"""((SELECT public_count FROM incidents_incident_tally)
    + (SELECT COUNT(*) FROM incidents_incident i WHERE i.confidential AND {VISIBLE_TO_COORDINATOR}))"""


def _visible_params(user):
    return [False, user.pk, user.pk, user.pk]


def _get(client, url, expect=200):
    def run():
        response = client.get(url, **JSON)
        assert response.status_code == expect, (url, response.status_code, response.content[:300])
        if getattr(response, "streaming", False):
            return sum(len(chunk) for chunk in response.streaming_content)
        return len(response.content)

    return run


def admin_changelist_floor(user, per_page):
    sql = f"""
        SELECT i.id, i.reference, i.title, i.priority, i.status, c.name AS category,
               m.username AS manager_username, m.first_name AS manager_first_name,
               m.last_name AS manager_last_name, i.reported_at, i.is_late,
               i.acknowledged_at, i.contained_at, i.recovered_at, i.last_update_at,
               {VISIBLE_TOTAL} AS total
        FROM incidents_incident i
        LEFT JOIN incidents_category c ON c.id = i.category_id
        LEFT JOIN auth_user m ON m.id = i.incident_manager_id
        WHERE {VISIBLE_TO_COORDINATOR}
        ORDER BY i.reported_at DESC, i.id DESC
        LIMIT {int(per_page)}
    """
    return sql_floor(sql, _visible_params(user) * 2)


LIST_COLUMNS = """i.id, i.reference, i.title, i.description, i.affected_service, i.category_id,
    c.name AS category_name, i.impact, i.urgency, i.priority, i.status, i.occurred_at,
    i.reported_at, i.is_late, i.confidential, i.anonymous, i.incident_manager_id,
    i.reporter_id, i.acknowledged_at, i.contained_at, i.recovered_at, i.last_update_at"""


def api_list_floor(user, page_size):
    sql = f"""
        SELECT {LIST_COLUMNS},
               {VISIBLE_TOTAL} AS total
        FROM incidents_incident i
        LEFT JOIN incidents_category c ON c.id = i.category_id
        WHERE {VISIBLE_TO_COORDINATOR}
        ORDER BY i.reported_at DESC, i.id DESC
        LIMIT {int(page_size)}
    """
    return sql_floor(sql, _visible_params(user) * 2)


def api_detail_floor(user, incident_id):
    sql = f"""
        SELECT {LIST_COLUMNS}, i.observed_impact, i.actions_taken, i.plan_version_id,
               i.investigating_at, i.eradicated_at, i.closed_at, i.cancelled_at,
               i.reopened_count, t.user_id AS team_user, t.role AS team_role,
               t.added_at AS team_added_at
        FROM incidents_incident i
        LEFT JOIN incidents_category c ON c.id = i.category_id
        LEFT JOIN incidents_teammember t ON t.incident_id = i.id
        WHERE i.id = %s AND {VISIBLE_TO_COORDINATOR}
    """
    return sql_floor(sql, [incident_id, *_visible_params(user)])


AUDIENCE_MEMBER = """EXISTS (
    SELECT 1 FROM auth_user_groups g JOIN plans_plan_audience pa ON pa.group_id = g.group_id
    WHERE g.user_id = {ref} AND pa.plan_id = %s
)"""


def dashboard_floor(user):
    """The dashboard's figures in ONE query: every breakdown and the totals as grouping sets
    of one scan (PostgreSQL), with the targets met against each priority's target and the
    escalation and past-due action counts as scalar subqueries."""
    phases = (
        ("ack", "acknowledged_at", "acknowledge_minutes"),
        ("contain", "contained_at", "contain_minutes"),
        ("recover", "recovered_at", "recover_minutes"),
    )
    measures = ",\n".join(
        f"""AVG(i.{field} - i.reported_at) AS {name}_mean,
            COUNT(*) FILTER (WHERE i.{field} IS NOT NULL AND t.id IS NOT NULL) AS {name}_done,
            COUNT(*) FILTER (WHERE i.{field} <= i.reported_at + t.{minutes} * INTERVAL '1 minute')
                AS {name}_met"""
        for name, field, minutes in phases
    )
    sql = f"""
        SELECT GROUPING(date_trunc('month', i.reported_at AT TIME ZONE 'UTC'), i.category_id,
                        c.name, i.priority, i.plan_version_id, p.code, v.number) AS grouping,
               date_trunc('month', i.reported_at AT TIME ZONE 'UTC') AS month,
               i.category_id, c.name AS category, i.priority, i.plan_version_id,
               p.code AS plan_code, v.number AS version,
               COUNT(*) AS n,
               COUNT(*) FILTER (WHERE i.status = ANY(%s)) AS n_open,
               COUNT(*) FILTER (WHERE i.is_late) AS late,
               COUNT(*) FILTER (WHERE i.reopened_count > 0) AS reopened,
               {measures},
               (SELECT COUNT(*) FROM incidents_escalation e JOIN incidents_incident i ON
                    i.id = e.incident_id WHERE {VISIBLE_TO_COORDINATOR}) AS escalations,
               (SELECT COUNT(*) FROM incidents_action a JOIN incidents_incident i ON
                    i.id = a.incident_id WHERE a.status = ANY(%s) AND a.due_date < CURRENT_DATE
                    AND {VISIBLE_TO_COORDINATOR}) AS actions_past_due
        FROM incidents_incident i
        LEFT JOIN incidents_category c ON c.id = i.category_id
        LEFT JOIN incidents_responsetarget t ON t.priority = i.priority
        LEFT JOIN plans_planversion v ON v.id = i.plan_version_id
        LEFT JOIN plans_plan p ON p.id = v.plan_id
        WHERE {VISIBLE_TO_COORDINATOR}
        GROUP BY GROUPING SETS ((), (date_trunc('month', i.reported_at AT TIME ZONE 'UTC')),
                                (i.category_id, c.name), (i.priority),
                                (i.plan_version_id, p.code, v.number))
    """
    if connection.vendor != "postgresql":
        # The smoke test's SQLite has no grouping sets: the same groups by UNION ALL, counts
        # only (the benchmark itself runs on PostgreSQL).
        groups = ("NULL", "i.category_id", "i.priority", "i.plan_version_id")
        sql = " UNION ALL ".join(
            f"SELECT {key} AS k, COUNT(*) AS n FROM incidents_incident i"
            f" WHERE {VISIBLE_TO_COORDINATOR}" + ("" if key == "NULL" else f" GROUP BY {key}")
            for key in groups
        )
        return sql_floor(sql, _visible_params(user) * len(groups))
    open_statuses = [str(status) for status in OPEN_STATUSES]
    outstanding = [str(status) for status in Action.OUTSTANDING]
    params = [open_statuses, *_visible_params(user), outstanding, *_visible_params(user)]
    return sql_floor(sql, [*params, *_visible_params(user)])


def ack_compliance_floor(version_id):
    with connection.cursor() as cursor:
        cursor.execute("SELECT plan_id FROM plans_planversion WHERE id = %s", [version_id])
        (plan_id,) = cursor.fetchone()
    sql = f"""
        SELECT u.id, u.username, u.first_name, u.last_name,
          (SELECT COUNT(*) FROM auth_user a
            WHERE a.is_active = %s AND {AUDIENCE_MEMBER.format(ref="a.id")}) AS audience,
          (SELECT COUNT(*) FROM plans_acknowledgement k JOIN auth_user a ON a.id = k.user_id
            WHERE k.version_id = %s AND a.is_active = %s AND {AUDIENCE_MEMBER.format(ref="a.id")}
          ) AS acknowledged
        FROM auth_user u
        WHERE u.is_active = %s AND {AUDIENCE_MEMBER.format(ref="u.id")}
          AND NOT EXISTS (SELECT 1 FROM plans_acknowledgement k
                          WHERE k.version_id = %s AND k.user_id = u.id)
        ORDER BY u.last_name, u.first_name, u.username, u.id
    """
    params = [True, plan_id, version_id, True, plan_id, True, plan_id, version_id]
    return sql_floor(sql, params)


def _training_sql(limit=None, with_total=False):
    latest = """(SELECT r.{col} FROM training_record r
        WHERE r.user_id = m.user_id AND r.course_id = rc.course_id AND r.status = 'completed'
        ORDER BY r.completed_at DESC, r.id DESC LIMIT 1)"""
    rows = """
        FROM auth_user_groups m
        JOIN auth_user u ON u.id = m.user_id
        JOIN training_course_required_for rc ON rc.group_id = m.group_id
        JOIN training_course c ON c.id = rc.course_id
        WHERE u.is_active = %s AND NOT EXISTS (
            SELECT 1 FROM auth_user_groups m2
            JOIN training_course_required_for rc2 ON rc2.group_id = m2.group_id
            WHERE m2.user_id = m.user_id AND m2.group_id < m.group_id
              AND rc2.course_id = rc.course_id)
    """
    # The total as the app takes it (training.queries.compliance_count's one query, the
    # cheapest we know), as a scalar subquery.
    total_sql, total_params = compliance_count_sql()
    total = f", ({total_sql}) AS total" if with_total else ""
    sql = f"""
        SELECT m.user_id, rc.course_id, u.username, u.first_name, u.last_name, u.email,
               c.title AS course_title, c.kind AS course_kind,
               {latest.format(col="completed_at")} AS last_completed_at,
               {latest.format(col="valid_until")} AS valid_until,
               CASE WHEN NOT EXISTS (SELECT 1 FROM training_record r WHERE r.user_id = m.user_id
                                     AND r.course_id = rc.course_id AND r.status = 'completed')
                    THEN 'never'
                    WHEN {latest.format(col="valid_until")} IS NULL THEN 'current'
                    WHEN {latest.format(col="valid_until")} <= %s THEN 'overdue'
                    WHEN {latest.format(col="valid_until")} <= %s THEN 'due_soon'
                    ELSE 'current' END AS state
               {total}
        {rows}
        ORDER BY u.last_name, u.first_name, u.username, m.user_id, c.title, rc.course_id
    """
    if limit:
        sql += f" LIMIT {int(limit)}"
    return sql, total_params if with_total else []


def training_floor(limit=None, with_total=False):
    def run():
        now = timezone.now()
        sql, total_params = _training_sql(limit, with_total)
        return sql_floor(sql, [now, now + due_soon_window(), *total_params, True])()

    return run


def save_with_history(actor, incident_id, enabled):
    counter = {"n": 0}

    def run():
        counter["n"] += 1
        incident = Incident.objects.get(pk=incident_id)
        with override_settings(SIMPLE_HISTORY_ENABLED=enabled):
            incident_services.incident_update(
                incident=incident,
                actor=actor,
                reason="Bench edit",
                actions_taken=f"Bench edit {counter['n']} ({'with' if enabled else 'no'} history)",
            )

    return run


@contextmanager
def chain_off():
    """History rows written without their chain link (ChainedHistory.save bypassed): the
    "without" side of the chain's cost. The rows it leaves break the bench database's chain."""
    with mock.patch.object(ChainedHistory, "save", models.Model.save):
        yield


def save_without_chain(actor, incident_id):
    run = save_with_history(actor, incident_id, True)

    def unchained():
        with chain_off():
            run()

    return unchained


def bundle_floor(incident_id):
    """The bundle's floor: its largest part, the incident's history rows, by one SQL query
    (the incident's and its timeline's tables), serialised with json.dumps."""
    sql = """
        SELECT h.history_id, h.history_date, h.history_type, h.text, h.chain_hash
          FROM incidents_historicaltimelineentry h WHERE h.incident_id = %s
        UNION ALL
        SELECT h.history_id, h.history_date, h.history_type, h.title, h.chain_hash
          FROM incidents_historicalincident h WHERE h.id = %s
        ORDER BY 2 DESC, 1 DESC"""
    return sql_floor(sql, [incident_id, incident_id])


def run_all(data, *, repeat=40, warmup=3, heavy=True, heavy_repeat=None, heavy_warmup=1, log=print):
    """Every measure once over `data` (a dataset.Dataset); returns harness Results in order.

    The full CSV export (every row) takes `heavy_repeat` samples after `heavy_warmup`, and is
    left out when `heavy` is false (the runner measures it in one round of several)."""
    heavy_repeat = heavy_repeat or repeat
    coordinator = Client()
    coordinator.force_login(data.coordinator)
    auditor = Client()
    auditor.force_login(data.compliance)
    results = []

    def add(result, **extra):
        result.extra.update(extra)
        results.append(result)
        log(
            f"  {result.name:<28} {result.queries:>3} q  median {result.median_ms:>9.1f} ms"
            f"  floor {result.floor_median_ms or 0:>9.1f} ms"
        )

    per_page = 50  # IncidentAdmin.list_per_page (core.admin.AuditedAdmin)
    add(
        measure(
            "admin_incident_changelist",
            _get(coordinator, "/admin/incidents/incident/"),
            admin_changelist_floor(data.coordinator, per_page),
            repeat=repeat,
            warmup=warmup,
        ),
        rows=per_page,
    )
    add(
        measure(
            "admin_obligations_filter",
            _get(coordinator, "/admin/incidents/incident/?obligation=breached"),
            admin_changelist_floor(data.coordinator, per_page),
            repeat=repeat,
            warmup=warmup,
        ),
        rows=per_page,
    )
    add(
        measure(
            "admin_incident_workspace",
            _get(coordinator, f"/admin/incidents/incident/{data.incident_id}/change/"),
            api_detail_floor(data.coordinator, data.incident_id),
            repeat=repeat,
            warmup=warmup,
        ),
        rows=1,
    )
    add(
        measure(
            "api_incident_list",
            _get(coordinator, "/api/v1/incidents/?page_size=100"),
            api_list_floor(data.coordinator, 100),
            repeat=repeat,
            warmup=warmup,
        ),
        rows=100,
    )
    add(
        measure(
            "api_incident_detail",
            _get(coordinator, f"/api/v1/incidents/{data.incident_id}/"),
            api_detail_floor(data.coordinator, data.incident_id),
            repeat=repeat,
            warmup=warmup,
        ),
        rows=1,
    )
    add(
        measure(
            "admin_incident_dashboard",
            _get(coordinator, "/admin/incidents/incident/dashboard/"),
            dashboard_floor(data.coordinator),
            repeat=repeat,
            warmup=warmup,
        ),
        # Every figure aggregates every incident the coordinator sees: judged per incident.
        rows=metrics.incident_metrics(data.coordinator)["incidents"],
    )
    response = auditor.get(f"/api/v1/plan-versions/{data.version_id}/compliance/", **JSON)
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    add(
        measure(
            "ack_compliance",
            _get(auditor, f"/api/v1/plan-versions/{data.version_id}/compliance/"),
            ack_compliance_floor(data.version_id),
            repeat=repeat,
            warmup=warmup,
        ),
        rows=len(body["outstanding_users"]),
        audience=body["audience"],
        acknowledged=body["acknowledged"],
    )
    add(
        measure(
            "training_compliance_page",
            _get(auditor, "/api/v1/training/compliance/"),
            training_floor(limit=25, with_total=True),
            repeat=repeat,
            warmup=warmup,
        ),
        rows=25,
    )
    if heavy:
        csv_url = "/admin/training/course/compliance.csv"
        peak_mb, size = streamed_memory_mb(lambda: auditor.get(csv_url))
        csv = measure(
            "training_compliance_csv",
            _get(auditor, csv_url),
            training_floor(),
            repeat=heavy_repeat,
            warmup=min(heavy_warmup, warmup),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) FROM ({_training_sql()[0]}) x", [timezone.now()] * 2 + [True]
            )
            (csv_rows,) = cursor.fetchone()
        add(csv, rows=csv_rows, streamed_memory_mb=round(peak_mb, 2), bytes=size)
        bundle_url = f"/api/v1/incidents/{data.incident_id}/evidence/"
        # The first bundle of a process also pays its imports (WeasyPrint and its fonts:
        # once per server process, whatever the incident): that one is reported apart, and
        # the target is judged on the bundle's own memory, the second one's.
        cold_mb, _ = streamed_memory_mb(lambda: auditor.get(bundle_url))
        peak_mb, size = streamed_memory_mb(lambda: auditor.get(bundle_url))
        bundle = measure(
            "incident_evidence_bundle",
            _get(auditor, bundle_url),
            bundle_floor(data.incident_id),
            repeat=heavy_repeat,
            warmup=min(heavy_warmup, warmup),
        )
        history_rows = TimelineEntry.history.filter(incident_id=data.incident_id).count()
        add(
            bundle,
            rows=history_rows,
            streamed_memory_mb=round(peak_mb, 2),
            first_in_process_memory_mb=round(cold_mb, 2),
            bytes=size,
        )
    add(
        measure(
            "incident_save_history",
            save_with_history(data.coordinator, data.incident_id, True),
            save_with_history(data.coordinator, data.incident_id, False),
            repeat=repeat,
            warmup=warmup,
        ),
        rows=1,
    )
    add(
        measure(
            "history_chain_write",
            save_with_history(data.coordinator, data.incident_id, True),
            save_without_chain(data.coordinator, data.incident_id),
            repeat=repeat,
            warmup=warmup,
        ),
        rows=1,
    )
    return results
