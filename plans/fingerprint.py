"""The content fingerprint of a plan version: a SHA-256 anyone can recompute (see docs/plans.md)."""

import hashlib
import json


def canonical_content(plan_code, number, sections):
    """The exact bytes hashed: `sections` is an ordered iterable of (key, heading, body)."""
    document = {
        "plan": plan_code,
        "version": number,
        "sections": [{"key": k, "heading": h, "body": b} for k, h, b in sections],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def fingerprint(plan_code, number, sections):
    """SHA-256 hex digest of the canonical content."""
    return hashlib.sha256(canonical_content(plan_code, number, sections)).hexdigest()


def version_fingerprint(version):
    """The fingerprint of a version's current sections, in their order."""
    rows = version.sections.order_by("order", "id").values_list("key", "heading", "body")
    return fingerprint(version.plan.code, version.number, list(rows))
