"""Who is asking: the client's address, read the one way the sign-in lockout and the signatures share.

Behind a load balancer every request comes from the balancer's address; the
client's is in ``X-Forwarded-For``, which each proxy extends with the address
it received the request from. A client can write anything into that header
before it reaches the first proxy, so only the entries added by the proxies we
run are trusted: with ``TRUSTED_PROXY_COUNT = N`` the client is the N-th entry
from the right. With 0 (the default, no proxy) the header is ignored.
"""

import ipaddress

from django.conf import settings


def _valid_ip(value):
    value = (value or "").strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_ip(request):
    """The address of the client that sent `request`, honouring TRUSTED_PROXY_COUNT."""
    remote = _valid_ip(request.META.get("REMOTE_ADDR"))
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies <= 0:
        return remote
    forwarded = [
        part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    ]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        # The request did not pass through every proxy we run: nothing in the header is ours.
        return remote
    return _valid_ip(forwarded[-proxies]) or remote

