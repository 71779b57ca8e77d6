"""A local QuickBooks Online: the same URLs and bodies, companies held in memory.

Seed companies in-process through :class:`SandboxCompany` (``create``/``update``/
``delete``/``void``), then point the real client at :meth:`QBOSandbox.make_app`.
It honours what the bot relies on: SyncToken checks (5010), hard deletes (610 and CDC
deletions), invoice ``Balance`` and credit memo ``RemainingCredit`` computed from the
payments linked to them, requestid replay, OAuth refresh-token rotation with
``invalid_grant``, QBO's limits (429 with the XML throttle body) and failure knobs
(``latency``, ``error_rate``, ``storm``, ``outage``, ``drop_responses``).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import random
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

JSONDict = dict[str, Any]

ENTITY_NAMES = {
    n.lower(): n
    for n in ("Customer", "Account", "Invoice", "Payment", "CreditMemo", "CompanyInfo",
              "Preferences")
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
THROTTLE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<IntuitResponse time="{time}" xmlns="http://schema.intuit.com/finance/v3">\n'
    '    <Fault type="SERVICE">\n'
    '        <Error code="3001">\n'
    "            <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>\n"
    "            <Detail>The request limit was reached.  Try again later</Detail>\n"
    "        </Error>\n"
    "    </Fault>\n"
    "</IntuitResponse>\n"
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
        err: JSONDict = {"Message": self.message, "Detail": self.detail or self.message,
                         "code": self.code}
        if self.element is not None:
            err["element"] = self.element
        return {"Error": [err], "type": self.fault_type}


def _not_found(detail: str = DELETED_DETAIL) -> SandboxFault:
    return SandboxFault(400, "610", "Object Not Found", detail)


def _validation(detail: str, code: str = "6000", element: str | None = None) -> SandboxFault:
    return SandboxFault(
        400, code, "A business validation error has occurred while processing your request",
        detail, element,
    )


def _query_error(detail: str) -> SandboxFault:
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
        raise _validation(f"Invalid amount: {v!r}", code="2010") from exc


_DEC_MARK = "\x00dec:"
_DEC_RE = re.compile(r'"\\u0000dec:([-0-9.Ee+]+)"')


def dumps(obj: Any) -> str:
    """JSON with Decimals written as exact numbers (as QBO writes them)."""

    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            return _DEC_MARK + str(o)
        if isinstance(o, datetime | date):
            return o.isoformat()
        raise TypeError(type(o).__name__)

    return _DEC_RE.sub(r"\1", json.dumps(obj, default=default, separators=(",", ":")))


def _ts(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def _parse_dt(s: str) -> datetime:
    d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _canon(entity: str) -> str:
    name = ENTITY_NAMES.get(entity.lower())
    if name is None:
        raise SandboxFault(400, "2010", "Request has invalid or unsupported property",
                           f"Unsupported entity: {entity}")
    return name


def _links(payment: JSONDict) -> dict[tuple[str, str], Decimal]:
    """Amounts a payment applies per (TxnType, TxnId)."""
    out: dict[tuple[str, str], Decimal] = {}
    for line in payment.get("Line") or []:
        for lt in line.get("LinkedTxn") or []:
            k = (str(lt.get("TxnType")), str(lt.get("TxnId")))
            out[k] = out.get(k, Decimal("0")) + money(line.get("Amount"))
    return out


class SandboxCompany:
    """One QBO company in memory. Bodies in and out are QBO JSON dicts (Decimal money)."""

    def __init__(
        self, realm_id: str, name: str, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.realm_id = realm_id
        self.name = name
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.preferences: JSONDict = {
            "Id": "1",
            "SyncToken": "0",
            "SalesFormsPrefs": {"AutoApplyCredit": True, "AutoApplyPayments": True,
                                "AllowDeposit": True},
            "AccountingInfoPrefs": {"BookCloseDate": None},
        }
        self._objs: dict[str, dict[str, JSONDict]] = {n: {} for n in ENTITY_NAMES.values()}
        self._deleted: list[tuple[str, str, datetime]] = []
        self._deleted_ids: set[tuple[str, str]] = set()
        # (TxnType, TxnId) -> {payment id: amount applied}
        self._applied: dict[tuple[str, str], dict[str, Decimal]] = {}
        self._next_id = 1
        self._next_doc = 1001
        now = self.clock()
        self.undeposited_funds = self.create("Account", {
            "Name": "Undeposited Funds", "AccountType": "Other Current Asset",
            "AccountSubType": "UndepositedFunds"}, at=now)
        self.create("Account", {"Name": "Accounts Receivable (A/R)",
                                "AccountType": "Accounts Receivable",
                                "AccountSubType": "AccountsReceivable"}, at=now)
        self._objs["CompanyInfo"][realm_id] = {
            "CompanyName": name, "LegalName": name, "Country": "US", "Id": realm_id,
            "SyncToken": "0", "domain": "QBO", "sparse": False,
            "MetaData": {"CreateTime": _ts(now), "LastUpdatedTime": _ts(now)},
        }

    # ---- helpers ---------------------------------------------------------------------
    def _now(self, at: datetime | None) -> datetime:
        return at or self.clock()

    def _new_id(self) -> str:
        i = self._next_id
        self._next_id += 1
        return str(i)

    def _touch(self, obj: JSONDict, at: datetime) -> None:
        obj["SyncToken"] = str(int(obj.get("SyncToken", "0")) + 1)
        obj.setdefault("MetaData", {})["LastUpdatedTime"] = _ts(at)

    def _must(self, entity: str, id_: str) -> JSONDict:
        obj = self._objs[entity].get(str(id_))
        if obj is None:
            raise _not_found()
        return obj

    def get(self, entity: str, id: str) -> JSONDict | None:
        """A copy of the object, or ``None`` if it does not exist (or was deleted)."""
        obj = self._objs[_canon(entity)].get(str(id))
        return copy.deepcopy(obj) if obj is not None else None

    def all(self, entity: str) -> list[JSONDict]:
        """Copies of every live object of one type, by Id."""
        objs = self._objs[_canon(entity)].values()
        return [copy.deepcopy(o) for o in sorted(objs, key=_id_key)]

    def deletions(self, entity: str) -> list[tuple[str, datetime]]:
        """(Id, time) of every hard-deleted object of one type."""
        name = _canon(entity)
        return [(i, at) for e, i, at in self._deleted if e == name]

    # ---- writes ----------------------------------------------------------------------
    def create(self, entity: str, body: JSONDict, *, at: datetime | None = None) -> JSONDict:
        """POST semantics: validate, assign Id/SyncToken/MetaData, recompute balances."""
        name = _canon(entity)
        when = self._now(at)
        obj = copy.deepcopy(body)
        for k in ("Id", "SyncToken", "MetaData", "sparse", "status"):
            obj.pop(k, None)
        self._prepare(name, obj, previous=None)
        obj.update({"Id": self._new_id(), "SyncToken": "0", "domain": "QBO", "sparse": False,
                    "MetaData": {"CreateTime": _ts(when), "LastUpdatedTime": _ts(when)}})
        self._objs[name][obj["Id"]] = obj
        self._after_write(name, obj, None, when)
        return copy.deepcopy(obj)

    def update(
        self, entity: str, body: JSONDict, *, at: datetime | None = None, sparse: bool = True
    ) -> JSONDict:
        """Update by Id with the current SyncToken (else 5010); ``Line`` is replaced whole."""
        name = _canon(entity)
        when = self._now(at)
        id_ = str(body.get("Id") or "")
        if not id_:
            raise SandboxFault(400, "2020", "Required param missing, need to supply the required "
                               "value for the API", "Required parameter Id is missing", "Id")
        current = self._must(name, id_)
        if str(body.get("SyncToken")) != current.get("SyncToken"):
            raise SandboxFault(400, "5010", "Stale Object Error", STALE_DETAIL)
        incoming = copy.deepcopy(body)
        for k in ("MetaData", "sparse", "domain", "status"):
            incoming.pop(k, None)
        if name in ("Invoice", "CreditMemo") and "Line" in incoming:
            incoming.setdefault("TotalAmt", None)
            if incoming["TotalAmt"] is None:
                del incoming["TotalAmt"]
        if sparse:
            obj = copy.deepcopy(current)
            if name in ("Invoice", "CreditMemo") and "Line" in incoming:
                obj.pop("TotalAmt", None)
            obj.update(incoming)
        else:
            obj = incoming
            obj["MetaData"] = copy.deepcopy(current.get("MetaData", {}))
        obj["Id"] = id_
        obj["SyncToken"] = current["SyncToken"]
        obj.update(domain="QBO", sparse=False)
        self._prepare(name, obj, previous=current)
        self._touch(obj, when)
        self._objs[name][id_] = obj
        self._after_write(name, obj, current, when)
        return copy.deepcopy(obj)

    def delete(self, entity: str, id: str, *, at: datetime | None = None) -> None:
        """Hard delete: reads then answer 610; CDC lists it as Deleted."""
        name = _canon(entity)
        when = self._now(at)
        current = self._must(name, id)
        del self._objs[name][str(id)]
        self._deleted.append((name, str(id), when))
        self._deleted_ids.add((name, str(id)))
        self._after_write(name, None, current, when)

    def void(self, entity: str, id: str, *, at: datetime | None = None) -> JSONDict:
        """Void: amounts zeroed, ``PrivateNote`` "Voided", object kept."""
        name = _canon(entity)
        when = self._now(at)
        current = self._must(name, id)
        obj = copy.deepcopy(current)
        for line in obj.get("Line") or []:
            line["Amount"] = Decimal("0")
        obj["TotalAmt"] = Decimal("0")
        obj["PrivateNote"] = "Voided"
        if name == "Payment":
            obj["UnappliedAmt"] = Decimal("0")
        self._touch(obj, when)
        self._objs[name][str(id)] = obj
        self._after_write(name, obj, current, when)
        if name in ("Invoice", "CreditMemo"):
            obj["Balance"] = Decimal("0")
            if name == "CreditMemo":
                obj["RemainingCredit"] = Decimal("0")
        return copy.deepcopy(obj)

    # ---- entity rules ----------------------------------------------------------------
    def _prepare(self, name: str, obj: JSONDict, previous: JSONDict | None) -> None:
        if name == "Customer":
            if not obj.get("DisplayName"):
                raise _validation("DisplayName is required", code="2020", element="DisplayName")
            obj.setdefault("Active", True)
            obj.setdefault("Balance", Decimal("0"))
            for other in self._objs["Customer"].values():
                if (other.get("DisplayName") == obj["DisplayName"]
                        and other.get("Id") != obj.get("Id")):
                    raise SandboxFault(400, "6240", "Duplicate Name Exists Error",
                                       "The name supplied already exists. : null")
        elif name == "Account":
            obj.setdefault("Active", True)
            obj.setdefault("FullyQualifiedName", obj.get("Name"))
        elif name in ("Invoice", "CreditMemo"):
            self._check_customer(obj)
            if "TotalAmt" not in obj:
                obj["TotalAmt"] = sum(
                    (money(ln.get("Amount")) for ln in obj.get("Line") or []
                     if ln.get("DetailType", "SalesItemLineDetail") == "SalesItemLineDetail"),
                    Decimal("0"),
                )
            obj["TotalAmt"] = money(obj["TotalAmt"])
            if not obj.get("DocNumber"):
                obj["DocNumber"] = str(self._next_doc)
                self._next_doc += 1
            obj.setdefault("TxnDate", self.clock().date().isoformat())
            if name == "Invoice":
                obj.setdefault("LinkedTxn", [])
        elif name == "Payment":
            self._prepare_payment(obj, previous)

    def _check_customer(self, obj: JSONDict) -> None:
        ref = obj.get("CustomerRef")
        if not ref or not ref.get("value"):
            raise _validation("CustomerRef is required", code="2020", element="CustomerRef")
        cust = self._objs["Customer"].get(str(ref["value"]))
        if cust is not None:
            if not cust.get("Active", True):
                raise _not_found(INACTIVE_DETAIL)
            ref.setdefault("name", cust.get("DisplayName"))

    def _prepare_payment(self, obj: JSONDict, previous: JSONDict | None) -> None:
        self._check_customer(obj)
        pid = str(previous["Id"]) if previous else None
        applied = Decimal("0")
        for (ttype, tid), amount in _links(obj).items():
            if amount < 0:
                raise _validation("Line amounts must not be negative.", element="Line.Amount")
            if ttype == "Invoice":
                target = self._objs["Invoice"].get(tid)
                if target is None:
                    raise _not_found()
                applied += amount
            elif ttype == "CreditMemo":
                target = self._objs["CreditMemo"].get(tid)
                if target is None:
                    raise _not_found()
                applied -= amount
            else:
                raise _validation(f"Unsupported LinkedTxn TxnType {ttype}", code="2010")
            already = self._applied.get((ttype, tid), {})
            others = sum((a for p, a in already.items() if p != pid), Decimal("0"))
            open_amount = money(target.get("TotalAmt")) - others
            if amount > open_amount:
                raise _validation(
                    f"The amount applied exceeds the open balance of {ttype} {tid} "
                    f"({open_amount}).", element="Line.Amount",
                )
        total = money(obj.get("TotalAmt", applied if applied > 0 else 0))
        if total < applied:
            raise _validation("The payment amount is less than the amount applied to "
                              "transactions.", element="TotalAmt")
        obj["TotalAmt"] = total
        obj["UnappliedAmt"] = total - applied
        obj.setdefault("TxnDate", self.clock().date().isoformat())
        obj.setdefault("DepositToAccountRef", {"value": self.undeposited_funds["Id"],
                                               "name": "Undeposited Funds"})
        for line in obj.get("Line") or []:
            line["Amount"] = money(line.get("Amount"))

    def _after_write(
        self, name: str, new: JSONDict | None, old: JSONDict | None, when: datetime
    ) -> None:
        if name == "Payment":
            pid = str((new or old or {}).get("Id"))
            old_links = _links(old) if old else {}
            new_links = _links(new) if new else {}
            for key in set(old_links) | set(new_links):
                applied = self._applied.setdefault(key, {})
                if key in new_links:
                    applied[pid] = new_links[key]
                else:
                    applied.pop(pid, None)
                self._recompute(key, when, bump=old_links.get(key) != new_links.get(key))
        elif name in ("Invoice", "CreditMemo") and new is not None:
            self._recompute((name, str(new["Id"])), when, bump=False)

    def _recompute(self, key: tuple[str, str], when: datetime, *, bump: bool) -> None:
        ttype, tid = key
        if ttype not in ("Invoice", "CreditMemo"):
            return
        obj = self._objs[ttype].get(tid)
        if obj is None:
            return
        applied = self._applied.get(key, {})
        balance = money(obj.get("TotalAmt")) - sum(applied.values(), Decimal("0"))
        obj["Balance"] = max(balance, Decimal("0"))
        if ttype == "CreditMemo":
            obj["RemainingCredit"] = obj["Balance"]
        else:
            keep = [lt for lt in obj.get("LinkedTxn") or [] if lt.get("TxnType") != "Payment"]
            obj["LinkedTxn"] = keep + [{"TxnId": p, "TxnType": "Payment"}
                                       for p in sorted(applied, key=int)]
        if bump:
            self._touch(obj, when)

    # ---- reads used by the HTTP layer ------------------------------------------------
    def read(self, entity: str, id_: str) -> JSONDict:
        name = _canon(entity)
        obj = self._objs[name].get(str(id_))
        if obj is None:
            raise _not_found()
        return copy.deepcopy(obj)

    def query(self, text: str) -> JSONDict:
        """Run the QBO query subset; returns the ``QueryResponse`` object."""
        q = parse_query(text)
        name = ENTITY_NAMES.get(q.entity.lower())
        if name is None or name == "Preferences":
            raise _query_error(f"invalid context declaration: {q.entity}")
        rows = [o for o in self._objs[name].values() if all(c.match(o) for c in q.where)]
        if q.count:
            return {"totalCount": len(rows)}
        rows.sort(key=_id_key)
        for fld, desc in reversed(q.order_by):
            rows.sort(key=lambda o, f=fld: _sort_key(_field(o, f)), reverse=desc)  # type: ignore[misc]
        start = max(q.start, 1)
        page = rows[start - 1: start - 1 + min(q.max_results, 1000)]
        if not page:
            return {}
        return {name: copy.deepcopy(page), "startPosition": start, "maxResults": len(page)}

    def cdc(self, entities: list[str], since: datetime) -> JSONDict:
        """The ``CDCResponse`` element for changes at or after ``since``."""
        responses: list[JSONDict] = []
        for e in entities:
            name = _canon(e)
            changed = [copy.deepcopy(o) for o in self._objs[name].values()
                       if _parse_dt(o["MetaData"]["LastUpdatedTime"]) >= since]
            changed += [{"domain": "QBO", "status": "Deleted", "Id": i,
                         "MetaData": {"LastUpdatedTime": _ts(at)}}
                        for n, i, at in self._deleted if n == name and at >= since]
            changed = changed[:1000]
            responses.append({name: changed, "startPosition": 1, "maxResults": len(changed)})
        return {"QueryResponse": responses}


def _id_key(o: JSONDict) -> tuple[int, str]:
    i = str(o.get("Id", ""))
    return (int(i), i) if i.isdigit() else (1 << 62, i)


# ---- query subset ------------------------------------------------------------------------
@dataclass
class Cond:
    """One ``field op value`` condition of a where clause."""

    field: str
    op: str
    values: list[str]

    def match(self, obj: JSONDict) -> bool:
        actual = _field(obj, self.field)
        if actual is None:
            return False
        if self.op == "in":
            return self._in(actual)
        v = self.values[0]
        if self.op == "like":
            pattern = "^" + ".*".join(re.escape(p) for p in v.split("%")) + "$"
            return re.match(pattern, str(actual), re.I | re.S) is not None
        c = _cmp(actual, v)
        return {"=": c == 0, "<": c < 0, ">": c > 0, "<=": c <= 0, ">=": c >= 0,
                "!=": c != 0}[self.op]

    def _in(self, actual: Any) -> bool:
        """``any(_cmp(actual, v) == 0 for v in values)`` by set lookups (the same answers),
        so that ``Id IN (100 values)`` over a big company stays fast."""
        if isinstance(actual, bool) or not isinstance(actual, str | int | Decimal):
            return any(_cmp(actual, v) == 0 for v in self.values)
        index = getattr(self, "_index", None)
        if index is None:
            numbers: set[Decimal] = set()
            for v in self.values:
                try:
                    n = Decimal(v)
                except InvalidOperation:
                    continue
                if not n.is_nan():
                    numbers.add(n)
            index = ({v.lower() for v in self.values}, numbers)
            self._index = index
        lowered, numbers = index
        text = str(actual)
        try:
            number: Decimal | None = Decimal(text)
        except InvalidOperation:
            number = None
        if number is not None and number.is_nan():
            return any(_cmp(actual, v) == 0 for v in self.values)
        if number is not None and number in numbers:
            return True
        if number is None and re.match(r"\d{4}-\d\d-\d\d", text):
            return any(_cmp(actual, v) == 0 for v in self.values)
        return text.lower() in lowered


@dataclass
class Query:
    entity: str
    count: bool
    where: list[Cond]
    order_by: list[tuple[str, bool]]
    start: int
    max_results: int


_Q_RE = re.compile(
    r"^\s*select\s+(?P<what>\*|count\(\s*\*\s*\))\s+from\s+(?P<entity>\w+)"
    r"(?:\s+where\s+(?P<where>.*?))?"
    r"(?:\s+order\s*by\s+(?P<order>[\w.]+(?:\s+(?:asc|desc))?(?:\s*,\s*[\w.]+(?:\s+(?:asc|desc))?)*))?"
    r"(?:\s+startposition\s+(?P<start>\d+))?"
    r"(?:\s+maxresults\s+(?P<max>\d+))?\s*$",
    re.I | re.S,
)
_STR = r"'(?:\\.|[^'\\])*'"
_COND_RE = re.compile(
    r"\s*(?P<field>[\w.]+)\s*(?P<op><=|>=|!=|=|<|>|\bin\b|\blike\b)\s*"
    r"(?P<value>" + _STR + r"|\(\s*" + _STR + r"(?:\s*,\s*" + _STR + r")*\s*\)|[\w.:+-]+)\s*",
    re.I | re.S,
)
UNQUERYABLE = {"unappliedamt"}


def _unquote(s: str) -> str:
    s = s.strip()
    if s.startswith("'") and s.endswith("'"):
        return re.sub(r"\\(.)", r"\1", s[1:-1])
    return s


def parse_query(text: str) -> Query:
    """Parse ``select * | count(*) from X [where ...] [orderby ...] [startposition N]
    [maxresults M]`` (conditions joined by ``and``)."""
    m = _Q_RE.match(text)
    if not m:
        raise _query_error(f"could not parse query: {text[:120]}")
    where: list[Cond] = []
    rest = (m.group("where") or "").strip()
    while rest:
        cm = _COND_RE.match(rest)
        if not cm:
            raise _query_error(f"could not parse condition near: {rest[:60]}")
        fld, op, value = cm.group("field"), cm.group("op").lower(), cm.group("value")
        if fld.lower() in UNQUERYABLE:
            raise _query_error(f"property '{fld}' is not queryable")
        if op == "in":
            if not value.startswith("("):
                raise _query_error("IN needs a list")
            values = [_unquote(v) for v in re.findall(_STR, value)]
        else:
            values = [_unquote(value)]
        where.append(Cond(fld, op, values))
        rest = rest[cm.end():]
        if rest:
            am = re.match(r"and\s+", rest, re.I)
            if not am:
                raise _query_error(f"only AND is supported, near: {rest[:60]}")
            rest = rest[am.end():]
    order: list[tuple[str, bool]] = []
    if m.group("order"):
        for part in m.group("order").split(","):
            bits = part.split()
            order.append((bits[0], len(bits) > 1 and bits[1].lower() == "desc"))
    return Query(
        entity=m.group("entity"),
        count=m.group("what") != "*",
        where=where,
        order_by=order,
        start=int(m.group("start") or 1),
        max_results=int(m.group("max") or 100),
    )


def _field(obj: JSONDict, path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        match = next((k for k in cur if k.lower() == part.lower()), None)
        if match is None:
            return None
        cur = cur[match]
    if isinstance(cur, dict) and "value" in cur:
        return cur["value"]
    return cur


def _cmp(actual: Any, literal: str) -> int:
    if isinstance(actual, bool):
        a_b, l_b = actual, literal.lower() == "true"
        return (a_b > l_b) - (a_b < l_b)
    try:
        a, b = Decimal(str(actual)), Decimal(literal)
        return (a > b) - (a < b)
    except InvalidOperation:
        pass
    if isinstance(actual, str) and re.match(r"\d{4}-\d\d-\d\d", actual):
        try:
            da, db = _to_dt(actual), _to_dt(literal)
            return (da > db) - (da < db)
        except ValueError:
            pass
    sa, sb = str(actual).lower(), literal.lower()
    return (sa > sb) - (sa < sb)


def _to_dt(s: str) -> datetime:
    if len(s) == 10:
        return datetime.fromisoformat(s).replace(tzinfo=UTC)
    return _parse_dt(s)


def _sort_key(v: Any) -> tuple[int, Any]:
    if v is None:
        return (0, "")
    try:
        return (1, Decimal(str(v)))
    except InvalidOperation:
        return (2, str(v).lower())


# ---- the service -------------------------------------------------------------------------
@dataclass
class SandboxStats:
    """What the sandbox saw."""

    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    refreshes: int = 0
    throttled: int = 0
    injected_errors: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)


class QBOSandbox:
    """The local QBO service: companies, OAuth and the Accounting API over HTTP."""

    def __init__(
        self,
        *,
        client_id: str = "sandbox-client-id",
        client_secret: str = "sandbox-client-secret",
        access_ttl: int = 3600,
        clock: Callable[[], datetime] | None = None,
        seed: int | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_ttl = access_ttl
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.companies: dict[str, SandboxCompany] = {}
        self.stats = SandboxStats()
        # knobs
        self.latency = 0.0
        self.error_rate = 0.0
        self.outage = False
        self.limit_in_flight = 10
        self.limit_per_window = 500
        self.window_seconds = 60.0
        self.retry_after: float | None = None
        """Seconds sent in ``Retry-After`` on a 429 (QBO sends none; ``None`` = omit)."""
        self.drop_responses = 0
        """Process the next N API requests, then drop the connection without answering."""
        self.rng = random.Random(seed)
        self._storm_left = 0
        self._storm_status = 503
        self._throttle_left = 0
        self._windows: dict[str, deque[float]] = {}
        self._realm_in_flight: Counter[str] = Counter()
        self._refresh_tokens: dict[str, str] = {}  # token -> realm
        self._access_tokens: dict[str, tuple[str, datetime]] = {}
        self._codes: dict[str, tuple[str, str]] = {}  # code -> (realm, redirect_uri)
        self._replay: dict[tuple[str, str], tuple[int, str]] = {}

    # ---- companies and tokens ----------------------------------------------------------
    def add_company(
        self, realm_id: str = "9341453000000001", name: str = "Sandbox MSP LLC"
    ) -> SandboxCompany:
        """Create (or return) a company."""
        if realm_id not in self.companies:
            self.companies[realm_id] = SandboxCompany(realm_id, name, clock=self.clock)
        return self.companies[realm_id]

    def company(self, realm_id: str) -> SandboxCompany:
        """The company with this realm id (KeyError if none)."""
        return self.companies[realm_id]

    def issue_refresh_token(self, realm_id: str) -> str:
        """A fresh, valid refresh token for ``realm_id``."""
        token = "RT1-" + secrets.token_urlsafe(24)
        self._refresh_tokens[token] = realm_id
        return token

    def issue_access_token(self, realm_id: str) -> str:
        """A fresh access token valid ``access_ttl`` seconds."""
        token = "eyJsandbox." + secrets.token_urlsafe(32)
        self._access_tokens[token] = (
            realm_id, self.clock() + timedelta(seconds=self.access_ttl))
        return token

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far expired."""
        past = self.clock() - timedelta(seconds=1)
        self._access_tokens = {t: (r, past) for t, (r, _) in self._access_tokens.items()}

    def storm(self, n: int, status: int = 503) -> None:
        """Answer the next ``n`` API requests with ``status``."""
        self._storm_left, self._storm_status = n, status

    def throttle(self, n: int) -> None:
        """Answer the next ``n`` API requests with 429 (the XML throttle body)."""
        self._throttle_left = n

    # ---- HTTP --------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        """The aiohttp app: ``/v3/company/{realm}/...``, ``/oauth2/v1/tokens/bearer`` and
        the fake consent page ``/connect/oauth2``."""
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_post("/oauth2/v1/tokens/bearer", self._token)
        r.add_get("/connect/oauth2", self._consent)
        base = "/v3/company/{realm}"
        r.add_get(base + "/query", self._h_query)
        r.add_post(base + "/query", self._h_query)
        r.add_post(base + "/batch", self._h_batch)
        r.add_get(base + "/cdc", self._h_cdc)
        r.add_get(base + "/preferences", self._h_preferences)
        r.add_get(base + "/companyinfo/{id}", self._h_companyinfo)
        r.add_get(base + "/{entity}/{id}", self._h_read)
        r.add_post(base + "/{entity}", self._h_write)
        return app

    @staticmethod
    def _kind(request: web.Request) -> str:
        parts = request.path.strip("/").split("/")
        if parts[0] == "oauth2":
            return "token"
        if parts[0] == "connect":
            return "connect"
        if len(parts) < 4:
            return "other"
        what = parts[3].lower()
        if what in ("query", "batch", "cdc", "preferences", "companyinfo"):
            return what
        if request.method == "GET":
            return "read"
        op = request.query.get("operation", "")
        return op or "write"

    def _fault_response(self, f: SandboxFault) -> web.Response:
        return self._json({"Fault": f.fault(), "time": _ts(self.clock())}, status=f.status)

    def _json(self, data: Any, status: int = 200) -> web.Response:
        return web.Response(text=dumps(data), status=status, content_type="application/json",
                            headers={"intuit_tid": "sbx-" + secrets.token_hex(8)})

    def _throttled(self) -> web.Response:
        self.stats.throttled += 1
        headers = {"intuit_tid": "sbx-" + secrets.token_hex(8)}
        if self.retry_after is not None:
            headers["Retry-After"] = f"{self.retry_after:g}"
        return web.Response(status=429, text=THROTTLE_XML.format(time=_ts(self.clock())),
                            content_type="application/xml", headers=headers)

    def _window_full(self, realm: str) -> bool:
        window = self._windows.setdefault(realm, deque())
        now = time.monotonic()
        while window and window[0] <= now - self.window_seconds:
            window.popleft()
        if len(window) >= self.limit_per_window:
            return True
        window.append(now)
        return False

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        kind = self._kind(request)
        st = self.stats
        st.requests += 1
        st.by_kind[kind] += 1
        if kind in ("token", "connect"):
            return await handler(request)
        realm = request.match_info.get("realm", "")
        st.in_flight += 1
        st.max_in_flight = max(st.max_in_flight, st.in_flight)
        self._realm_in_flight[realm] += 1
        try:
            if self.outage:
                return web.Response(status=503, text="Service Unavailable")
            # QBO's limits hold per company
            if self._realm_in_flight[realm] > self.limit_in_flight or self._window_full(realm):
                return self._throttled()
            if self.latency:
                await asyncio.sleep(self.latency)
            try:
                self._authorize(request)
            except SandboxFault as f:
                return self._auth_fault(f)
            if self._throttle_left > 0:
                self._throttle_left -= 1
                return self._throttled()
            if self._storm_left > 0:
                self._storm_left -= 1
                st.injected_errors += 1
                return self._server_error(self._storm_status)
            if self.error_rate and self.rng.random() < self.error_rate:
                st.injected_errors += 1
                return self._server_error(503)
            try:
                resp: web.StreamResponse = await handler(request)
            except SandboxFault as f:
                resp = self._fault_response(f)
            if self.drop_responses > 0 and kind not in ("read", "query"):
                self.drop_responses -= 1
                if request.transport is not None:
                    request.transport.close()  # committed, but the answer never arrives
            return resp
        finally:
            st.in_flight -= 1
            self._realm_in_flight[realm] -= 1

    def _server_error(self, status: int) -> web.Response:
        f = SandboxFault(status, "10000", "An application error has occurred while processing "
                         "your request", "System Failure Error: injected by the sandbox",
                         fault_type="SystemFault")
        return self._fault_response(f)

    def _auth_fault(self, f: SandboxFault) -> web.Response:
        body: JSONDict = {"warnings": None, "intuitObject": None,
                "fault": {"error": [{"message": f.message, "detail": f.detail,
                                     "code": f.code, "element": None}],
                          "type": f.fault_type},
                "report": None, "queryResponse": None, "batchItemResponse": [],
                "requestId": None, "time": int(self.clock().timestamp() * 1000),
                "status": None, "cdcresponse": []}
        return self._json(body, status=f.status)

    def _authorize(self, request: web.Request) -> str:
        realm = request.match_info.get("realm", "")
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        entry = self._access_tokens.get(token)
        if entry is None:
            raise SandboxFault(401, "3200",
                               "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                               "Token invalid", fault_type="AUTHENTICATION")
        token_realm, expires = entry
        if expires <= self.clock():
            raise SandboxFault(401, "3200",
                               "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                               f"Token expired: {token[:12]}...", fault_type="AUTHENTICATION")
        if token_realm != realm or realm not in self.companies:
            raise SandboxFault(403, "3100",
                               "message=AuthorizationFailed; errorCode=003100; statusCode=403",
                               None, fault_type="SERVICE")
        return realm

    def _co(self, request: web.Request) -> SandboxCompany:
        return self.companies[request.match_info["realm"]]

    async def _body(self, request: web.Request) -> JSONDict:
        raw = await request.read()
        try:
            data = json.loads(raw or b"{}", parse_float=Decimal)
        except ValueError as exc:
            raise SandboxFault(400, "2010", "Request has invalid or unsupported property",
                               "Request body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise SandboxFault(400, "2010", "Request has invalid or unsupported property",
                               "Request body must be a JSON object")
        return data

    def _check_request_id(self, request: web.Request) -> str:
        rid = request.query.get("requestid", "")
        if len(rid) > 50:
            raise _validation("requestid is longer than 50 characters", code="2010")
        return rid

    async def _h_read(self, request: web.Request) -> web.Response:
        co = self._co(request)
        entity = request.match_info["entity"]
        obj = co.read(entity, request.match_info["id"])
        return self._json({_canon(entity): obj, "time": _ts(self.clock())})

    async def _h_companyinfo(self, request: web.Request) -> web.Response:
        co = self._co(request)
        obj = co.read("CompanyInfo", request.match_info["id"])
        return self._json({"CompanyInfo": obj, "time": _ts(self.clock())})

    async def _h_preferences(self, request: web.Request) -> web.Response:
        co = self._co(request)
        return self._json({"Preferences": copy.deepcopy(co.preferences),
                           "time": _ts(self.clock())})

    async def _h_query(self, request: web.Request) -> web.Response:
        co = self._co(request)
        text = request.query.get("query")
        if text is None and request.method == "POST":
            text = (await request.read()).decode()
        result = co.query(text or "")
        return self._json({"QueryResponse": result, "time": _ts(self.clock())})

    async def _h_cdc(self, request: web.Request) -> web.Response:
        co = self._co(request)
        names = [e for e in request.query.get("entities", "").split(",") if e.strip()]
        since_raw = request.query.get("changedSince", "")
        if not names or not since_raw:
            raise _validation("entities and changedSince are required", code="2010")
        try:
            since = _parse_dt(since_raw)
        except ValueError as exc:
            raise _validation(f"Invalid changedSince: {since_raw}", code="2010") from exc
        if since < self.clock() - timedelta(days=30):
            raise _validation("changedSince is more than 30 days in the past", code="2010")
        return self._json({"CDCResponse": [co.cdc(names, since)], "time": _ts(self.clock())})

    def _write_one(self, co: SandboxCompany, entity: str, op: str, body: JSONDict) -> JSONDict:
        name = _canon(entity)
        if op == "delete":
            current = co.read(name, str(body.get("Id", "")))
            if str(body.get("SyncToken")) != current.get("SyncToken"):
                raise SandboxFault(400, "5010", "Stale Object Error", STALE_DETAIL)
            co.delete(name, current["Id"])
            return {name: {"domain": "QBO", "status": "Deleted", "Id": current["Id"]}}
        if op == "void":
            current = co.read(name, str(body.get("Id", "")))
            if str(body.get("SyncToken")) != current.get("SyncToken"):
                raise SandboxFault(400, "5010", "Stale Object Error", STALE_DETAIL)
            return {name: co.void(name, current["Id"])}
        if op in ("update", "") and body.get("Id"):
            return {name: co.update(name, body, sparse=bool(body.get("sparse")))}
        if op in ("create", ""):
            return {name: co.create(name, body)}
        raise _validation(f"Unsupported operation {op}", code="2010")

    async def _h_write(self, request: web.Request) -> web.Response:
        co = self._co(request)
        rid = self._check_request_id(request)
        body = await self._body(request)
        if rid and (co.realm_id, rid) in self._replay:
            status, text = self._replay[(co.realm_id, rid)]
            return web.Response(text=text, status=status, content_type="application/json")
        result = self._write_one(co, request.match_info["entity"],
                                 request.query.get("operation", ""), body)
        result["time"] = _ts(self.clock())
        text = dumps(result)
        if rid:
            self._replay[(co.realm_id, rid)] = (200, text)
        return web.Response(text=text, content_type="application/json")

    async def _h_batch(self, request: web.Request) -> web.Response:
        co = self._co(request)
        rid = self._check_request_id(request)
        body = await self._body(request)
        if rid and (co.realm_id, rid) in self._replay:
            status, text = self._replay[(co.realm_id, rid)]
            return web.Response(text=text, status=status, content_type="application/json")
        items = body.get("BatchItemRequest")
        if not isinstance(items, list) or not items:
            raise _validation("BatchItemRequest is required", code="2010")
        if len(items) > 30:
            raise _validation("The number of batch items exceeds the maximum of 30",
                              code="2010")
        out: list[JSONDict] = []
        for item in items:
            bid = item.get("bId")
            try:
                if "Query" in item:
                    out.append({"bId": bid, "QueryResponse": co.query(str(item["Query"]))})
                    continue
                entity = next((k for k in item if k.lower() in ENTITY_NAMES), None)
                if entity is None:
                    raise _validation("Batch item names no entity", code="2010")
                res = self._write_one(co, entity, str(item.get("operation", "create")),
                                      item[entity])
                res["bId"] = bid
                out.append(res)
            except SandboxFault as f:
                out.append({"bId": bid, "Fault": f.fault()})
        text = dumps({"BatchItemResponse": out, "time": _ts(self.clock())})
        if rid:
            self._replay[(co.realm_id, rid)] = (200, text)
        return web.Response(text=text, content_type="application/json")

    # ---- OAuth -------------------------------------------------------------------------
    def _client_ok(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            raw = base64.b64decode(auth[6:]).decode()
        except ValueError:
            return False
        return raw == f"{self.client_id}:{self.client_secret}"

    async def _token(self, request: web.Request) -> web.Response:
        if not self._client_ok(request):
            return web.json_response({"error": "invalid_client"}, status=401)
        form = await request.post()
        grant = form.get("grant_type")
        if grant == "refresh_token":
            old = str(form.get("refresh_token", ""))
            realm = self._refresh_tokens.pop(old, None)
            if realm is None:
                return web.json_response({"error": "invalid_grant"}, status=400)
            self.stats.refreshes += 1
        elif grant == "authorization_code":
            code = str(form.get("code", ""))
            entry = self._codes.pop(code, None)
            if entry is None or entry[1] != form.get("redirect_uri"):
                return web.json_response({"error": "invalid_grant"}, status=400)
            realm = entry[0]
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        return web.json_response({
            "token_type": "bearer",
            "expires_in": self.access_ttl,
            "refresh_token": self.issue_refresh_token(realm),
            "x_refresh_token_expires_in": 8726400,
            "access_token": self.issue_access_token(realm),
        })

    async def _consent(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return web.Response(status=400, text="invalid client_id or response_type")
        redirect = q.get("redirect_uri", "")
        if not redirect.startswith(("http://", "https://")):
            return web.Response(status=400, text="invalid redirect_uri")
        realm = q.get("realm") or next(iter(self.companies), None)
        if realm is None:
            return web.Response(status=400, text="no company to connect")
        code = "AB11" + secrets.token_urlsafe(20)
        self._codes[code] = (realm, redirect)
        params = {"code": code, "state": q.get("state", ""), "realmId": realm}
        sep = "&" if "?" in redirect else "?"
        raise web.HTTPFound(redirect + sep + urlencode(params))
