"""Evidence bundles: a zip an auditor checks offline, streamed in constant memory.

A bundle is a list of files (`Part`), each given as a generator of bytes, so that a record
with 10,000 history rows, or a large attachment, is read and written a chunk at a time and
never held whole. While a file streams its SHA-256 and size are taken; after the last file
the bundle adds `verify.py` (core/bundle_verify.py: standard library only) and, last,
`manifest.json`, which names every other file with its SHA-256 and size, what the bundle
is of, who exported it and when, and the chain head of every history table it quotes.

The zip is written to a stream that cannot seek (the HTTP response), so each member carries
a data descriptor (sizes after the data) and is always ZIP64: Python's zipfile, 7-Zip,
Info-ZIP's unzip and macOS read both.

The history is written as JSON lines (`history.jsonl`) in the audit log's shape
(`core.audit.entries`), so `verify.py` recomputes each row's chain hash from its `content`
with the recipe of docs/evidence.md; rows whose content is withheld from the exporter (a
mask hides a value in them) carry their hashes only, and verify.py says how many.
"""

import datetime
import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from core import audit

VERIFY_SCRIPT = Path(__file__).with_name("bundle_verify.py")
CHUNK = 64 * 1024
HISTORY_CHUNK = 500
FORMAT = "incident-case-system evidence bundle 1"


@dataclass
class Part:
    """One file of the bundle: its name and a callable returning an iterable of bytes."""

    name: str
    chunks: object  # () -> iterable of bytes


@dataclass
class Bundle:
    """What a bundle is of and what it holds. `parts` are written in order."""

    kind: str  # "incident", "plan_version"
    subject: str  # "INC-2026-0001", "IRP-01 v3"
    exported_by: str
    parts: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # added to the manifest as is
    chain_heads: dict = field(default_factory=dict)

    def add(self, name, chunks):
        self.parts.append(Part(name, chunks))

    def add_json(self, name, value):
        self.add(name, lambda: [json_bytes(value)])

    def add_bytes(self, name, data):
        self.add(name, lambda: [data])

    def add_history(self, name, parts):
        """The history entries of `parts` (core.audit sources) as JSON lines, newest first."""
        self.add(name, lambda: history_lines(parts, self.chain_heads))

    @property
    def filename(self):
        stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in self.subject)
        return f"evidence-{stem}.zip"


def json_bytes(value):
    return (json.dumps(value, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False) + "\n").encode(
        "utf-8"
    )


def history_lines(parts, chain_heads):
    """JSON lines of every history entry of `parts`, read HISTORY_CHUNK at a time.

    Also records in `chain_heads` the newest `hash` of each table seen, so the manifest
    names them (an auditor compares them with a later export: docs/evidence.md)."""
    after = None
    while True:
        keys = audit.page_keys(parts, after, HISTORY_CHUNK)
        for entry in audit.entries(parts, keys):
            row = {
                "model": entry["model"],
                "object_id": entry["object_id"],
                "object": entry["object"],
                "history_id": entry["history_id"],
                "history_type": entry["history_type"],
                "history_date": entry["history_date"],
                "history_user": entry["history_user"],
                "history_change_reason": entry["history_change_reason"],
                "changes": entry["changes"],
                "previous_hash": entry["previous_hash"],
                "hash": entry["hash"],
                "content": entry["content"],
            }
            chain_heads.setdefault(entry["model"], entry["hash"])
            yield (json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False) + "\n").encode(
                "utf-8"
            )
        if len(keys) < HISTORY_CHUNK:
            return
        after = keys[-1]


def json_array(rows, represent, *, batch=500):
    """A JSON array of `represent(row)` for each row of a queryset, read `batch` rows at a
    time (a timeline of 10,000 entries never sits in memory)."""

    def chunks():
        yield b"[\n"
        first = True
        for row in rows.iterator(chunk_size=batch):
            text = json.dumps(represent(row), cls=DjangoJSONEncoder, ensure_ascii=False)
            yield (("  " if first else ",\n  ") + text).encode("utf-8")
            first = False
        yield b"\n]\n"

    return chunks


def file_chunks(file, size=CHUNK):
    """Read a Django File (an attachment in storage) a chunk at a time, then close it."""

    def read():
        with file.open("rb") as handle:
            while chunk := handle.read(size):
                yield chunk

    return read


class _Sink:
    """The zip's output: collects what zipfile writes until the stream takes it.

    It can tell but not seek, so zipfile writes data descriptors (a streamed zip)."""

    def __init__(self):
        self.buffer = []
        self.offset = 0

    def write(self, data):
        self.buffer.append(bytes(data))
        self.offset += len(data)
        return len(data)

    def tell(self):
        return self.offset

    def flush(self):
        pass

    def take(self):
        data = b"".join(self.buffer)
        self.buffer.clear()
        return data


def _member(name):
    info = zipfile.ZipInfo(name, date_time=timezone.now().utctimetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def stream(bundle):
    """The bundle's zip as a generator of bytes."""
    sink = _Sink()
    archive = zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED)
    files = {}

    def write(name, chunks):
        digest, size = hashlib.sha256(), 0
        with archive.open(_member(name), "w", force_zip64=True) as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
                data = sink.take()
                if data:
                    yield data
        files[name] = {"sha256": digest.hexdigest(), "size": size}
        yield sink.take()

    for part in bundle.parts:
        yield from write(part.name, part.chunks())
    yield from write("verify.py", [VERIFY_SCRIPT.read_bytes()])
    manifest = {
        "format": FORMAT,
        "kind": bundle.kind,
        "subject": bundle.subject,
        "exported_at": timezone.now().astimezone(datetime.UTC),
        "exported_by": bundle.exported_by,
        **bundle.extra,
        "chain_heads": dict(sorted(bundle.chain_heads.items())),
        "files": files,
    }
    with archive.open(_member("manifest.json"), "w") as out:
        out.write(json_bytes(manifest))
    archive.close()
    yield sink.take()


def response(bundle):
    """A streamed download of the bundle."""
    from django.http import StreamingHttpResponse

    answer = StreamingHttpResponse(stream(bundle), content_type="application/zip")
    answer["Content-Disposition"] = f'attachment; filename="{bundle.filename}"'
    answer["X-Content-Type-Options"] = "nosniff"
    answer["Cache-Control"] = "no-store"
    return answer


def write_to(bundle, path):
    """Write the bundle to a file (the management command)."""
    with open(path, "wb") as out:
        for chunk in stream(bundle):
            out.write(chunk)


def pdf(html, base_url=None):
    """HTML rendered to PDF by WeasyPrint (imported here: it is heavy, and only bundles need it)."""
    import weasyprint

    return weasyprint.HTML(string=html, base_url=base_url).write_pdf()
