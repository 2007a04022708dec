"""The one history diff engine: what each version changed, for the admin's history pages and the
API's `…/history/` alike, with one way of masking what a reader may not see.

Why not simple-history's `diff_against` (issue 13 proposed it; 3.13 is installed): it compares
through Django's `model_to_dict`, which skips every field that is not editable (an incident's
status, priority and phase times: the changes an auditor looks for first), and fails with a
KeyError when one is named in `included_fields` (tests/core/test_history_diff_engine.py
proves both); it reads each many-to-many with two queries per pair of versions (a page of 100
versions: 200 queries); and it diffs only versions of one object that sit on the same page. Here every tracked column is compared, many-to-many fields are read in one query per
field for a whole page, and a version's predecessor may come from outside the page.

Raw values (`Version.changes`) feed the API unchanged; `describe` turns them into words for
people: choices by label, people by full name, other records by their str(), "none" for empty.
"""

import datetime
import json
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import OuterRef, Q, Subquery
from django.utils import formats, timezone
from django.utils.text import Truncator, capfirst

from core.chain import CHAIN_FIELDS

HISTORY_META_FIELDS = {
    *CHAIN_FIELDS,  # the row's seal (core.chain), not a change anyone made
    "history_id",
    "history_date",
    "history_user",
    "history_user_id",
    "history_type",
    "history_change_reason",
    "history_relation",
}
NONE = "none"
HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}
LONGEST_TEXT = 200  # characters of a text field shown in a list of changes


@dataclass(frozen=True)
class Mask:
    """What a reader may not see in some records' history: the values of `fields`, and the
    person who made a change when it is one of `actors` (shown as nobody)."""

    fields: frozenset = frozenset()
    actors: frozenset = frozenset()

    def hides_actor(self, user_id):
        return user_id is not None and user_id in self.actors


NO_MASK = Mask()


@dataclass
class Version:
    """One history record and the fields it changed: {name: (old, new)} in raw values."""

    record: Any
    changes: dict = field(default_factory=dict)
    history_user_id: Any = None


def tracked_fields(history_model):
    """The history model's own copies of the tracked columns (foreign keys kept as keys)."""
    return [
        f
        for f in history_model._meta.concrete_fields
        if f.attname not in HISTORY_META_FIELDS and f.name not in HISTORY_META_FIELDS
    ]


def m2m_fields(history_model):
    """The many-to-many fields (of the tracked model) a historical model tracks."""
    return list(getattr(history_model, "_history_m2m_fields", []))


def m2m_names(history_model):
    return [f.name for f in m2m_fields(history_model)]


def _m2m_snapshot(records):
    """{(history_id, m2m name): sorted related ids} for historical records of one model,
    one query per many-to-many field."""
    records = [r for r in records if r is not None]
    if not records:
        return {}
    history_model = type(records[0])
    tracked = records[0].instance_type
    ids = [r.history_id for r in records]
    names = m2m_names(history_model)
    snapshot = {(hid, name): [] for hid in ids for name in names}
    for name in names:
        through = getattr(records[0], name).model
        target = next(
            f
            for f in through._meta.fields
            if f.is_relation and f.name != "history" and f.related_model is not tracked
        )
        rows = through.objects.filter(history_id__in=ids).values_list("history_id", target.attname)
        for hid, target_id in rows:
            snapshot[(hid, name)].append(target_id)
    return {key: sorted(values) for key, values in snapshot.items()}


def _value(record, name, attname, m2m):
    if record is None:
        return None
    if (record.history_id, name) in m2m:
        return m2m[(record.history_id, name)]
    return getattr(record, attname)


def diff(pairs, mask=NO_MASK):
    """[(record, the same object's previous record or None)] → [Version], in the same order.

    All records are of one history model. A creation (or a record with no predecessor)
    lists the values it was given; later ones the fields whose value differs."""
    pairs = list(pairs)
    if not pairs:
        return []
    history_model = type(pairs[0][0])
    m2m = _m2m_snapshot([r for pair in pairs for r in pair])
    names = [(f.name, f.attname) for f in tracked_fields(history_model)]
    names += [(name, name) for name in m2m_names(history_model)]
    versions = []
    for record, before in pairs:
        changes = {}
        for name, attname in names:
            if name in mask.fields or attname in mask.fields:
                continue
            new = _value(record, name, attname, m2m)
            if record.history_type == "+" or before is None:
                if new not in (None, "", []):
                    changes[name] = (None, new)
                continue
            old = _value(before, name, attname, m2m)
            if old != new:
                changes[name] = (old, new)
        actor = None if mask.hides_actor(record.history_user_id) else record.history_user_id
        versions.append(Version(record, changes, actor))
    return versions


def consecutive(records, previous):
    """Pairs for records of ONE object, newest first; `previous` is the record just older
    than the last of them (or None)."""
    records = list(records)
    return list(zip(records, records[1:] + [previous], strict=True))


def with_predecessors(history_model, history_ids):
    """Pairs for any records of one history model (several objects): each record with the
    previous record of the same object, in two queries whatever their number."""
    pk = history_model.instance_type._meta.pk.attname
    newer = Q(history_date__lt=OuterRef("history_date")) | Q(
        history_date=OuterRef("history_date"), history_id__lt=OuterRef("history_id")
    )
    before = (
        history_model._default_manager.filter(newer, **{pk: OuterRef(pk)})
        .order_by("-history_date", "-history_id")
        .values("history_id")[:1]
    )
    records = list(
        history_model._default_manager.filter(history_id__in=history_ids)
        .select_related("history_user")
        .annotate(previous_history_id=Subquery(before))
    )
    wanted = [r.previous_history_id for r in records if r.previous_history_id is not None]
    previous = history_model._default_manager.in_bulk(wanted) if wanted else {}
    return [(r, previous.get(r.previous_history_id)) for r in records]


def _plain(value):
    """A raw value as JSON holds it (dates as ISO 8601, decimals as strings)."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def as_entry(version):
    """The API's shape of one version (`changes: {field: {old, new}}`, raw values)."""
    record = version.record
    named = version.history_user_id is not None
    return {
        "history_id": record.history_id,
        "history_date": record.history_date,
        "history_user": version.history_user_id,
        "history_user_name": record.history_user.get_username() if named else None,
        "history_type": HISTORY_TYPES[record.history_type],
        "history_change_reason": record.history_change_reason,
        "changes": {
            name: {"old": _plain(old), "new": _plain(new)}
            for name, (old, new) in version.changes.items()
        },
    }


def history_entries(records, previous, *, hidden_fields=(), mask=NO_MASK):
    """API entries for records of one object (newest first), `previous` as in `consecutive`."""
    if hidden_fields:
        mask = Mask(fields=mask.fields | frozenset(hidden_fields), actors=mask.actors)
    return [as_entry(v) for v in diff(consecutive(records, previous), mask)]


# ---- Words for people -------------------------------------------------------------------


def person_name(user):
    """A person as the admin shows them: full name, username when they have none."""
    if user is None:
        return NONE
    return user.get_full_name() or user.get_username()


def _related(field_, history_model):
    """The model a column or many-to-many of a history model points to, or None."""
    if field_.many_to_many:
        return field_.related_model
    if field_.is_relation:
        return history_model.instance_type._meta.get_field(field_.name).related_model
    return None


def _names(versions):
    """{(model, pk): words} for every record the changes point to: one query per model."""
    wanted = {}
    for version in versions:
        history_model = type(version.record)
        for name, (old, new) in version.changes.items():
            model = _related(_field(history_model, name), history_model)
            if model is None:
                continue
            for value in (old, new):
                values = value if isinstance(value, list) else [value]
                wanted.setdefault(model, set()).update(v for v in values if v is not None)
    names = {}
    User = get_user_model()
    for model, pks in wanted.items():
        rows = model._base_manager.filter(pk__in=pks)
        if model is User:
            names.update({(model, u.pk): person_name(u) for u in rows})
            continue
        # str() of most of our records reads one foreign key (a version's plan): joined here.
        joined = [f.name for f in model._meta.concrete_fields if f.many_to_one]
        names.update({(model, obj.pk): str(obj) for obj in rows.select_related(*joined)})
    return names


def _field(history_model, name):
    for m2m in m2m_fields(history_model):
        if m2m.name == name:
            return m2m
    return history_model._meta.get_field(name)


def _words(field_, value, related, names):
    if value in (None, "", []):
        return NONE
    if related is not None:
        values = value if isinstance(value, list) else [value]
        words = [
            names.get((related, v)) or f"deleted {related._meta.verbose_name} #{v}" for v in values
        ]
        return ", ".join(sorted(words))
    if field_.choices:
        return str(dict(field_.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        return formats.localize(timezone.localtime(value))
    if isinstance(value, str):
        return Truncator(value).chars(LONGEST_TEXT)
    return formats.localize(value)


def describe(versions):
    """[[{"field", "old", "new"} in words]] for each version (any models), a fixed number of
    queries: one per model the changes point to. Primary keys are left out (noise)."""
    names = _names(versions)
    described = []
    for version in versions:
        history_model = type(version.record)
        pk = history_model.instance_type._meta.pk.name
        rows = []
        for name, (old, new) in sorted(version.changes.items()):
            if name == pk:
                continue
            field_ = _field(history_model, name)
            related = _related(field_, history_model)
            rows.append(
                {
                    "field": capfirst(field_.verbose_name),
                    "old": _words(field_, old, related, names),
                    "new": _words(field_, new, related, names),
                }
            )
        described.append(rows)
    return described
