"""OpenAPI post-processing: document the error answers every operation can give.

The API answers 400/401/403/404/409/412/429 by the conventions of api.md, 415 to a body
in no media type the operation reads (DRF's parsers), and 503 (with
Retry-After) when an SQLite database stays busy past its timeout; the
schema says so, so clients (and the fuzzer's status-code check) can rely on it.
"""

# Refusals carry `detail` (and `code`); invalid input maps each field name to a
# list of messages, and a field may itself be called `code` or `detail`.
ERROR_SCHEMA = {
    "type": "object",
    "description": "`detail` and `code` for refusals; field name → list of messages for invalid input.",
    "additionalProperties": True,
}

DESCRIPTIONS = {
    "400": "Invalid input: field errors.",
    "401": "Not signed in.",
    "403": "Signed in but not permitted.",
    "404": "Not found, or not visible to you.",
    "405": "Method not allowed.",
    "409": "Conflicts with the current state.",
    "412": "If-Match no longer matches: reload and retry.",
    "415": "The body's Content-Type is missing or not one the operation reads (its requestBody).",
    "429": "Too many requests.",
    "503": "The database is busy: retry after the Retry-After header's seconds.",
}


def add_error_responses(result, generator, request, public):
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            codes = ["400", "401", "403", "404", "405", "429", "503"]
            if method in {"post", "put", "patch"}:
                codes.append("409")
            if method in {"put", "patch"}:
                codes.append("412")
            if "requestBody" in operation:
                codes.append("415")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(
                    code,
                    {
                        "description": DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    return result
