"""One QuickBooks Online company in memory: the books the QBO stand-in serves.

:class:`SandboxCompany` keeps customers, accounts, invoices, payments and credit memos as QBO
JSON dicts (Decimal money) and writes them with QBO's rules: ``create`` assigns Id,
SyncToken and MetaData; ``update`` checks the SyncToken (5010) and replaces ``Line`` whole;
``delete`` is a hard delete (reads then answer 610, CDC lists it as Deleted); ``void`` zeroes
the amounts. Invoice ``Balance`` and credit memo ``RemainingCredit`` are computed from the
payments linked to them, and a payment may not apply more than is open (6000). Tests and
scenarios seed it in process; the server (:mod:`sandbox.qbo.server`) reads and writes it for
HTTP requests.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from sandbox.qbo.query import FieldIndexes, json_copy, parse_query, run_query
from sandbox.qbo.wire import (
    ENTITY_NAMES,
    INACTIVE_DETAIL,
    JSONDict,
    SandboxFault,
    canonical_entity,
    id_order,
    money,
    not_found,
    parse_datetime,
    qbo_time,
    query_error,
    stale_object,
    validation_fault,
)

ChangeListener = Callable[[str, str, str, datetime], None]
"""(entity, Id, operation, when): told of every change to the books."""


def payment_links(payment: JSONDict) -> dict[tuple[str, str], Decimal]:
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
        self.listeners: list[ChangeListener] = []
        """Called on every change: (entity, Id, operation, when) — the webhooks' source."""
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.preferences: JSONDict = {
            "Id": "1",
            "SyncToken": "0",
            "SalesFormsPrefs": {
                "AutoApplyCredit": True,
                "AutoApplyPayments": True,
                "AllowDeposit": True,
            },
            "AccountingInfoPrefs": {"BookCloseDate": None},
        }
        self._objs: dict[str, dict[str, JSONDict]] = {n: {} for n in ENTITY_NAMES.values()}
        self.generation = 0  # bumped by every write: the query indexes below then expire
        self._field_indexes: dict[str, FieldIndexes] = {}
        self._deleted: list[tuple[str, str, datetime]] = []
        self._deleted_ids: set[tuple[str, str]] = set()
        # (TxnType, TxnId) -> {payment id: amount applied}
        self._applied: dict[tuple[str, str], dict[str, Decimal]] = {}
        self._next_id = 1
        self._next_doc = 1001
        now = self.clock()
        self.undeposited_funds = self.create(
            "Account",
            {
                "Name": "Undeposited Funds",
                "AccountType": "Other Current Asset",
                "AccountSubType": "UndepositedFunds",
            },
            at=now,
        )
        self.create(
            "Account",
            {
                "Name": "Accounts Receivable (A/R)",
                "AccountType": "Accounts Receivable",
                "AccountSubType": "AccountsReceivable",
            },
            at=now,
        )
        self._objs["CompanyInfo"][realm_id] = {
            "CompanyName": name,
            "LegalName": name,
            "Country": "US",
            "Id": realm_id,
            "SyncToken": "0",
            "domain": "QBO",
            "sparse": False,
            "MetaData": {"CreateTime": qbo_time(now), "LastUpdatedTime": qbo_time(now)},
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
        obj.setdefault("MetaData", {})["LastUpdatedTime"] = qbo_time(at)

    def _must(self, entity: str, id_: str) -> JSONDict:
        obj = self._objs[entity].get(str(id_))
        if obj is None:
            raise not_found()
        return obj

    def get(self, entity: str, id: str) -> JSONDict | None:
        """A copy of the object, or ``None`` if it does not exist (or was deleted)."""
        obj = self._objs[canonical_entity(entity)].get(str(id))
        return copy.deepcopy(obj) if obj is not None else None

    def all(self, entity: str) -> list[JSONDict]:
        """Copies of every live object of one type, by Id."""
        objs = self._objs[canonical_entity(entity)].values()
        return [copy.deepcopy(o) for o in sorted(objs, key=id_order)]

    def deletions(self, entity: str) -> list[tuple[str, datetime]]:
        """(Id, time) of every hard-deleted object of one type."""
        name = canonical_entity(entity)
        return [(i, at) for e, i, at in self._deleted if e == name]

    # ---- writes ----------------------------------------------------------------------
    def create(self, entity: str, body: JSONDict, *, at: datetime | None = None) -> JSONDict:
        """POST semantics: validate, assign Id/SyncToken/MetaData, recompute balances."""
        self.generation += 1  # the query indexes are read again
        name = canonical_entity(entity)
        when = self._now(at)
        obj = copy.deepcopy(body)
        for k in ("Id", "SyncToken", "MetaData", "sparse", "status"):
            obj.pop(k, None)
        self._prepare(name, obj, previous=None)
        obj.update(
            {
                "Id": self._new_id(),
                "SyncToken": "0",
                "domain": "QBO",
                "sparse": False,
                "MetaData": {"CreateTime": qbo_time(when), "LastUpdatedTime": qbo_time(when)},
            }
        )
        self._objs[name][obj["Id"]] = obj
        self._after_write(name, obj, None, when)
        self._emit(name, obj["Id"], "Create", when)
        return copy.deepcopy(obj)

    def update(
        self, entity: str, body: JSONDict, *, at: datetime | None = None, sparse: bool = True
    ) -> JSONDict:
        """Update by Id with the current SyncToken (else 5010); ``Line`` is replaced whole."""
        self.generation += 1  # the query indexes are read again
        name = canonical_entity(entity)
        when = self._now(at)
        id_ = str(body.get("Id") or "")
        if not id_:
            raise SandboxFault(
                400,
                "2020",
                "Required param missing, need to supply the required value for the API",
                "Required parameter Id is missing",
                "Id",
            )
        current = self._must(name, id_)
        if str(body.get("SyncToken")) != current.get("SyncToken"):
            raise stale_object()
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
        self._emit(name, id_, "Update", when)
        return copy.deepcopy(obj)

    def delete(self, entity: str, id: str, *, at: datetime | None = None) -> None:
        """Hard delete: reads then answer 610; CDC lists it as Deleted."""
        self.generation += 1  # the query indexes are read again
        name = canonical_entity(entity)
        when = self._now(at)
        current = self._must(name, id)
        del self._objs[name][str(id)]
        self._deleted.append((name, str(id), when))
        self._deleted_ids.add((name, str(id)))
        self._after_write(name, None, current, when)
        self._emit(name, str(id), "Delete", when)

    def void(self, entity: str, id: str, *, at: datetime | None = None) -> JSONDict:
        """Void: amounts zeroed, ``PrivateNote`` "Voided", object kept."""
        self.generation += 1  # the query indexes are read again
        name = canonical_entity(entity)
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
        self._emit(name, str(id), "Void", when)
        if name in ("Invoice", "CreditMemo"):
            obj["Balance"] = Decimal("0")
            if name == "CreditMemo":
                obj["RemainingCredit"] = Decimal("0")
        return copy.deepcopy(obj)

    # ---- entity rules ----------------------------------------------------------------
    def _prepare(self, name: str, obj: JSONDict, previous: JSONDict | None) -> None:
        if name == "Customer":
            if not obj.get("DisplayName"):
                raise validation_fault(
                    "DisplayName is required", code="2020", element="DisplayName"
                )
            obj.setdefault("Active", True)
            obj.setdefault("Balance", Decimal("0"))
            for other in self._objs["Customer"].values():
                if other.get("DisplayName") == obj["DisplayName"] and other.get("Id") != obj.get(
                    "Id"
                ):
                    raise SandboxFault(
                        400,
                        "6240",
                        "Duplicate Name Exists Error",
                        "The name supplied already exists. : null",
                    )
        elif name == "Account":
            obj.setdefault("Active", True)
            obj.setdefault("FullyQualifiedName", obj.get("Name"))
        elif name in ("Invoice", "CreditMemo"):
            self._check_customer(obj)
            if "TotalAmt" not in obj:
                obj["TotalAmt"] = sum(
                    (
                        money(ln.get("Amount"))
                        for ln in obj.get("Line") or []
                        if ln.get("DetailType", "SalesItemLineDetail") == "SalesItemLineDetail"
                    ),
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
            raise validation_fault("CustomerRef is required", code="2020", element="CustomerRef")
        cust = self._objs["Customer"].get(str(ref["value"]))
        if cust is not None:
            if not cust.get("Active", True):
                raise not_found(INACTIVE_DETAIL)
            ref.setdefault("name", cust.get("DisplayName"))

    def _prepare_payment(self, obj: JSONDict, previous: JSONDict | None) -> None:
        self._check_customer(obj)
        pid = str(previous["Id"]) if previous else None
        applied = Decimal("0")
        for (ttype, tid), amount in payment_links(obj).items():
            if amount < 0:
                raise validation_fault("Line amounts must not be negative.", element="Line.Amount")
            if ttype == "Invoice":
                target = self._objs["Invoice"].get(tid)
                if target is None:
                    raise not_found()
                applied += amount
            elif ttype == "CreditMemo":
                target = self._objs["CreditMemo"].get(tid)
                if target is None:
                    raise not_found()
                applied -= amount
            else:
                raise validation_fault(f"Unsupported LinkedTxn TxnType {ttype}", code="2010")
            already = self._applied.get((ttype, tid), {})
            others = sum((a for p, a in already.items() if p != pid), Decimal("0"))
            open_amount = money(target.get("TotalAmt")) - others
            if amount > open_amount:
                raise validation_fault(
                    f"The amount applied exceeds the open balance of {ttype} {tid} "
                    f"({open_amount}).",
                    element="Line.Amount",
                )
        total = money(obj.get("TotalAmt", applied if applied > 0 else 0))
        if total < applied:
            raise validation_fault(
                "The payment amount is less than the amount applied to transactions.",
                element="TotalAmt",
            )
        obj["TotalAmt"] = total
        obj["UnappliedAmt"] = total - applied
        obj.setdefault("TxnDate", self.clock().date().isoformat())
        obj.setdefault(
            "DepositToAccountRef",
            {"value": self.undeposited_funds["Id"], "name": "Undeposited Funds"},
        )
        for line in obj.get("Line") or []:
            line["Amount"] = money(line.get("Amount"))

    def _after_write(
        self, name: str, new: JSONDict | None, old: JSONDict | None, when: datetime
    ) -> None:
        if name == "Payment":
            pid = str((new or old or {}).get("Id"))
            old_links = payment_links(old) if old else {}
            new_links = payment_links(new) if new else {}
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
            obj["LinkedTxn"] = keep + [
                {"TxnId": p, "TxnType": "Payment"} for p in sorted(applied, key=int)
            ]
        if bump:
            self._touch(obj, when)
            self._emit(ttype, tid, "Update", when)

    def _emit(self, entity: str, id_: str, op: str, when: datetime) -> None:
        for listener in self.listeners:
            listener(entity, str(id_), op, when)

    # ---- reads used by the HTTP layer ------------------------------------------------
    def read(self, entity: str, id_: str) -> JSONDict:
        """A copy of the object; 610 when it does not exist (or was deleted)."""
        name = canonical_entity(entity)
        obj = self._objs[name].get(str(id_))
        if obj is None:
            raise not_found()
        return copy.deepcopy(obj)

    def query(self, text: str, *, copy: bool = True) -> JSONDict:
        """Run the QBO query subset; returns the ``QueryResponse`` object. ``copy=False``
        answers the stored objects themselves, for a caller that serialises the answer before
        anything can write (the HTTP layer)."""
        q = parse_query(text)
        name = ENTITY_NAMES.get(q.entity.lower())
        if name is None or name == "Preferences":
            raise query_error(f"invalid context declaration: {q.entity}")
        return run_query(q, name, self._objs[name], self._indexes(name), copy=copy)

    def _indexes(self, name: str) -> FieldIndexes:
        """The equality indexes of one entity's fields, kept until the next write."""
        got = self._field_indexes.get(name)
        if got is None or got.generation != self.generation:
            got = FieldIndexes(self._objs[name], self.generation)
            self._field_indexes[name] = got
        return got

    def cdc(self, entities: list[str], since: datetime, *, copy: bool = True) -> JSONDict:
        """The ``CDCResponse`` element for changes at or after ``since``; the objects are
        copies unless ``copy`` is False (a caller that serialises the answer at once)."""
        responses: list[JSONDict] = []
        for e in entities:
            name = canonical_entity(e)
            changed: list[JSONDict] = [
                o
                for o in self._objs[name].values()
                if parse_datetime(o["MetaData"]["LastUpdatedTime"]) >= since
            ]
            changed += [
                {
                    "domain": "QBO",
                    "status": "Deleted",
                    "Id": i,
                    "MetaData": {"LastUpdatedTime": qbo_time(at)},
                }
                for n, i, at in self._deleted
                if n == name and at >= since
            ]
            changed = [json_copy(o) for o in changed[:1000]] if copy else changed[:1000]
            responses.append({name: changed, "startPosition": 1, "maxResults": len(changed)})
        return {"QueryResponse": responses}
