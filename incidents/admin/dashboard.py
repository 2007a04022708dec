"""The metrics dashboard (`/admin/incidents/incident/dashboard/`): a date range, tiles, four
breakdowns with their charts, and a CSV of exactly what the page shows.

The figures come from `incidents.metrics.incident_metrics`; this module only lays them out.
The date range is typed in the reader's zone and covers whole days: from the start of the
"from" day to the end of the "to" day. Every tile and every row of a breakdown links to the
list it counts (the incident list, or the escalation and action lists for those tiles),
narrowed by the list's own filters, so the list applies the same visibility as the number.
"""

import datetime
from urllib.parse import urlencode

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from core.charts import bar_chart
from core.durations import HOUR, duration_words
from core.exports import csv_response

from .. import metrics

SERIES = ("MTTA", "MTTC", "MTTR")
BREAKDOWNS = (
    ("by_month", "Month reported"),
    ("by_category", "Category"),
    ("by_priority", "Priority"),
    ("by_plan_version", "Plan version in force"),
)
COLUMNS = (
    "Incidents",
    "Open",
    "Mean time to acknowledge",
    "Mean time to contain",
    "Mean time to recover",
    "Acknowledge target met",
    "Contain target met",
    "Recover target met",
)


class DateRangeForm(forms.Form):
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="To (inclusive)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            raise forms.ValidationError("The end of the range is before its start.")
        return data

    def bounds(self):
        """[since, until) as aware datetimes in the active (the reader's) zone."""

        def start_of(day):
            return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))

        since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
        return (
            start_of(since) if since else None,
            start_of(until + datetime.timedelta(days=1)) if until else None,
        )


def _list_url(name, params):
    url = reverse(name)
    return f"{url}?{urlencode(params)}" if params else url


def _range_params(since, until, prefix="reported_at"):
    params = {}
    if since:
        params[f"{prefix}__gte"] = str(timezone.localtime(since))
    if until:
        params[f"{prefix}__lt"] = str(timezone.localtime(until))
    return params


def _month_bounds(key, since, until):
    year, month = (int(part) for part in key.split("-"))
    start = timezone.make_aware(datetime.datetime(year, month, 1))
    end = timezone.make_aware(datetime.datetime(year + month // 12, month % 12 + 1, 1))
    return max(start, since) if since else start, min(end, until) if until else end


def _row_params(breakdown, row, since, until):
    """The incident list's filters that select one row of a breakdown."""
    if breakdown == "by_month":
        return _range_params(*_month_bounds(row["key"], since, until))
    params = _range_params(since, until)
    if breakdown == "by_category":
        if row["key"] is None:
            params["category__isnull"] = "True"
        else:
            params["category__id__exact"] = row["key"]
    elif breakdown == "by_priority":
        params["priority__exact"] = row["key"]
    elif breakdown == "by_plan_version":
        params["plan_version"] = "none" if row["key"] is None else row["key"]
    return params


def _percent(value):
    return "—" if value is None else f"{value:g} %"


def _cells(row):
    """A row's figures as the page writes them (and the CSV repeats them)."""
    return [
        row["incidents"],
        row["open"],
        *(row[f"mean_time_to_{name}"] or "—" for name in metrics.PHASES),
        *(_percent(row["targets_met_percent"][name]) for name in metrics.PHASES),
    ]


def _hours(seconds):
    return seconds / HOUR


def _tiles(m, since, until):
    incidents = "admin:incidents_incident_changelist"
    in_range = _range_params(since, until)
    met = m["targets_met_percent"]

    def tile(label, value, note="", url_name=incidents, **extra):
        return {
            "id": slugify(label.split(" (")[0]),
            "label": label,
            "value": value,
            "note": note,
            "url": _list_url(url_name, in_range | extra if url_name == incidents else extra),
        }

    of_incidents = _range_params(since, until, prefix="incident__reported_at")
    tiles = [
        tile("Incidents", m["incidents"], f"{m['open']} open"),
        tile("Open", m["open"], "not closed or cancelled", open="yes"),
        tile(
            "Unclassified",
            m["unclassified"],
            "awaiting triage",
            category__isnull="True",
            open="yes",
        ),
    ]
    for name, short in zip(metrics.PHASES, SERIES, strict=True):
        tiles.append(tile(f"Mean time to {name} ({short})", m[f"mean_time_to_{name}"] or "—", ""))
    for name in metrics.PHASES:
        tiles.append(tile(f"{name.capitalize()} target met", _percent(met[name])))
    tiles += [
        tile("Late reports", m["late_reports"], "", is_late__exact="1"),
        tile("Reopened", m["reopened"], "", reopened="yes"),
        tile(
            "Escalations",
            m["escalations"],
            f"{m['automatic_escalations']} automatic",
            url_name="admin:incidents_escalation_changelist",
            **of_incidents,
        ),
        tile(
            "Notification obligations met",
            _percent(m["obligations_met"]["met_percent"]),
            f"{m['obligations_met']['met']} of {m['obligations_met']['due']} due",
            obligation="met",
        ),
        tile(
            "Notification obligations breached",
            m["obligations_met"]["incidents_breached"],
            f"incidents; {m['obligations_met']['incidents_at_risk']} at risk",
            obligation="breached",
        ),
        tile(
            "Handled by a team fully current on its plan",
            _percent(m["readiness"]["fully_ready_percent"]),
            f"{m['readiness']['fully_ready']} of {m['readiness']['recorded']} incidents",
            readiness="ready",
        ),
        tile(
            "Open actions past due",
            m["open_actions_past_due"],
            "",
            url_name="admin:incidents_action_changelist",
            past_due="yes",
            **of_incidents,
        ),
    ]
    return tiles


def _sections(m, since, until):
    sections = []
    for key, title in BREAKDOWNS:
        rows = m["breakdowns"][key]
        sections.append(
            {
                "key": key,
                "title": title,
                "rows": [
                    {
                        "label": row["label"],
                        "url": _list_url(
                            "admin:incidents_incident_changelist",
                            _row_params(key, row, since, until),
                        ),
                        "cells": _cells(row),
                    }
                    for row in rows
                ],
                "count_chart": bar_chart(
                    title=f"Incidents by {title.lower()}",
                    rows=[(row["label"], [row["incidents"]]) for row in rows],
                    series=("Incidents",),
                ),
                "times_chart": bar_chart(
                    title=f"Mean times to acknowledge, contain and recover by {title.lower()}",
                    rows=[
                        (
                            row["label"],
                            [
                                None
                                if row[f"mean_seconds_to_{name}"] is None
                                else _hours(row[f"mean_seconds_to_{name}"])
                                for name in metrics.PHASES
                            ],
                        )
                        for row in rows
                    ],
                    series=SERIES,
                    words=lambda hours: duration_words(hours * HOUR),
                ),
            }
        )
    return sections


def dashboard_context(request):
    """What the page shows, from the query string (`since`, `until`: days in the reader's
    zone); `form` carries the errors of a bad range, and then nothing is counted."""
    form = DateRangeForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return {"form": form, "m": None}
    since, until = form.bounds() if form.is_bound else (None, None)
    m = metrics.incident_metrics(request.user, since=since, until=until)
    total = {"label": "All incidents", "cells": _cells(m)}
    query = request.GET.copy()
    query["export"] = "csv"
    return {
        "form": form,
        "m": m,
        "since": since,
        "until_shown": until - datetime.timedelta(days=1) if until else None,
        "tiles": _tiles(m, since, until),
        "total": total,
        "sections": _sections(m, since, until),
        "columns": COLUMNS,
        "csv_url": f"?{query.urlencode()}",
        "zone": timezone.get_current_timezone_name(),
    }


def dashboard_csv(context):
    """The page's figures as a CSV: the tiles, then each breakdown's table, cell for cell."""

    def rows():
        yield ["Measure", "Value", "Note"]
        for tile in context["tiles"]:
            yield [tile["label"], tile["value"], tile["note"]]
        yield []
        yield ["Breakdown", "Group", *COLUMNS]
        yield ["All", context["total"]["label"], *context["total"]["cells"]]
        for section in context["sections"]:
            for row in section["rows"]:
                yield [section["title"], row["label"], *row["cells"]]

    m = context["m"]
    since = timezone.localtime(m["since"]).date().isoformat() if m["since"] else "start"
    until = context["until_shown"].date().isoformat() if context["until_shown"] else "today"
    header, *body = list(rows())
    return csv_response(
        filename=f"incident-metrics-{since}-to-{until}.csv", header=header, rows=iter(body)
    )
