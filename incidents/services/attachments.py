"""Evidence files: attaching one, superseding a wrong one, recording each download.

The rules (docs/incidents.md §Attachments):

- Those who may change the incident attach (`incidents.add_attachment` on an incident they see
  in full, `require_on`); those who see it in full read and download (`view_attachment`).
- The SHA-256 and the size are taken here, from the bytes received; the kind comes from the
  name's extension (ATTACHMENT_ALLOWED_TYPES) and must match the content's first bytes
  (`inspect_upload`), whatever type the client claimed. At most ATTACHMENT_MAX_BYTES.
- The file is stored through the `attachments` storage under a name derived from its SHA-256
  (`sha256/ab/abcd…`): the same content is stored once, and no name is ever written twice, so
  stored content cannot be overwritten. A file this call stored is removed again when the call
  fails; the row and the file commit together.
- Nothing is changed or deleted afterwards. A wrong file is superseded (`attachment_supersede`)
  with a reason, optionally by the file that replaces it; both stay.
- Every download is recorded (`attachment_download`: who, when, by which door) and committed
  before the file is streamed.
"""

import codecs
import hashlib
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import storages
from django.db import connection, transaction
from django.utils import timezone

from core.errors import DomainError, ImmutableRecord, InvalidInput, NotPermitted
from core.services import audited_save, lock, require

from .. import queries
from ..models import Attachment, AttachmentDownload, TimelineEntry
from .common import require_on, timeline
from .incident import REASON_MAX_LENGTH

STORAGE = "attachments"
NAME_MAX_LENGTH = 255
SNIFF_BYTES = 8192
# pg_advisory_xact_lock(class, object): the class names attachments, the object the content.
LOCK_CLASS = 0x41545443  # "ATTC"


class FileTooLarge(DomainError, http_status=413, code="file_too_large"):
    """The file is larger than this system accepts."""


def _text(head):
    """Readable text: UTF-8 (a character cut at the end of the sample is fine), no NUL."""
    if b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _json(head):
    return _text(head) and head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


def _starts(*magics):
    return lambda head: head.startswith(magics)


_ZIP = _starts(b"PK\x03\x04", b"PK\x05\x06")
_OFFICE = "application/vnd.openxmlformats-officedocument."

# extension: (the content type stored and sent, the check of the content's first bytes)
KNOWN_TYPES = {
    "pdf": ("application/pdf", _starts(b"%PDF-")),
    "png": ("image/png", _starts(b"\x89PNG\r\n\x1a\n")),
    "jpg": ("image/jpeg", _starts(b"\xff\xd8\xff")),
    "jpeg": ("image/jpeg", _starts(b"\xff\xd8\xff")),
    "gif": ("image/gif", _starts(b"GIF87a", b"GIF89a")),
    "txt": ("text/plain", _text),
    "log": ("text/plain", _text),
    "csv": ("text/csv", _text),
    "json": ("application/json", _json),
    "eml": ("message/rfc822", _text),
    "zip": ("application/zip", _ZIP),
    "docx": (_OFFICE + "wordprocessingml.document", _ZIP),
    "xlsx": (_OFFICE + "spreadsheetml.sheet", _ZIP),
    "pcap": (
        "application/vnd.tcpdump.pcap",
        _starts(
            b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
            b"\x0a\x0d\x0d\x0a",
        ),
    ),
}  # fmt: skip


def allowed_extensions():
    """The extensions accepted now: ATTACHMENT_ALLOWED_TYPES, of those this module can check."""
    wanted = [ext.lower().lstrip(".") for ext in settings.ATTACHMENT_ALLOWED_TYPES]
    return [ext for ext in wanted if ext in KNOWN_TYPES]


@dataclass(frozen=True)
class Inspected:
    file_name: str
    content_type: str
    size: int
    sha256: str

    @property
    def stored_name(self):
        return f"sha256/{self.sha256[:2]}/{self.sha256}"


def clean_file_name(name):
    """The uploaded name as it is kept and offered back: its last path part, NFC, stripped;
    refused (InvalidInput) when empty, too long, or holding a NUL or another control character."""
    name = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    name = name.strip()
    if "\x00" in name:
        raise InvalidInput("The file name contains a NUL character.", field="file")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise InvalidInput("The file name contains a control character.", field="file")
    if not name or name in (".", ".."):
        raise InvalidInput("The file has no name.", field="file")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInput(
            f"The file name is longer than {NAME_MAX_LENGTH} characters; rename it.", field="file"
        )
    return name


def inspect_upload(upload):
    """What the file is (name, kind, size, SHA-256), read from its bytes; InvalidInput,
    FileTooLarge when it may not be attached. The forms ask this too, to say so on the form."""
    if upload is None:
        raise InvalidInput("Choose a file to attach.", field="file")
    name = clean_file_name(getattr(upload, "name", ""))
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    allowed = allowed_extensions()
    if extension not in allowed:
        kind = f".{extension} files" if extension else "Files without an extension"
        raise InvalidInput(
            f"{kind} are not accepted. Accepted: {', '.join('.' + e for e in allowed)}.",
            field="file",
        )
    limit = settings.ATTACHMENT_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise FileTooLarge(_too_large(limit), field="file")
    digest, size, head = hashlib.sha256(), 0, b""
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        if size > limit:
            raise FileTooLarge(_too_large(limit), field="file")
    upload.seek(0)
    if size == 0:
        raise InvalidInput("The file is empty.", field="file")
    content_type, looks_right = KNOWN_TYPES[extension]
    if not looks_right(head):
        raise InvalidInput(
            f"The content of {name} is not a .{extension} file (its first bytes say otherwise).",
            field="file",
        )
    return Inspected(name, content_type, size, digest.hexdigest())


def _too_large(limit):
    return f"The file is larger than {limit:,} bytes ({limit / 1024 / 1024:.0f} MiB), the most accepted."


def _lock_content(sha256):
    """Two uploads of the same content at once: the second waits until the first is committed
    or rolled back (PostgreSQL; SQLite's writers are serialised already)."""
    if connection.vendor == "postgresql":
        key = int(sha256[:8], 16) - (1 << 31)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_CLASS, key])


def _store(info, upload):
    """Store the content under its SHA-256 name unless it is stored already; True when this
    call wrote it (and so removes it again if the row is not saved)."""
    storage = storages[STORAGE]
    _lock_content(info.sha256)
    if storage.exists(info.stored_name):
        return False
    upload.seek(0)
    saved = storage.save(info.stored_name, upload)
    if saved != info.stored_name:  # never happens under the lock; never keep a second copy
        storage.delete(saved)
        raise DomainError("The file could not be stored; try again.")
    return True


def _belongs(record, incident, what):
    if record is not None and record.incident_id != incident.pk:
        raise InvalidInput(f"That {what} belongs to another incident.", field=what)


@transaction.atomic
def attachment_add(
    *, incident, actor, upload, action=None, review=None, supersedes=None, reason=""
):
    """Attach `upload` (a Django UploadedFile) to `incident`, or to one of its actions or its
    review; with `supersedes` (an attachment of the same incident), the new file replaces that
    one, for `reason`, in the same transaction."""
    incident = lock(incident)
    require_on(actor, "incidents.add_attachment", incident)
    _belongs(action, incident, "action")
    _belongs(review, incident, "review")
    if action is not None and review is not None:
        raise InvalidInput("Attach a file to an action or to the review, not both.", field="action")
    if supersedes is not None:
        _belongs(supersedes, incident, "attachment")
        _check_supersession(supersedes, actor, reason)
    info = inspect_upload(upload)
    created = _store(info, upload)
    try:
        attachment = Attachment(
            incident=incident,
            action=action,
            review=review,
            file_name=info.file_name,
            content_type=info.content_type,
            size=info.size,
            sha256=info.sha256,
            stored_name=info.stored_name,
            uploaded_by=actor,
        )
        audited_save(attachment, actor=actor, reason="Attached")
        text = f"Evidence attached: {info.file_name} ({info.size:,} bytes, SHA-256 {info.sha256})"
        timeline(incident, TimelineEntry.Kind.NOTE, text, actor=actor)
        if supersedes is not None:
            attachment_supersede(
                attachment=supersedes, actor=actor, reason=reason, replacement=attachment
            )
    except BaseException:
        if created:
            storages[STORAGE].delete(info.stored_name)
        raise
    return attachment


def _clean_reason(reason):
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the file is superseded.", field="reason")
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInput(
            f"The reason is longer than {REASON_MAX_LENGTH} characters.", field="reason"
        )
    return reason


def _check_supersession(attachment, actor, reason):
    require_on(actor, "incidents.change_attachment", attachment.incident)
    _clean_reason(reason)
    if attachment.is_superseded:
        raise ImmutableRecord(
            f"{attachment.file_name} was superseded already "
            f"({timezone.localtime(attachment.superseded_at):%d %b %Y %H:%M %Z})."
        )


@transaction.atomic
def attachment_supersede(*, attachment, actor, reason, replacement=None):
    """Mark `attachment` superseded (once): when, by whom, why, and by which file of the same
    incident (`replacement`, optional). Both files stay, and stay downloadable."""
    attachment = lock(attachment, select_related=("incident",))
    _check_supersession(attachment, actor, reason)
    if replacement is not None:
        _belongs(replacement, attachment.incident, "replacement")
        if replacement.pk == attachment.pk:
            raise InvalidInput("A file cannot supersede itself.", field="replacement")
        if replacement.is_superseded:
            raise InvalidInput("The replacement is itself superseded.", field="replacement")
    reason = _clean_reason(reason)
    attachment.superseded_at = timezone.now()
    attachment.superseded_reason = reason
    attachment.superseded_by = replacement
    attachment.superseded_by_person = actor
    audited_save(attachment, actor=actor, reason=f"Superseded: {reason}")
    by = f" by {replacement.file_name}" if replacement is not None else ""
    text = f"Evidence {attachment.file_name} superseded{by}: {reason}"
    timeline(attachment.incident, TimelineEntry.Kind.NOTE, text, actor=actor)
    return attachment


def attachment_open(attachment):
    """The stored file, opened for reading (MissingFile when it is missing)."""
    try:
        return storages[STORAGE].open(attachment.stored_name, "rb")
    except (FileNotFoundError, OSError) as exc:
        raise MissingFile() from exc


class MissingFile(DomainError, http_status=404, code="file_missing"):
    """The stored file is missing; tell an administrator (the row and its hash remain)."""


@transaction.atomic
def attachment_download(*, attachment, actor, via):
    """Record that `actor` downloads `attachment` (by `via`: admin or api); the caller streams
    the file after this commits. Refused to anyone who may not see the incident in full."""
    require(actor, "incidents.view_attachment")
    attachment = Attachment.objects.select_related("incident").get(pk=attachment.pk)
    if not queries.can_see(actor, attachment.incident):
        raise NotPermitted("You may not see this incident's files.")
    record = AttachmentDownload(attachment=attachment, user=actor, via=via)
    return audited_save(record, actor=actor, reason="Downloaded")
