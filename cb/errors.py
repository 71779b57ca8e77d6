"""The ConnectBooster client's exceptions.

One small tree, keyed by what the contract answers::

    CBError                      status, code, message
    ├── BadRequest        400    malformed request (bad time, bad cursor)
    ├── Unauthorized      401    missing or wrong API key
    ├── NotFound          404    unknown payment, or a history item already deleted
    ├── Conflict          409    the action does not fit the payment's sync state
    ├── Invalid           422    well-formed but not acceptable (limit out of range, ...)
    ├── RateLimited       429    ``retry_after`` seconds, when the server said
    ├── ServerError       5xx
    ├── ProtocolError            a 2xx answer whose body is not what the contract says
    └── TransportError           timeout, refused or dropped connection (raised ``from`` the
                                 aiohttp / asyncio error)

Callers catch ``CBError`` for "ConnectBooster did not do it" and a subclass for a reason.
"""

from __future__ import annotations


class CBError(Exception):
    """Base: ConnectBooster (or the way to it) refused or failed a request."""

    status: int | None = None
    default_code: str = "error"

    def __init__(
        self, status: int | None = None, code: str | None = None, message: str = ""
    ) -> None:
        self.status = status if status is not None else type(self).status
        self.code = code or type(self).default_code
        self.message = message or self.code
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f"HTTP {self.status} " if self.status is not None else ""
        return f"ConnectBooster {where}{self.code}: {self.message}"

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(status={self.status!r}, code={self.code!r}, message={self.message!r})"


class BadRequest(CBError):
    """400: the request was malformed."""

    status = 400
    default_code = "bad_request"


class Unauthorized(CBError):
    """401: the API key is missing or wrong."""

    status = 401
    default_code = "unauthorized"


class NotFound(CBError):
    """404: no such payment, or its history item is already gone."""

    status = 404
    default_code = "not_found"


class Conflict(CBError):
    """409: the action does not fit the payment's sync state (dismissing a synced one, ...)."""

    status = 409
    default_code = "conflict"


class Invalid(CBError):
    """422: the request was understood but a value is not acceptable."""

    status = 422
    default_code = "invalid"


class RateLimited(CBError):
    """429: too many requests; ``retry_after`` is the wait the server asked for, in seconds."""

    status = 429
    default_code = "rate_limited"

    def __init__(
        self,
        status: int | None = None,
        code: str | None = None,
        message: str = "",
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


class ServerError(CBError):
    """5xx: ConnectBooster failed (or is down)."""

    status = 500
    default_code = "server_error"


class ProtocolError(CBError):
    """A success answer whose body does not follow the contract."""

    default_code = "protocol_error"


class TransportError(CBError):
    """The request did not get an answer: timeout, refused or dropped connection."""

    default_code = "transport_error"


_BY_STATUS: dict[int, type[CBError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    422: Invalid,
    429: RateLimited,
}


def error_for_status(
    status: int, code: str | None, message: str, *, retry_after: float | None = None
) -> CBError:
    """The exception for an error answer (``status`` >= 400)."""
    if status == 429:
        return RateLimited(status, code, message, retry_after=retry_after)
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else CBError
    return cls(status, code, message)
