"""Reading an attendance sign-in sheet (CSV): parse, look up and check every row before import.

Columns (header row required, order free, names case-insensitive):
``username`` (or ``email``), ``session`` (the session's id, shown in the admin's session
list, or its title and date: ``Tabletop 2026-03-14``, ``Tabletop (14 Mar 2026)`` as the
admin shows it, or the title with the date in an optional ``session_date`` column; the
title is the session's, or its course's when it has none, the date that of its start in
the site's time zone), ``status`` (a record status,
by value or label: ``completed``, ``No-show``…), optional ``completed_at`` (ISO
date or date-time; a date means the end of that day's session or midnight UTC)
and optional ``score`` (0–100, the record's own limits). See docs/training.md for a sample.
"""

import csv
import datetime
import io
import re
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.parsing import parse_id, parse_int
from core.workflow import may_become

from . import queries
from .models import Record, Session

User = get_user_model()
MAX_ROWS = 5000
MAX_ID = 2**63 - 1

_STATUS_BY_NAME = {}
for _value, _label in Record.Status.choices:
    _STATUS_BY_NAME[_value.lower()] = _value
    _STATUS_BY_NAME[_label.lower()] = _value
    _STATUS_BY_NAME[_label.lower().replace("-", "_").replace(" ", "_")] = _value


# "Title 2026-03-14", "Title (2026-03-14)", "Title, 2026-03-14", "Title (14 Mar 2026)".
_TITLE_AND_DATE = re.compile(
    r"^(?P<title>.*?)[\s,;]*\(?(?P<date>\d{4}-\d{2}-\d{2}|\d{1,2} [A-Za-z]{3,9} \d{4})\)?$"
)


def _day(text):
    text = text.strip()
    for pattern in ("%Y-%m-%d", "%d %b %Y", "%d %B %Y"):
        try:
            return datetime.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def session_reference(text, date_text=""):
    """How a sheet names a session: ("id", id), ("title", (title, date)), or None."""
    if (session_id := parse_id(text, maximum=MAX_ID)) is not None:
        return ("id", session_id)
    title, day = text, _day(date_text) if date_text else None
    if not date_text:
        match = _TITLE_AND_DATE.match(text)
        if match is None:
            return None
        title, day = match["title"], _day(match["date"])
    title = title.strip()
    if not title or day is None:
        return None
    return ("title", (title.lower(), day))


def _session_label(session):
    return (session.title or session.course.title).strip().lower()


def _sessions_for(references):
    """The sessions the sheet names, in one query: {reference: [sessions]}."""
    ids = {value for kind, value in references if kind == "id"}
    named = {value for kind, value in references if kind == "title"}
    condition = Q(pk__in=ids)
    for title, day in named:
        condition |= Q(starts_at__date=day) & (
            Q(title__iexact=title) | Q(title="", course__title__iexact=title)
        )
    found = {reference: [] for reference in references}
    for session in Session.objects.select_related("course").filter(condition).order_by("pk"):
        if session.pk in ids:
            found[("id", session.pk)].append(session)
        key = ("title", (_session_label(session), timezone.localtime(session.starts_at).date()))
        if key in found:
            found[key].append(session)
    return found


class SheetError(Exception):
    """The file as a whole cannot be read (not CSV, no header, missing columns)."""


@dataclass
class Row:
    number: int  # line number in the file (the header is line 1)
    raw: dict
    user: object = None
    session: object = None
    status: str = ""
    completed_at: datetime.datetime | None = None
    score: int | None = None
    existing: object = None
    errors: list = field(default_factory=list)
    action: str = ""
    record: object = None

    @property
    def who(self):
        return self.raw.get("username") or self.raw.get("email") or ""


def _parse_time(text):
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None:
        try:
            day = parse_date(text)
        except ValueError:
            day = None
        if day is None:
            raise ValueError(f"bad completion time {text!r} (use YYYY-MM-DD or ISO 8601)")
        value = datetime.datetime.combine(day, datetime.time.min)
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    try:
        return value.astimezone(datetime.UTC)
    except OverflowError:
        raise ValueError(f"bad completion time {text!r}") from None


def read_sheet(text):
    """Parse the CSV text into Rows (lookups not done yet)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        # No spreadsheet writes one in a CSV; PostgreSQL could not even look the value up.
        raise SheetError("The sheet contains a NUL character: save it again as CSV (UTF-8).")
    try:
        reader = csv.DictReader(io.StringIO(text))
        fieldnames = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise SheetError(f"This is not a CSV file: {exc}") from exc
    if not fieldnames:
        raise SheetError("The sheet is empty.")
    missing = []
    if "username" not in fieldnames and "email" not in fieldnames:
        missing.append("username")
    missing += [name for name in ("session", "status") if name not in fieldnames]
    if missing:
        raise SheetError(f"Missing column(s): {', '.join(missing)}.")
    reader.fieldnames = fieldnames
    rows = []
    try:
        for raw in reader:
            values = {k: (v or "").strip() for k, v in raw.items() if isinstance(k, str)}
            if not any(values.values()):
                continue  # blank line
            if len(rows) >= MAX_ROWS:
                raise SheetError(f"At most {MAX_ROWS} rows per sheet.")
            rows.append(Row(number=reader.line_num, raw=values))
    except csv.Error as exc:
        raise SheetError(f"The CSV cannot be read at line {reader.line_num}: {exc}") from exc
    if not rows:
        raise SheetError("The sheet has no rows.")
    return rows


def check_rows(rows, *, now=None):
    """Look up people, sessions and existing records (three queries) and name each row's errors."""
    now = now or timezone.now()
    usernames = {r.raw.get("username") for r in rows if r.raw.get("username")}
    emails = {r.raw.get("email").lower() for r in rows if r.raw.get("email")}
    users_by_name = {u.username: u for u in User.objects.filter(username__in=usernames)}
    users_by_email = {}
    if emails:
        for u in User.objects.filter(email__in=emails):
            users_by_email.setdefault(u.email.lower(), u)
    references = {
        row.number: session_reference(row.raw.get("session", ""), row.raw.get("session_date", ""))
        for row in rows
    }
    sessions = _sessions_for({ref for ref in references.values() if ref is not None})
    seen = {}
    for row in rows:
        name, email = row.raw.get("username", ""), row.raw.get("email", "")
        row.user = users_by_name.get(name) if name else users_by_email.get(email.lower())
        if row.user is None or not row.user.is_active:
            row.errors.append(f"unknown user {name or email!r}")
        _find_session(row, sessions.get(references[row.number], []))
        status_text = row.raw.get("status", "")
        row.status = _STATUS_BY_NAME.get(status_text.lower().replace("-", "_").replace(" ", "_"))
        if not row.status:
            row.errors.append(f"bad status {status_text!r}")
        try:
            row.completed_at = _parse_time(row.raw.get("completed_at"))
        except ValueError as exc:
            row.errors.append(str(exc))
        if row.completed_at is not None and row.status not in Record.RESULT_STATUSES:
            row.errors.append("a completion time needs status completed or failed")
        score = row.raw.get("score", "")
        if score:
            row.score = parse_int(score, minimum=Record.SCORE_MIN, maximum=Record.SCORE_MAX)
            if row.score is None:
                row.errors.append(f"bad score {score!r} ({Record.SCORE_MIN} to {Record.SCORE_MAX})")
        if row.user is not None and row.session is not None:
            key = (row.user.pk, row.session.pk)
            if key in seen:
                row.errors.append(f"duplicate of line {seen[key]}")
            else:
                seen[key] = row.number
    _check_existing(rows)
    return rows


def _find_session(row, candidates):
    text = " ".join(filter(None, (row.raw.get("session", ""), row.raw.get("session_date", ""))))
    if len(candidates) == 1:
        row.session = candidates[0]
    elif not candidates:
        row.errors.append(f"unknown session {text!r}")
    else:
        ids = ", ".join(str(session.pk) for session in candidates)
        row.errors.append(f"{len(candidates)} sessions match {text!r}: name it by its id ({ids})")


def _check_existing(rows):
    pairs = [(r.user.pk, r.session.pk) for r in rows if r.user and r.session and not r.errors]
    if not pairs:
        return
    existing = {
        (rec.user_id, rec.session_id): rec
        for rec in Record.objects.filter(
            user_id__in={u for u, _ in pairs}, session_id__in={s for _, s in pairs}
        )
    }
    for row in rows:
        if row.errors or not (row.user and row.session):
            continue
        row.existing = existing.get((row.user.pk, row.session.pk))
        if not queries.takes_records(row.session, row.status):
            row.errors.append("the session was cancelled")
        if row.existing is None:
            row.action = "create"
        elif row.existing.status == row.status and row.completed_at is None and row.score is None:
            row.action = "unchanged"
        elif row.status != row.existing.status and not may_become(row.existing, row.status):
            row.errors.append(
                f"cannot go from {row.existing.get_status_display().lower()} to "
                f"{Record.Status(row.status).label.lower()}"
            )
        else:
            row.action = "update"


def sheet_rows(text):
    """Parse and check a sheet; raises SheetError for a file that cannot be read at all."""
    return check_rows(read_sheet(text))
