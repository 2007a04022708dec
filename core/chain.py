"""The history hash chain: every history row carries a SHA-256 chained to the row before it.

One chain per history table, in `history_id` order. A row's `chain_hash` is
`sha256(chain_previous + content)` in hex, where `chain_previous` is the `chain_hash` of the
table's row just before it ("" for the first) and `content` is the row's canonical JSON
(`canonical_content`; the recipe is published in docs/evidence.md so that a script outside
the system recomputes it from the audit export, which carries `content`).

The hash is set once, at INSERT (`ChainedHistory.save`): the history tables refuse UPDATE
(core.evidence), so a row cannot be sealed afterwards. Two writers must not both chain onto
the same last row: on PostgreSQL each takes a transaction-level advisory lock keyed by the
table before it reads the last hash, and holds it until its transaction ends (the insert, and
so the id the sequence hands out, happen under the lock: id order is chain order); SQLite
serialises writers already (every transaction is IMMEDIATE, config/settings.py).

The many-to-many history tables (a plan's audience at each version) are written by
simple-history's `bulk_create`, bypassing `save`: they are append-only (core.evidence) but
not chained.
"""

import datetime
import decimal
import hashlib
import json
import uuid
import zlib
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connections, models, router, transaction

CHAIN_FIELDS = ("chain_previous", "chain_hash")
GENESIS = ""
# pg_advisory_xact_lock(class, object): the class names our chains, the object the table.
LOCK_CLASS = 0x48495354  # "HIST"


class ChainedHistory(models.Model):
    """The base of every historical model (core.history.AuditedHistoricalRecords)."""

    chain_previous = models.CharField(
        max_length=64,
        blank=True,
        default="",
        editable=False,
        help_text="chain_hash of the row before this one in its table ('' for the first).",
    )
    chain_hash = models.CharField(
        max_length=64,
        blank=True,
        default="",
        editable=False,
        help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).",
    )

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            return super().save(*args, **kwargs)  # refused by the database (append-only)
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        # savepoint=False: inside a service's transaction this costs no SAVEPOINT round trip.
        with transaction.atomic(using=using, savepoint=False):
            self.chain_previous = chain_head(type(self), connections[using])
            self.chain_hash = chain_hash(self.chain_previous, canonical_content(self))
            return super().save(*args, **kwargs)


def lock_key(table):
    """The advisory lock's object key for one table: a signed 32-bit number."""
    value = zlib.crc32(table.encode())
    return value - (1 << 32) if value >= (1 << 31) else value


def chain_head(history_model, connection):
    """The `chain_hash` of the table's last row, with the chain locked for this transaction."""
    table = history_model._meta.db_table
    quote = connection.ops.quote_name
    pk = quote(history_model._meta.pk.column)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_CLASS, lock_key(table)])
        cursor.execute(f"SELECT chain_hash FROM {quote(table)} ORDER BY {pk} DESC LIMIT 1")
        row = cursor.fetchone()
    return row[0] if row else GENESIS


def chain_hash(previous, content):
    return hashlib.sha256((previous + content).encode("utf-8")).hexdigest()


def content_fields(history_model):
    """The columns a row's content covers: all but the chain's own and the surrogate key."""
    pk = history_model._meta.pk.attname
    return [f for f in history_model._meta.concrete_fields if f.attname not in CHAIN_FIELDS + (pk,)]


def _plain(field, value):
    """One value as canonical JSON holds it."""
    if value is None:
        return None
    try:
        value = field.to_python(value)  # the same type whether it came from Python or the database
    except ValidationError:
        pass
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value // datetime.timedelta(microseconds=1)
    if isinstance(value, decimal.Decimal):
        places = getattr(field, "decimal_places", None)
        if places is not None:
            value = value.quantize(decimal.Decimal(1).scaleb(-places))
        return format(value, "f")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value  # a JSON field's lists and dicts


def canonical_content(row):
    """The row's canonical JSON: {"model": history model label, "fields": {column: value}},
    keys sorted, no spaces, UTF-8 (see docs/evidence.md)."""
    history_model = type(row)
    content = {
        "model": history_model._meta.label_lower,
        "fields": {
            f.attname: _plain(f, getattr(row, f.attname)) for f in content_fields(history_model)
        },
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chained_history_models(apps=None):
    from core.evidence import history_models

    found = history_models(apps) if apps is not None else history_models()
    return [m for m in found if issubclass(m, ChainedHistory)]


@dataclass
class Break:
    """The first row where a chain does not hold."""

    model: str
    history_id: int
    problem: str

    def __str__(self):
        return f"{self.model} history_id={self.history_id}: {self.problem}"


def walk(history_model, chunk_size=2000):
    """(rows checked, the first Break or None) for one table's chain."""
    previous, previous_id, checked = GENESIS, None, 0
    label = history_model._meta.label_lower
    rows = history_model._base_manager.order_by("pk").iterator(chunk_size=chunk_size)
    for row in rows:
        checked += 1
        if row.chain_previous != previous:
            after = f"history_id={previous_id}" if previous_id is not None else "the start"
            return checked, Break(
                label,
                row.pk,
                f"its chain_previous does not match the hash of the row before it ({after}): "
                "a row was removed before it, or it was inserted out of order",
            )
        if row.chain_hash != chain_hash(previous, canonical_content(row)):
            return checked, Break(
                label, row.pk, "altered: its content no longer matches its chain_hash"
            )
        previous, previous_id = row.chain_hash, row.pk
    return checked, None


def backfill(apps, schema_editor, app_label):
    """Seal the rows an app's history tables held before the chain existed, in id order.

    For the migrations adding the chain: the guards are lifted for the update (SQLite's table
    rebuild has dropped them already); the `post_migrate` handler puts them back."""
    from core.evidence import remove_guards_of

    connection = schema_editor.connection
    history_models = [
        m
        for m in apps.get_app_config(app_label).get_models()
        if {f.name for f in m._meta.fields} >= set(CHAIN_FIELDS)
    ]
    remove_guards_of(connection, history_models)
    for history_model in history_models:
        previous = GENESIS
        manager = history_model._base_manager.using(connection.alias)
        for row in manager.order_by("pk").iterator(chunk_size=2000):
            sealed = chain_hash(previous, canonical_content(row))
            manager.filter(pk=row.pk).update(chain_previous=previous, chain_hash=sealed)
            previous = sealed
