"""Reading untrusted input: ids from query strings and forms, and JSON request bodies.

Both refuse what the database or Python would choke on later (a 500) with a 400 now:
`str.isdigit()` accepts "²" and "٣", which `int()` or the database then refuse; JSON
nested a hundred thousand levels deep overflows Python's stack; a NUL character is valid
JSON and valid Python but PostgreSQL cannot store or even compare it.
"""

import json
import re

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# The largest value a BigAutoField (every id here) can hold; larger ids exist nowhere and
# make PostgreSQL refuse the query instead of finding nothing.
MAX_ID = 2**63 - 1
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")

# JSON bodies here are flat objects with lists of names or ids; 32 levels is generous.
MAX_JSON_DEPTH = 32

NUL_MESSAGE = "The request contains a NUL character (\\u0000), which is not allowed."


def parse_id(value, *, maximum=MAX_ID):
    """The positive integer `value` spells in ASCII digits (1..maximum), else None.

    Use it for every id read from a query string, a form or a file: it never raises.
    """
    return parse_int(value, minimum=1, maximum=maximum)


def parse_int(value, *, minimum, maximum):
    """An integer in ASCII digits within [minimum, maximum] (non-negative bounds), else None."""
    if not isinstance(value, str):
        value = "" if value is None else str(value)
    value = value.strip()
    if not _ASCII_DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if minimum <= number <= maximum else None


def json_problem(data, *, max_depth=MAX_JSON_DEPTH):
    """Why a decoded JSON document must be refused (too deep, a NUL in a key or string), or None.

    Walks the document with an explicit stack, so depth costs no recursion.
    """
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return NUL_MESSAGE
        elif isinstance(value, (list, dict)):
            if depth > max_depth:
                return f"The JSON document is nested deeper than {max_depth} levels."
            if isinstance(value, dict):
                for key, item in value.items():
                    if "\x00" in key:
                        return NUL_MESSAGE
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)
    return None


class JSONProblem(ValueError):
    """A JSON body refused by `load_json`: not JSON, too deep, or holding a NUL."""


def load_json(text):
    """`json.loads(text)` for a face outside DRF, refusing what JSONParser refuses (JSONProblem)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise JSONProblem(
            f"The JSON document is nested deeper than {MAX_JSON_DEPTH} levels."
        ) from None
    except ValueError as exc:
        raise JSONProblem(f"The body is not JSON: {exc}") from None
    problem = json_problem(data)
    if problem:
        raise JSONProblem(problem)
    return data


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing with 400 documents nested too deep or holding a NUL."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(
                f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."
            ) from None
        problem = json_problem(data)
        if problem:
            raise ParseError(problem)
        return data


def form_has_nul(query_dict):
    """A NUL in any key or value of a QueryDict (a form's fields; files are not in it)."""
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in query_dict.lists()
    )


class FormParser(parsers.FormParser):
    """DRF's form parser, refusing a NUL in any field with 400 (for PUT and PATCH, which the
    NUL middleware does not parse)."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if form_has_nul(data):
            raise ParseError(NUL_MESSAGE)
        return data


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing a NUL in any field (not in a file's bytes) with 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        if form_has_nul(result.data):
            raise ParseError(NUL_MESSAGE)
        return result
