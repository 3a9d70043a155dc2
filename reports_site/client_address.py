"""The address a request comes from, for throttling: the connection's own, or, behind proxies the
settings name, the one the nearest trusted proxy saw. One answer for every throttle of the site."""

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, unless TRUSTED_PROXY_HEADER is set: then the address TRUSTED_PROXY_COUNT places
    from the right of that header's list. Each proxy appends the address it received from, so
    entries further left were written by the client and prove nothing."""
    remote = request.META.get("REMOTE_ADDR", "")
    if not settings.TRUSTED_PROXY_HEADER:
        return remote
    header = request.headers.get(settings.TRUSTED_PROXY_HEADER, "")
    forwarded = [entry.strip() for entry in header.split(",")]
    count = settings.TRUSTED_PROXY_COUNT
    if len(forwarded) < count or not forwarded[-count]:
        # Not through all of the proxies (or no header at all): only the connection is known.
        return remote
    return forwarded[-count]
