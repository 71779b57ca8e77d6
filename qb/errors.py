"""QuickBooks Online faults as a small exception tree, and the parser that builds them.

Every error carries QBO's ``code``, ``message``, ``detail`` and ``element``, the HTTP
``status`` (``None`` for a fault inside a batch item) and the ``intuit_tid`` response
header that Intuit support asks for.

::

    QBOError
    ├── AuthenticationError      3200 / HTTP 401 (expired or invalid access token)
    │   └── ReconnectRequired    refresh token rejected (invalid_grant): run qbo-connect
    ├── AuthorizationError       3100 / HTTP 403 (scope, environment, app disconnected)
    ├── ThrottledError           3001 / HTTP 429 (``retry_after`` seconds, if QBO said)
    ├── NotFoundError            610 (``deleted`` / ``inactive`` told apart by Detail)
    ├── StaleObjectError         5010 (SyncToken out of date)
    ├── ValidationError          6000, 6210, 6240, 2010, 2030, 4001, other 2xxx/4xxx/6xxx
    ├── ServerError              HTTP 5xx, code 10000
    └── TransportError           timeouts, refused or dropped connections
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

RECONNECT_COMMAND = "python app.py qbo-connect"


class QBOError(Exception):
    """Base of every error the QBO client raises."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        detail: str | None = None,
        element: str | None = None,
        intuit_tid: str | None = None,
        status: int | None = None,
        fault_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.detail = detail
        self.element = element
        self.intuit_tid = intuit_tid
        self.status = status
        self.fault_type = fault_type

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.append(f"code {self.code}")
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.detail and self.detail != self.message:
            parts.append(self.detail)
        if self.element:
            parts.append(f"element {self.element}")
        if self.intuit_tid:
            parts.append(f"intuit_tid {self.intuit_tid}")
        return " | ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class AuthenticationError(QBOError):
    """The access token was refused (3200, HTTP 401)."""


class ReconnectRequired(AuthenticationError):
    """The refresh token is dead (``invalid_grant``): a person must reconnect QuickBooks."""

    def __init__(self, message: str | None = None, **kw: Any) -> None:
        super().__init__(
            message
            or "QuickBooks connection expired or was revoked: reconnect QuickBooks by running "
            f"`{RECONNECT_COMMAND}`",
            **kw,
        )


class AuthorizationError(QBOError):
    """Authenticated but not allowed (3100, HTTP 403): wrong scope or environment, or the
    app was disconnected from the company."""


class ThrottledError(QBOError):
    """Too many requests (3001, HTTP 429). ``retry_after`` is QBO's hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class NotFoundError(QBOError):
    """Code 610: the object was deleted, or a record it references was made inactive."""

    @property
    def deleted(self) -> bool:
        """QBO says the object was deleted (hard delete)."""
        return "deleted" in (self.detail or "").lower()

    @property
    def inactive(self) -> bool:
        """QBO says something referenced (customer, account, item) was made inactive."""
        return "inactive" in (self.detail or "").lower()


class StaleObjectError(QBOError):
    """Code 5010: the SyncToken sent is not the current one."""


class ValidationError(QBOError):
    """QBO refused the request's content (6000 business rule, 6210/6240 duplicate,
    2010 bad property, 2030 bad id, 4001 bad query, ...)."""


class ServerError(QBOError):
    """QBO failed on its side (HTTP 5xx)."""


class TransportError(QBOError):
    """The request got no answer: timeout, refused or dropped connection."""


_JSON_START = re.compile(rb"^\s*[\[{]")
_XML_ERROR = re.compile(rb"<Error\b[^>]*\bcode=\"(?P<code>[^\"]*)\"", re.S)
_XML_FAULT_TYPE = re.compile(rb"<Fault\b[^>]*\btype=\"(?P<type>[^\"]*)\"", re.S)


def _xml_tag(body: bytes, tag: str) -> str | None:
    t = tag.encode()
    m = re.search(rb"<" + t + rb"\b[^>]*>(?P<v>.*?)</" + t + rb">", body, re.S)
    return m.group("v").decode("utf-8", "replace").strip() if m else None


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:  # plain dicts are case-sensitive
        lowered = name.lower()
        for k, v in headers.items():
            if k.lower() == lowered:
                return v
    return value


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    raw = _header(headers, "Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def _get(d: Mapping[str, Any], *names: str) -> Any:
    for n in names:
        if n in d:
            return d[n]
    return None


def _str(v: Any) -> str | None:
    if v is None:
        return None
    s = str(v)
    return s or None


def classify(code: str | None, status: int | None) -> type[QBOError]:
    """The exception class for a QBO fault ``code`` and HTTP ``status``."""
    c = (code or "").lstrip("0")
    if c == "3200" or (not c and status == 401):
        return AuthenticationError
    if c == "3100" or (not c and status == 403):
        return AuthorizationError
    if c in {"3001", "3002", "3003"} or status == 429:
        return ThrottledError
    if c == "610":
        return NotFoundError
    if c == "5010":
        return StaleObjectError
    if c and c[0] in "246" and len(c) == 4:
        return ValidationError
    if status is not None and status >= 500:
        return ServerError
    if c == "10000":
        return ServerError
    if status == 401:
        return AuthenticationError
    if status == 403:
        return AuthorizationError
    if status == 404:
        return NotFoundError
    if status is not None and 400 <= status < 500:
        return ValidationError
    return QBOError


def fault_from_dict(
    fault: Mapping[str, Any],
    *,
    status: int | None = None,
    intuit_tid: str | None = None,
    retry_after: float | None = None,
) -> QBOError:
    """Build the error for a ``Fault``/``fault`` object (also used for batch items)."""
    errors = _get(fault, "Error", "error") or [{}]
    first: Mapping[str, Any] = errors[0] if isinstance(errors, list) and errors else {}
    code = _str(_get(first, "code", "Code"))
    message = _str(_get(first, "Message", "message")) or "QuickBooks Online fault"
    detail = _str(_get(first, "Detail", "detail"))
    element = _str(_get(first, "element", "Element"))
    fault_type = _str(_get(fault, "type", "Type"))
    return _make(code, status, message, detail, element, intuit_tid, fault_type, retry_after)


def _make(
    code: str | None,
    status: int | None,
    message: str,
    detail: str | None,
    element: str | None,
    intuit_tid: str | None,
    fault_type: str | None,
    retry_after: float | None,
) -> QBOError:
    cls = classify(code, status)
    kw: dict[str, Any] = {
        "code": code,
        "detail": detail,
        "element": element,
        "intuit_tid": intuit_tid,
        "status": status,
        "fault_type": fault_type,
    }
    if cls is ThrottledError:
        return ThrottledError(message, retry_after=retry_after, **kw)
    return cls(message, **kw)


def loads(body: bytes | str) -> Any:
    """Parse a QBO JSON body with exact ``Decimal`` numbers."""
    return json.loads(body, parse_float=Decimal)


_NOT_READ: Any = object()


def read_json(body: bytes | str | None) -> Any:
    """The JSON of an answer that looks like JSON (exact ``Decimal`` numbers); ``None``
    when it does not, or cannot be read. Read once: ``parse_fault`` takes it as ``data``."""
    raw = body.encode() if isinstance(body, str) else (body or b"")
    if not _JSON_START.match(raw):
        return None
    try:
        return loads(raw)
    except ValueError:
        return None


def parse_fault(
    status: int,
    body: bytes | str | None,
    headers: Mapping[str, str] | None = None,
    *,
    data: Any = _NOT_READ,
) -> QBOError | None:
    """The error an HTTP answer carries, or ``None`` if it is a success.

    Reads JSON ``Fault``, lowercase ``fault`` (authentication answers), XML ``<Fault>``
    (throttling answers are XML even when JSON was asked for) and a fault inside a 200
    answer. An error status with an unreadable body still maps by status. ``data``: the
    body's JSON when the caller read it already (``read_json``), so it is parsed once.
    """
    raw = body.encode() if isinstance(body, str) else (body or b"")
    tid = _header(headers, "intuit_tid")
    retry_after = _retry_after(headers)
    if _JSON_START.match(raw):
        if data is _NOT_READ:  # not read by the caller (``read_json``): read it here
            try:
                data = loads(raw)
            except ValueError:
                data = None
        if isinstance(data, dict):
            fault = _get(data, "Fault", "fault")
            if isinstance(fault, Mapping):
                return fault_from_dict(
                    fault, status=status, intuit_tid=tid, retry_after=retry_after
                )
            if status < 400:
                return None
            # OAuth-style {"error": "...", "error_description": ...} or unknown JSON
            err = data.get("error")
            if isinstance(err, str):
                desc = _str(data.get("error_description"))
                return _make(None, status, err, desc, None, tid, None, retry_after)
    elif b"<Fault" in raw:
        m = _XML_ERROR.search(raw)
        t = _XML_FAULT_TYPE.search(raw)
        return _make(
            m.group("code").decode() if m else None,
            status,
            _xml_tag(raw, "Message") or "QuickBooks Online fault",
            _xml_tag(raw, "Detail"),
            _xml_tag(raw, "Element"),
            tid,
            t.group("type").decode() if t else None,
            retry_after,
        )
    if status < 400:
        return None
    text = raw[:200].decode("utf-8", "replace").strip()
    message = f"HTTP {status}" + (f": {text}" if text else "")
    return _make(None, status, message, None, None, tid, None, retry_after)
