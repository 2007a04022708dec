"""Validators shared by every app's models: links that a browser can only follow, never run.

A stored link ends up in an `href` (the admin, emails, API clients). Browsers
strip leading spaces and control characters and drop tabs and newlines inside
a URL, and treat `//host` and `/\\host` as links to another host, so
`" java\tscript:alert(1)"` runs as script although it does not start with
`javascript:`. Rather than list bad schemes, allow only what is known to be
safe: an absolute `http(s)://host/...` link, or a path on this site starting
with a single `/`. Anything with whitespace, a control character or a
backslash is refused outright.
"""

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

_UNSAFE_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f\\]")

SAFE_LINK_MESSAGE = (
    "Enter an http:// or https:// link, or a path on this site starting with a single /."
)


def is_safe_link(value):
    """True when `value` is an http(s) link with a host, or a path starting with a single `/`."""
    if not isinstance(value, str) or not value or _UNSAFE_CHARACTERS.search(value):
        return False
    if value.startswith("/"):
        return not value.startswith("//")
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unbalanced [ in the host
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


@deconstructible
class SafeLinkValidator:
    """Refuse any link but http(s) and site paths (`javascript:`, `data:`, `//evil`, …)."""

    message = SAFE_LINK_MESSAGE
    code = "unsafe_link"

    def __call__(self, value):
        if value and not is_safe_link(value):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other):
        return isinstance(other, SafeLinkValidator)


safe_link = SafeLinkValidator()


def safe_href(value):
    """`value` if it is safe to put in an href, else None (a stored value from before the validator)."""
    return value if is_safe_link(value) else None
