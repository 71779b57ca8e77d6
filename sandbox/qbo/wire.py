"""QuickBooks Online's wire vocabulary, as the QBO stand-in writes and reads it: faults
(``Fault`` bodies and the codes the bot relies on), money as exact decimals, JSON with
decimals written as numbers, timestamps, and entity names.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

JSONDict = dict[str, Any]

ENTITY_NAMES = {
    n.lower(): n
    for n in (
        "Customer",
        "Account",
        "Invoice",
        "Payment",
        "CreditMemo",
        "CompanyInfo",
        "Preferences",
    )
}
DELETED_DETAIL = "Object Not Found : Another user has deleted this transaction."
INACTIVE_DETAIL = (
    "Object Not Found : Something you're trying to use has been made inactive. "
    "Check the fields with accounts, customers, items, vendors or employees."
)
STALE_DETAIL = (
    "Stale Object Error : You and another user were working on this at the same time. "
    "The other user finished before you did, so your work was not saved."
)
MONEY_FIELDS = ("TotalAmt", "Balance", "RemainingCredit", "UnappliedAmt", "Amount")


class SandboxFault(Exception):
    """A QBO fault the sandbox answers with (also raised by in-process seeding)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        detail: str | None = None,
        element: str | None = None,
        fault_type: str = "ValidationFault",
    ) -> None:
        super().__init__(f"{code} {message}: {detail or ''}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.fault_type = fault_type

    def fault(self) -> JSONDict:
        """The ``Fault`` object QBO sends."""
        err: JSONDict = {
            "Message": self.message,
            "Detail": self.detail or self.message,
            "code": self.code,
        }
        if self.element is not None:
            err["element"] = self.element
        return {"Error": [err], "type": self.fault_type}


def not_found(detail: str = DELETED_DETAIL) -> SandboxFault:
    """610 Object Not Found (a deleted object, or with ``INACTIVE_DETAIL`` an inactive one)."""
    return SandboxFault(400, "610", "Object Not Found", detail)


def stale_object() -> SandboxFault:
    """5010 Stale Object Error: the SyncToken sent is not the current one."""
    return SandboxFault(400, "5010", "Stale Object Error", STALE_DETAIL)


def validation_fault(detail: str, code: str = "6000", element: str | None = None) -> SandboxFault:
    """A business validation error (6000 unless ``code`` says otherwise)."""
    return SandboxFault(
        400,
        code,
        "A business validation error has occurred while processing your request",
        detail,
        element,
    )


def query_error(detail: str) -> SandboxFault:
    """4001 Invalid query."""
    return SandboxFault(400, "4001", "Invalid query", f"QueryValidationError: {detail}")


def money(v: Any) -> Decimal:
    """A QBO amount as Decimal (JSON numbers may arrive as int, Decimal or str)."""
    if isinstance(v, Decimal):
        return v
    if v is None:
        return Decimal("0")
    try:
        return Decimal(str(v))
    except InvalidOperation as exc:
        raise validation_fault(f"Invalid amount: {v!r}", code="2010") from exc


_DEC_MARK = "\x00dec:"
_DEC_RE = re.compile(r'"\\u0000dec:([-0-9.Ee+]+)"')
_NUMBER = itemgetter(1)


def dumps(obj: Any) -> str:
    """JSON with Decimals written as exact numbers (as QBO writes them)."""

    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            return _DEC_MARK + str(o)
        if isinstance(o, datetime | date):
            return o.isoformat()
        raise TypeError(type(o).__name__)

    # itemgetter(1) is the marker's number (``m[1]``), taken in C for each of the thousands
    text = json.dumps(obj, default=default, separators=(",", ":"))
    return _DEC_RE.sub(_NUMBER, text)


def qbo_time(at: datetime) -> str:
    """A timestamp as QBO writes it (``MetaData``, ``time``): ISO 8601 to the second."""
    return at.isoformat(timespec="seconds")


def parse_datetime(s: str) -> datetime:
    """An ISO 8601 timestamp (``Z`` accepted); UTC when it names no offset."""
    d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def canonical_entity(entity: str) -> str:
    """The entity's name as QBO spells it (``invoice`` → ``Invoice``); 2010 if unknown."""
    name = ENTITY_NAMES.get(entity.lower())
    if name is None:
        raise SandboxFault(
            400,
            "2010",
            "Request has invalid or unsupported property",
            f"Unsupported entity: {entity}",
        )
    return name


def id_order(o: JSONDict) -> tuple[int, str]:
    """Sort key of an object by Id, numerically (QBO's default order)."""
    i = str(o.get("Id", ""))
    return (int(i), i) if i.isdigit() else (1 << 62, i)
