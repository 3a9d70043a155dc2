"""Access tokens for service accounts: JWTs signed with a key derived from SECRET_KEY, with an
`exp` claim, checked on every request."""

import itertools
import time

import jwt
from django.conf import settings
from django.utils.crypto import salted_hmac

from reports_site.tenancy.models import ServiceAccount

ALGORITHM = "HS256"
ISSUER = "gpu-consumption-reports"
# runapy reads a token's expiry itself, decoding the payload with the standard base64 alphabet
# rather than JWT's URL-safe one: a payload with "-" or "_" in it would not decode. A counter
# in the claims is moved on until the payload has neither (a few dozen tries at most, usually).
_MAX_TRIES = 10_000


class InvalidToken(Exception):
    """The token is not one of ours, or no longer valid; the message says which, for the log."""


def issue(account: ServiceAccount) -> tuple[str, int]:
    """A fresh access token for the account, and its lifetime in seconds."""
    lifetime = settings.API_TOKEN_LIFETIME_SECONDS
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": f"sa:{account.pk}",
        "tid": account.tenant_id,
        "iat": now,
        "exp": now + lifetime,
    }
    for counter in itertools.count():
        claims["n"] = counter
        token = jwt.encode(claims, _key(), algorithm=ALGORITHM)
        if not {"-", "_"} & set(token.split(".")[1]):
            return token, lifetime
        if counter >= _MAX_TRIES:  # pragma: no cover - (62/64)**len(payload) is never that small
            raise RuntimeError("could not make a token the SDK can read")
    raise AssertionError("unreachable")


def service_account_for(token: str) -> ServiceAccount:
    """The active service account the token was issued to; InvalidToken otherwise."""
    try:
        claims = jwt.decode(
            token,
            _key(),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("The access token has expired.") from None
    except jwt.InvalidTokenError:
        raise InvalidToken("The access token is not valid.") from None
    kind, _, pk = str(claims["sub"]).partition(":")
    account = None
    if kind == "sa" and pk.isdigit():
        account = ServiceAccount.objects.active().filter(pk=int(pk)).first()
    if account is None or account.tenant_id != claims.get("tid"):
        raise InvalidToken("The access token's service account no longer exists.")
    return account


def _key() -> bytes:
    return salted_hmac("reports.api.tokens", "access token key", algorithm="sha256").digest()
