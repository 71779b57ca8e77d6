"""The gateway client's exceptions.

The Query API answers HTTP 200 with XML even for errors, so the tree is keyed by what the
answer *says*, not only by its status::

    GatewayError                      message
    ├── Rejected                      ``<error_response>`` text (a filter it refused, ...)
    │   └── AuthenticationFailed      the security key was refused: a configuration error,
    │                                 never "no transactions"
    ├── RateLimited           429     ``retry_after`` seconds when the gateway said
    ├── ServerError           5xx     (or any other non-200 status)
    ├── MalformedResponse             HTTP 200 whose body is not the Query API's XML
    └── TransportError                timeout, refused or dropped connection (raised ``from``
                                      the aiohttp / asyncio error)

Callers catch ``GatewayError`` for "the gateway did not answer usefully" and a subclass for
a reason. No message ever carries the security key.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base: the gateway (or the way to it) refused or failed a query."""

    status: int | None = None
    kind: str = "error"

    def __init__(self, message: str = "", *, status: int | None = None) -> None:
        self.message = message or self.kind
        self.status = status if status is not None else type(self).status
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f"HTTP {self.status} " if self.status is not None else ""
        return f"gateway {where}{self.kind}: {self.message}"


class Rejected(GatewayError):
    """The gateway answered ``<error_response>``: it refused the query."""

    kind = "error_response"


class AuthenticationFailed(Rejected):
    """The security key (or user name and password) was refused."""

    kind = "authentication failed"


class RateLimited(GatewayError):
    """429: too many queries or connections from this address."""

    status = 429
    kind = "rate limited"

    def __init__(
        self, message: str = "", *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ServerError(GatewayError):
    """The gateway failed (5xx, or a status the Query API never sends)."""

    status = 500
    kind = "server error"


class MalformedResponse(GatewayError):
    """An answer whose body is not the Query API's XML (or a field that does not parse)."""

    kind = "malformed response"


class TransportError(GatewayError):
    """The query got no answer: timeout, refused or dropped connection."""

    kind = "transport error"


_AUTH_WORDS = ("authentication", "security key", "username", "password", "permission")


def rejection(text: str) -> Rejected:
    """The exception for an ``<error_response>`` text: authentication or another refusal."""
    low = text.lower()
    if any(w in low for w in _AUTH_WORDS):
        return AuthenticationFailed(text)
    return Rejected(text)
