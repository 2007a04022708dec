"""The audit log: every history entry of every tracked model, newest first, for Compliance.

Core knows no app: what a reader may see of an app's history, and which mask applies, each
app says in its `history_visibility` module (found through core.discovery), a function
`history_rules(user)` returning {tracked model: HistoryRule}. A model no app names is shown
whole.

One page is one UNION over the history tables (each part ordered and cut to the page size,
so no table is counted or read past the page), keyset-paginated on (history_date, table,
history_id), then a fixed number of queries per history table on the page: two for the rows
and their predecessors (core.history_diff), one per many-to-many field, one for the labels,
and the app's masks. The CSV export walks the same pages, so its memory is one page.
"""

import datetime
import json
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import IntegerField, Q, Value
from simple_history.utils import get_history_model_for_model

from core import history_diff
from core.chain import ChainedHistory, canonical_content
from core.discovery import app_modules
from core.evidence import history_models

PAGE_SIZE = 50
CSV_HEADER = [
    "model",
    "object_id",
    "object",
    "history_id",
    "history_type",
    "history_date",
    "history_user",
    "history_user_name",
    "history_change_reason",
    "changes",
    "previous_hash",
    "hash",
    "content",
]


@dataclass
class HistoryRule:
    """What one reader may see of one model's history: `visible(history rows) → rows` narrows
    them (None: all), `masks(records) → {history_id: Mask}` hides values or people."""

    visible: Any = None
    masks: Any = None


@dataclass(frozen=True)
class AuditFilters:
    model: Any = None  # a tracked model class
    object_id: int | None = None
    user: int | None = None
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None


def tracked_models():
    """{app_label.model: tracked model} for every chained history table (not the m2m ones)."""
    found = {}
    for history_model in history_models():
        if issubclass(history_model, ChainedHistory):
            tracked = history_model.instance_type
            found[tracked._meta.label_lower] = tracked
    return dict(sorted(found.items()))


def history_rules(user):
    rules = {}
    for _config, module in app_modules("history_visibility"):
        rules.update(module.history_rules(user))
    return rules


class Source:
    """One history table as the audit log reads it for this reader and these filters."""

    def __init__(self, index, model, rule, filters):
        self.index, self.model = index, model
        self.history_model = get_history_model_for_model(model)
        self.rule = rule or HistoryRule()
        self.pk = model._meta.pk.attname
        rows = self.history_model._default_manager.all()
        if self.rule.visible is not None:
            rows = self.rule.visible(rows)
        if filters.object_id is not None:
            rows = rows.filter(**{self.pk: filters.object_id})
        if filters.user is not None:
            rows = rows.filter(history_user_id=filters.user)
        if filters.since is not None:
            rows = rows.filter(history_date__gte=filters.since)
        if filters.until is not None:
            rows = rows.filter(history_date__lte=filters.until)
        self.rows = rows

    def keys(self, after, limit):
        """(history_date, source, history_id) of this table's first `limit` rows after `after`."""
        rows = self.rows
        if after is not None:
            date, index, history_id = after
            if self.index < index:
                rows = rows.filter(history_date__lte=date)
            elif self.index == index:
                rows = rows.filter(
                    Q(history_date__lt=date) | Q(history_date=date, history_id__lt=history_id)
                )
            else:
                rows = rows.filter(history_date__lt=date)
        # The cut is a subquery: SQLite allows no LIMIT in a part of a UNION.
        first = rows.order_by("-history_date", "-history_id").values("history_id")[:limit]
        return (
            self.history_model._default_manager.filter(history_id__in=first)
            .annotate(audit_source=Value(self.index, output_field=IntegerField()))
            .values_list("history_date", "audit_source", "history_id")
            .order_by()
        )


def sources(user, filters):
    rules = history_rules(user)
    models = [filters.model] if filters.model is not None else tracked_models().values()
    return [Source(n, model, rules.get(model), filters) for n, model in enumerate(models)]


def scoped_sources(user, scopes):
    """Sources over chosen rows (an evidence bundle's): `scopes` is [(model, {lookup: value})].

    The reader's rules (history_visibility) still apply on top of the scope."""
    rules = history_rules(user)
    parts = []
    for index, (model, lookups) in enumerate(scopes):
        source = Source(index, model, rules.get(model), AuditFilters())
        source.rows = source.rows.filter(**lookups)
        parts.append(source)
    return parts


def page_keys(parts, after, limit):
    """The next `limit` keys over every source, newest first: one query."""
    queries = [source.keys(after, limit) for source in parts]
    union = queries[0].union(*queries[1:], all=True) if len(queries) > 1 else queries[0]
    return list(union.order_by("-history_date", "-audit_source", "-history_id")[:limit])


def _label_joins(model):
    """The foreign keys a record's label may read, two levels deep (an acknowledgement's label
    names its version, whose label names its plan): joined, so labels cost one query."""
    joins = []
    for field in model._meta.concrete_fields:
        if field.many_to_one:
            joins.append(field.name)
            joins.extend(
                f"{field.name}__{inner.name}"
                for inner in field.related_model._meta.concrete_fields
                if inner.many_to_one and inner.related_model is not model
            )
    return joins


def _labels(source, object_ids):
    joined = _label_joins(source.model)
    live = source.model._base_manager.filter(pk__in=object_ids).select_related(*joined)
    names = {row.pk: str(row) for row in live}
    kind = source.model._meta.verbose_name
    return {i: names.get(i, f"{kind} #{i} (removed)") for i in object_ids}


def _versions(source, history_ids):
    pairs = history_diff.with_predecessors(source.history_model, history_ids)
    masks = source.rule.masks([record for record, _ in pairs]) if source.rule.masks else {}
    by_mask = {}
    for pair in pairs:
        by_mask.setdefault(masks.get(pair[0].history_id, history_diff.NO_MASK), []).append(pair)
    versions = {}
    for mask, group in by_mask.items():
        for version in history_diff.diff(group, mask):
            version.mask = mask
            versions[version.record.history_id] = version
    return versions


def shown_content(version):
    """The row's canonical content (core.chain), or "" when the reader's mask hides something
    in it: the content is the whole row (an anonymous incident's `reporter_id`, a confidential
    source, the actor), so a reader who may not see a value may not see the content that holds
    it. Compliance reads every row unmasked, so the audit log lets them recompute every link."""
    mask = getattr(version, "mask", history_diff.NO_MASK)
    if mask.fields or mask.hides_actor(version.record.history_user_id):
        return ""
    return canonical_content(version.record)


def entries(parts, keys):
    """The audit entries of `keys` (from page_keys), in their order."""
    wanted = {}
    for _date, index, history_id in keys:
        wanted.setdefault(index, []).append(history_id)
    versions, labels = {}, {}
    for index, ids in wanted.items():
        source = parts[index]
        found = _versions(source, ids)
        versions.update({(index, hid): version for hid, version in found.items()})
        object_ids = {getattr(version.record, source.pk) for version in found.values()}
        labels[index] = _labels(source, object_ids)
    rows = []
    for _date, index, history_id in keys:
        source, version = parts[index], versions[(index, history_id)]
        entry = history_diff.as_entry(version)
        object_id = getattr(version.record, source.pk)
        rows.append(
            {
                "model": source.model._meta.label_lower,
                "object_id": object_id,
                "object": labels[index][object_id],
                **entry,
                "history_user": None
                if entry["history_user"] is None
                else {"id": entry["history_user"], "name": _name(version.record)},
                "previous_hash": version.record.chain_previous,
                "hash": version.record.chain_hash,
                "content": shown_content(version),
            }
        )
    return rows


def _name(record):
    return history_diff.person_name(record.history_user)


def audit_page(user, filters, *, after=None, limit=PAGE_SIZE):
    """(entries, the key to continue after or None)."""
    parts = sources(user, filters)
    keys = page_keys(parts, after, limit + 1)
    more = len(keys) > limit
    keys = keys[:limit]
    return entries(parts, keys), (keys[-1] if more and keys else None)


def audit_csv_rows(user, filters, chunk=500):
    """Every entry the reader may see as a CSV row (CSV_HEADER), a page at a time."""
    return csv_rows(sources(user, filters), chunk)


def csv_rows(parts, chunk=500):
    """The entries of `parts` as CSV rows, read `chunk` at a time (constant memory)."""
    after = None
    while True:
        keys = page_keys(parts, after, chunk)
        for entry in entries(parts, keys):
            person = entry["history_user"] or {}
            yield [
                entry["model"],
                entry["object_id"],
                entry["object"],
                entry["history_id"],
                entry["history_type"],
                entry["history_date"].isoformat(),
                person.get("id"),
                person.get("name"),
                entry["history_change_reason"],
                json.dumps(entry["changes"], sort_keys=True, cls=DjangoJSONEncoder),
                entry["previous_hash"],
                entry["hash"],
                entry["content"],
            ]
        if len(keys) < chunk:
            return
        after = keys[-1]


def record_csv_rows(instance, mask=history_diff.NO_MASK, chunk=500):
    """One record's own history (its `…/history/` endpoint) as the audit log's CSV rows."""
    source = Source(
        0,
        type(instance),
        HistoryRule(masks=lambda records: {r.history_id: mask for r in records}),
        AuditFilters(object_id=instance.pk),
    )
    return csv_rows([source], chunk)
