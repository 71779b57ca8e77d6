"""Fetching the QuickBooks facts a batch of failed payments needs, in bulk.

``fetch_facts`` reads what ``bot.diagnosis.decide.diagnose`` needs for a whole batch of failed
ConnectBooster payments with a handful of queries, never one round trip per failure:

1. at once: the invoices by chunked ``Id IN (...)`` and the QBO payments already carrying a
   ``CB…`` reference by ``PaymentRefNum IN (...)``;
2. then, at once: the payments linked to the invoices whose balance no longer covers the
   application (``Id IN`` over their ``LinkedTxn``), invoices with the numbers of the missing
   ones (``DocNumber IN``), the open invoices of customers with a missing or voided invoice
   (``CustomerRef IN ... and Balance > '0'``), the inactive customers among payments that no
   invoice explains (``Id IN ... and Active = false``) and, when an invoice is missing, one CDC
   call for invoice deletions (which tells when);
3. the credit memos the linked payments apply (``Id IN``).

An invoice the ``Id IN`` query does not return is gone (QBO hard-deletes; a read would answer
610); CDC adds the deletion time when it is within its 30 days.

The benchmark's baseline, the plain per-invoice fetch (``bench/naive_fetch.py``: each invoice,
each linked transaction, each reference read one request at a time), is not production code; it
reuses the public steps here so both return the same ``QBOFacts``: ``FetchPlan`` (what the
second round asks, from the invoices read in the first), ``cdc_start`` (where the change feed
starts), ``deletion_times`` (deletions from a CDC answer) and ``assemble_facts``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from bot.diagnosis.decide import DEFAULT_THRESHOLD, diagnose
from bot.diagnosis.facts import QBOFacts
from bot.models import Diagnosis
from cb.models import Payment as CBPayment
from qb.models import CreditMemo, Customer, Entity, Invoice
from qb.models import Payment as QBPayment
from qb.query import MAX_PAGE, chunks, in_clause, join_where, select
from qb.wire import BatchItem, BatchResult

E = TypeVar("E", bound=Entity)

CDC_WINDOW = timedelta(days=30)
"""How far back QBO's change feed reaches."""


class QBOReader(Protocol):
    """The part of ``qb.client.QBOClient`` the facts need."""

    async def get(self, cls: type[E], id: str) -> E: ...

    async def query(
        self, cls: type[E], where: str = "", *, order_by: str | None = None
    ) -> list[E]: ...

    async def query_in(
        self,
        cls: type[E],
        field: str,
        values: Iterable[str],
        *,
        extra_where: str = "",
        chunk: int = 100,
    ) -> list[E]: ...

    async def batch(
        self, items: list[BatchItem], *, request_id: str | None = None
    ) -> list[BatchResult]: ...

    async def cdc(
        self, entities: Sequence[str], changed_since: datetime
    ) -> Mapping[str, Sequence[Entity]]: ...

    def web_url(self, entity_type: str, id: str) -> str: ...


@dataclass(frozen=True)
class _Ask:
    """One bulk question: every ``cls`` whose ``field`` is one of ``values`` (and
    ``extra_where``)."""

    cls: type[Entity]
    field: str
    values: list[str]
    extra_where: str = ""


class _Bulk:
    """Runs several bulk questions at once: as query items of QBO batch requests (30 queries
    a request) or, without batch, as concurrent chunked ``IN`` queries."""

    def __init__(self, qbo: QBOReader, *, use_batch: bool, chunk: int) -> None:
        self.qbo = qbo
        self.use_batch = use_batch
        self.chunk = chunk

    async def run(self, asks: Sequence[_Ask]) -> list[list[Any]]:
        live = [a for a in asks if a.values]
        if not self.use_batch:
            answers = await asyncio.gather(
                *(
                    self.qbo.query_in(
                        a.cls, a.field, a.values, extra_where=a.extra_where, chunk=self.chunk
                    )
                    for a in live
                )
            )
            got = dict(zip((id(a) for a in live), answers, strict=True))
            return [list(got.get(id(a), [])) for a in asks]

        items: list[BatchItem] = []
        owners: list[tuple[int, _Ask, str]] = []
        for n, a in enumerate(asks):
            for g in chunks(a.values, self.chunk):
                where = join_where(in_clause(a.field, g), a.extra_where)
                items.append(
                    BatchItem(
                        bid=f"q{len(items)}",
                        query=select(a.cls.entity_name, where, start=1, max_results=MAX_PAGE),
                    )
                )
                owners.append((n, a, where))
        out: list[list[Any]] = [[] for _ in asks]
        if not items:
            return out
        results = await self.qbo.batch(items)
        for res, (n, a, where) in zip(results, owners, strict=True):
            if res.error is not None:
                raise res.error
            if len(res.entities) >= MAX_PAGE:  # a full page: read this one with paging
                out[n].extend(await self.qbo.query(a.cls, where))
            else:
                out[n].extend(res.entities)
        return out


# --------------------------------------------------------------------------- what to ask


def _short_invoices(payments: Sequence[CBPayment], invoices: dict[str, Invoice]) -> set[str]:
    """Ids of readable, non-voided invoices whose balance is below what a payment applies."""
    short: set[str] = set()
    for p in payments:
        for a in p.applications:
            inv = invoices.get(a.qb_invoice_id)
            if inv is not None and not inv.is_voided and inv.balance < a.amount:
                short.add(a.qb_invoice_id)
    return short


def _linked_payment_ids(invoices: Iterable[Invoice]) -> list[str]:
    ids: dict[str, None] = {}
    for inv in invoices:
        for lt in inv.linked_txn:
            if lt.txn_type == "Payment":
                ids[lt.txn_id] = None
    return list(ids)


def _unexplained_customers(
    payments: Sequence[CBPayment], invoices: dict[str, Invoice]
) -> list[str]:
    """Customers of payments whose every invoice is readable and still covers the application:
    the invoices explain nothing, so an inactive customer might."""
    out: dict[str, None] = {}
    for p in payments:
        cid = p.customer.qb_customer_id
        if not cid:
            continue
        if all(
            (inv := invoices.get(a.qb_invoice_id)) is not None
            and not inv.is_voided
            and inv.balance >= a.amount
            for a in p.applications
        ):
            out[cid] = None
    return list(out)


def cdc_start(payments: Sequence[CBPayment], cdc_since: datetime | None) -> datetime:
    """Where the change feed starts: ``cdc_since`` when given, else the earliest ``paid_at``
    of ``payments`` (not empty), no further back than CDC's 30 days allow."""
    if cdc_since is not None:
        return cdc_since
    earliest = min(p.paid_at for p in payments)
    floor = datetime.now(UTC) - CDC_WINDOW + timedelta(minutes=5)
    return max(earliest, floor)


def _group(
    items: Iterable[Invoice], key: Callable[[Invoice], str | None]
) -> dict[str, list[Invoice]]:
    out: dict[str, list[Invoice]] = {}
    for inv in items:
        k = key(inv)
        if k:
            out.setdefault(k, []).append(inv)
    return out


def _customer_of(inv: Invoice) -> str | None:
    return inv.customer_ref.value if inv.customer_ref else None


def assemble_facts(
    qbo: QBOReader,
    payments: Sequence[CBPayment],
    invoices: dict[str, Invoice],
    deleted_at: dict[str, datetime],
    linked: Iterable[QBPayment],
    memos: Iterable[CreditMemo],
    same_number: Iterable[Invoice],
    open_invoices: Iterable[Invoice],
    existing: Iterable[QBPayment],
    inactive: Iterable[str],
) -> QBOFacts:
    """The ``QBOFacts`` from what was read: ``invoices`` found by id (any id ``payments``
    applies to and not among them is deleted, at its ``deleted_at`` time when CDC told), the
    ``linked`` payments and their credit ``memos``, the invoices carrying the numbers of
    deleted ones (``same_number``), the customers' ``open_invoices``, the QBO payments
    ``existing`` with a CB reference and the ids of ``inactive`` customers."""
    wanted = {a.qb_invoice_id for p in payments for a in p.applications}
    missing = wanted - set(invoices)
    return QBOFacts(
        invoices=invoices,
        deleted_invoice_ids={i: deleted_at.get(i) for i in sorted(missing)},
        payments={p.id: p for p in linked if p.id},
        credit_memos={c.id: c for c in memos if c.id},
        replacements_by_number=_group(same_number, lambda i: i.doc_number),
        invoices_by_customer=_group(open_invoices, _customer_of),
        existing_by_reference=_by_reference(existing),
        inactive_customer_ids=set(inactive),
        web_url=qbo.web_url,
    )


def _by_reference(existing: Iterable[QBPayment]) -> dict[str, list[QBPayment]]:
    out: dict[str, list[QBPayment]] = {}
    for p in existing:
        if p.payment_ref_num:
            out.setdefault(p.payment_ref_num, []).append(p)
    return out


async def fetch_facts(
    qbo: QBOReader,
    payments: Sequence[CBPayment],
    *,
    cdc_since: datetime | None = None,
    use_batch: bool = True,
    chunk: int = 100,
) -> QBOFacts:
    """Read from QBO, in bulk, every fact ``diagnose`` needs for ``payments``.

    Three rounds of chunked ``IN`` queries (``chunk`` values each) for the whole batch, plus
    at most one CDC call (see the module docstring). With ``use_batch`` (the default) each
    round's queries travel as items of QBO batch requests, 30 to a request; without it each
    chunk is its own query. ``cdc_since`` is where the change feed starts (default: the
    earliest ``paid_at``, no further back than CDC's 30 days).
    """
    if not payments:
        return QBOFacts(web_url=qbo.web_url)
    bulk = _Bulk(qbo, use_batch=use_batch, chunk=chunk)
    invoice_ids = list(dict.fromkeys(a.qb_invoice_id for p in payments for a in p.applications))
    references = list(dict.fromkeys(p.reference for p in payments))

    found, existing = await bulk.run(
        [_Ask(Invoice, "Id", invoice_ids), _Ask(QBPayment, "PaymentRefNum", references)]
    )
    wanted = set(invoice_ids)
    invoices: dict[str, Invoice] = {
        i.id: i for i in found if isinstance(i, Invoice) and i.id in wanted
    }
    missing = [i for i in invoice_ids if i not in invoices]
    plan = FetchPlan.of(payments, invoices, missing)

    cdc_task: Awaitable[Mapping[str, Sequence[Entity]]] = (
        qbo.cdc(["Invoice"], cdc_start(payments, cdc_since)) if missing else _empty_cdc()
    )
    (linked, same_number, open_invoices, inactive), changes = await asyncio.gather(
        bulk.run(
            [
                _Ask(QBPayment, "Id", plan.linked_ids),
                _Ask(Invoice, "DocNumber", plan.missing_numbers),
                _Ask(Invoice, "CustomerRef", plan.pickers, "Balance > '0'"),
                _Ask(Customer, "Id", plan.unexplained, "Active = false"),
            ]
        ),
        cdc_task,
    )
    memo_ids = list(dict.fromkeys(m for p in linked for m in p.linked_ids("CreditMemo")))
    (memos,) = await bulk.run([_Ask(CreditMemo, "Id", memo_ids)])
    return assemble_facts(
        qbo,
        payments,
        invoices,
        deletion_times(changes),
        linked,
        memos,
        same_number,
        open_invoices,
        existing,
        [c.id for c in inactive if c.id and not c.active],
    )


@dataclass(frozen=True)
class FetchPlan:
    """What the second round has to ask, from the invoices read in the first."""

    linked_ids: list[str]  # payments linked to invoices that no longer cover the application
    missing_numbers: list[str]  # DocNumbers of missing invoices
    pickers: list[str]  # customers with a missing or voided invoice: their open invoices
    unexplained: list[str]  # customers of payments no invoice explains: are they inactive?

    @classmethod
    def of(
        cls, payments: Sequence[CBPayment], invoices: dict[str, Invoice], missing: list[str]
    ) -> FetchPlan:
        gone = set(missing)
        numbers = dict.fromkeys(
            a.invoice_number for p in payments for a in p.applications if a.qb_invoice_id in gone
        )
        pickers = dict.fromkeys(
            p.customer.qb_customer_id
            for p in payments
            if p.customer.qb_customer_id
            and any(
                a.qb_invoice_id in gone or invoices[a.qb_invoice_id].is_voided
                for a in p.applications
            )
        )
        short = _short_invoices(payments, invoices)
        return cls(
            linked_ids=_linked_payment_ids(invoices[i] for i in sorted(short)),
            missing_numbers=list(numbers),
            pickers=[c for c in pickers if c],
            unexplained=_unexplained_customers(payments, invoices),
        )


async def _empty_cdc() -> Mapping[str, Sequence[Entity]]:
    return {}


def deletion_times(changes: Mapping[str, Sequence[Entity]]) -> dict[str, datetime]:
    """Invoice id → deletion time, from a CDC answer."""
    out: dict[str, datetime] = {}
    for obj in changes.get("Invoice", []):
        if obj.is_deleted and obj.id and obj.updated_at is not None:
            out[obj.id] = obj.updated_at
    return out


# --------------------------------------------------------------------------- orchestration


async def diagnose_many(
    qbo: QBOReader,
    payments: Sequence[CBPayment],
    *,
    failure_rate: Decimal | None = None,
    threshold: Decimal = DEFAULT_THRESHOLD,
    cdc_since: datetime | None = None,
) -> dict[str, Diagnosis]:
    """Diagnose a batch of failed payments: one bulk ``fetch_facts``, then the pure
    ``diagnose`` for each. Returns diagnoses by ConnectBooster payment id."""
    facts = await fetch_facts(qbo, payments, cdc_since=cdc_since)
    return {
        p.id: diagnose(p, facts, failure_rate=failure_rate, threshold=threshold) for p in payments
    }


__all__ = [
    "CDC_WINDOW",
    "FetchPlan",
    "QBOReader",
    "assemble_facts",
    "cdc_start",
    "deletion_times",
    "diagnose_many",
    "fetch_facts",
]
