#!/usr/bin/env python3
"""Check an evidence bundle offline, with nothing but Python 3's standard library.

    python3 verify.py                 # in the folder the bundle was unzipped into
    python3 verify.py bundle.zip      # or on the zip itself

It checks, and prints, each of these; it exits 1 if any fails:

1. manifest.json: every file it names is present with that SHA-256 and size, and no file
   is present that it does not name.
2. Plan fingerprints: every `plan_version.json` (the version's plan code, number and
   sections) hashes to its `content_hash` by the published recipe (docs/plans.md), and
   every signature in `signatures.json` was made over that fingerprint.
3. The history chain (docs/evidence.md): each row of `history.jsonl` whose content is
   present hashes, with its `previous_hash`, to its `hash`; where two rows of one history
   table are neighbours in that table (consecutive `history_id`), the later one's
   `previous_hash` is the earlier one's `hash`; and the manifest's `chain_heads` are the
   newest hashes of the rows shown. Rows whose content was withheld from the exporter (a
   mask hid a value) are counted, not checked.
4. Attachments: every file listed in `attachments.json` with a `bundle_path` has the
   SHA-256 and size the system took when it was uploaded (so the file is the one attached,
   not only the one exported).

What it cannot check alone: that the system's history holds no rows newer than the bundle
(compare the manifest's `chain_heads` with a later export), and who made the bundle (the
manifest says who exported it; keep the bundle's own SHA-256 where the auditor keeps it).
"""

import hashlib
import json
import os
import sys
import zipfile

CHUNK = 64 * 1024


class Folder:
    def __init__(self, root):
        self.root = root

    def names(self):
        found = []
        for base, _dirs, files in os.walk(self.root):
            for name in files:
                path = os.path.relpath(os.path.join(base, name), self.root)
                found.append(path.replace(os.sep, "/"))
        return found

    def open(self, name):
        return open(os.path.join(self.root, *name.split("/")), "rb")


class Zip:
    def __init__(self, path):
        self.archive = zipfile.ZipFile(path)

    def names(self):
        return [n for n in self.archive.namelist() if not n.endswith("/")]

    def open(self, name):
        return self.archive.open(name)


def digest(source, name):
    sha, size = hashlib.sha256(), 0
    with source.open(name) as handle:
        while chunk := handle.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def read_json(source, name):
    with source.open(name) as handle:
        return json.loads(handle.read().decode("utf-8"))


def plan_fingerprint(version):
    document = {
        "plan": version["plan"],
        "version": version["version"],
        "sections": [
            {"key": s["key"], "heading": s["heading"], "body": s["body"]}
            for s in version["sections"]
        ],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check(source, out=print):
    failures = []
    names = set(source.names())
    if "manifest.json" not in names:
        out("FAIL: no manifest.json")
        return 1
    manifest = read_json(source, "manifest.json")
    out(f"Bundle: {manifest.get('kind')} {manifest.get('subject')}, exported "
        f"{manifest.get('exported_at')} by {manifest.get('exported_by')}")

    listed = manifest.get("files", {})
    for name, expected in sorted(listed.items()):
        if name not in names:
            failures.append(f"{name}: named in the manifest but missing")
            continue
        sha, size = digest(source, name)
        if sha != expected.get("sha256") or size != expected.get("size"):
            failures.append(f"{name}: SHA-256 or size differs from the manifest")
    extra = sorted(names - set(listed) - {"manifest.json"})
    failures.extend(f"{name}: present but not in the manifest" for name in extra)
    out(f"1. manifest: {len(listed)} files checked (SHA-256 and size)"
        + (f", {len(extra)} unlisted" if extra else ""))

    versions = [n for n in sorted(names) if n.rsplit("/", 1)[-1] == "plan_version.json"]
    signatures_checked = earlier_rounds = 0
    for name in versions:
        version = read_json(source, name)
        if plan_fingerprint(version) != version.get("content_hash"):
            failures.append(f"{name}: the sections do not hash to its content_hash")
        folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
        if folder + "signatures.json" in names:
            signatures = read_json(source, folder + "signatures.json")
            # A version sent back ("changes requested") was signed before over its earlier
            # text: from the last send-back on, every signature is over the final text.
            cut = max(
                (n for n, s in enumerate(signatures) if s.get("meaning") == "changes_requested"),
                default=-1,
            )
            earlier_rounds += cut + 1
            for signature in signatures[cut + 1 :]:
                signatures_checked += 1
                if signature.get("content_hash") != version.get("content_hash"):
                    failures.append(
                        f"{folder}signatures.json: the signature of "
                        f"{signature.get('printed_name')} ({signature.get('meaning')}) "
                        "was made over another fingerprint"
                    )
    out(f"2. plan fingerprints: {len(versions)} recomputed, "
        f"{signatures_checked} signatures compared with them"
        + (f" ({earlier_rounds} made in earlier review rounds, over earlier text)"
           if earlier_rounds else ""))

    rows = checked = withheld = links = 0
    newest, tables = {}, {}
    if "history.jsonl" in names:
        with source.open("history.jsonl") as handle:
            for line in handle:
                if not line.strip():
                    continue
                row = json.loads(line.decode("utf-8"))
                rows += 1
                newest.setdefault(row["model"], row["hash"])
                content = row.get("content") or ""
                if not content:
                    withheld += 1
                    continue
                checked += 1
                recomputed = hashlib.sha256(
                    (row["previous_hash"] + content).encode("utf-8")
                ).hexdigest()
                if recomputed != row["hash"]:
                    failures.append(
                        f"history {row['model']} history_id={row['history_id']}: its content "
                        "does not hash to its hash (altered)"
                    )
                table = json.loads(content)["model"]
                tables.setdefault(table, {})[row["history_id"]] = row
    for table, by_id in tables.items():
        for history_id, row in by_id.items():
            before = by_id.get(history_id - 1)
            if before is not None:
                links += 1
                if row["previous_hash"] != before["hash"]:
                    failures.append(
                        f"history {table} history_id={history_id}: its previous_hash is not "
                        f"the hash of history_id={history_id - 1}"
                    )
    heads = manifest.get("chain_heads", {})
    for model, head in heads.items():
        if newest.get(model) != head:
            failures.append(f"manifest chain head of {model} is not the newest row shown")
    out(f"3. history: {rows} rows, {checked} hashes recomputed, {links} links between "
        f"neighbouring rows checked, {withheld} rows with content withheld (not checked), "
        f"{len(heads)} chain heads compared")

    files_checked = 0
    if "attachments.json" in names:
        for item in read_json(source, "attachments.json"):
            path = item.get("bundle_path")
            if not path:
                continue
            files_checked += 1
            if path not in names:
                failures.append(f"{path}: attachment {item.get('id')} is missing")
                continue
            sha, size = digest(source, path)
            if sha != item.get("sha256") or size != item.get("size"):
                failures.append(
                    f"{path}: not the file attached (SHA-256 or size differs from the upload's)"
                )
    out(f"4. attachments: {files_checked} files compared with the SHA-256 taken at upload")

    for failure in failures:
        out("FAIL: " + failure)
    out("OK: everything checked holds." if not failures else f"{len(failures)} failures.")
    return 1 if failures else 0


def main(argv):
    target = argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    source = Zip(target) if os.path.isfile(target) else Folder(target)
    return check(source)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
