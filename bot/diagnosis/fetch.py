"""Fetching the QuickBooks facts a batch of failed payments needs, in bulk.

``fetch_facts`` reads what ``bot.diagnosis.decide.diagnose`` needs for a whole batch of failed
ConnectBooster payments with a handful of queries, never one round trip per failure
(``bot.diagnosis.bulk``: chunked ``IN`` queries sent as QBO batch items):

1. at once: the invoices by ``Id IN (...)`` and the QBO payments already carrying a ``CB…``
   reference exactly by ``PaymentRefNum IN (...)``;
2. then, at once: the payments linked to the invoices whose balance no longer covers the
   application (``Id IN`` over their ``LinkedTxn``), invoices with the numbers of the missing
   ones (``DocNumber IN``), the open invoices of customers with a missing or voided invoice
   (``CustomerRef IN ... and Balance > '0'``), the payments' customers, active or not
   (``Id IN``, and ``Id IN ... and Active = false``: QBO lists only active ones unless asked)
   and, when an invoice is missing, one CDC call for invoice deletions (which tells when);
3. the credit memos the linked payments apply (``Id IN``) and each customer's payments since
   its earliest failed payment's run, less the stale-balance window
   (``CustomerRef IN ... and MetaData.CreateTime >= ...``, 25 customers an item, customers
   sorted by that time so each item's window is as short as its earliest customer allows):
   these find a hand entry of the money under any spelling of the reference (``CB-10234``),
   the bot's recreated payment and hand payments on replacement invoices, which no invoice of
   the payment links.

An invoice the ``Id IN`` query does not return is gone (QBO hard-deletes; a read would answer
610); CDC adds the deletion time when it is within its 30 days.

The benchmark's baseline, the plain per-invoice fetch (``bench/naive_fetch.py``: each invoice,
each linked transaction, each reference read one request at a time), is not production code; it
reuses the public steps here so both return the same ``QBOFacts``: ``FetchPlan`` (what the
second round asks, from the invoices read in the first), ``customer_windows`` (where each
customer's payments are read from), ``cdc_start`` (where the change feed starts),
``deletion_times`` (deletions from a CDC answer) and ``assemble_facts``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.diagnosis.bulk import Bulk, BulkAsk, QBOReader
from bot.diagnosis.decide import DEFAULT_THRESHOLD, diagnose_all
from bot.diagnosis.facts import QBOFacts
from bot.diagnosis.linked import STALE_BALANCE_WINDOW
from bot.models import Diagnosis
from cb.models import Payment as CBPayment
from qb.gcpause import gc_paused
from qb.models import CreditMemo, Customer, Entity, Invoice
from qb.models import Payment as QBPayment
from qb.query import quote

CDC_WINDOW = timedelta(days=30)
"""How far back QBO's change feed reaches."""

CUSTOMER_CHUNK = 25
"""Customers per item when reading their payments: few enough that an item's answer stays
under a page of 1,000 rows for customers with many payments in their window."""


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


def customer_windows(payments: Sequence[CBPayment]) -> dict[str, datetime]:
    """QBO customer id → where its payments are read from: its earliest failed payment's run
    less ``STALE_BALANCE_WINDOW`` (a hand payment entered minutes before the run counts)."""
    out: dict[str, datetime] = {}
    for p in payments:
        cid = p.customer.qb_customer_id
        if cid:
            start = p.paid_at - STALE_BALANCE_WINDOW
            out[cid] = min(out.get(cid, start), start)
    return out


def qbo_time(at: datetime) -> str:
    """A time as a QBO query literal (UTC, seconds)."""
    return quote(at.astimezone(UTC).isoformat(timespec="seconds"))


def _window_asks(windows: Mapping[str, datetime]) -> list[BulkAsk]:
    """One ask per ``CUSTOMER_CHUNK`` customers, earliest windows first, each from the
    earliest window among its customers."""
    ordered = sorted(windows, key=lambda c: (windows[c], c))
    asks = []
    for n in range(0, len(ordered), CUSTOMER_CHUNK):
        group = ordered[n : n + CUSTOMER_CHUNK]
        since = min(windows[c] for c in group)
        asks.append(
            BulkAsk(QBPayment, "CustomerRef", group, f"MetaData.CreateTime >= {qbo_time(since)}")
        )
    return asks


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
    customers: Iterable[Customer],
    customer_payments: Iterable[QBPayment],
) -> QBOFacts:
    """The ``QBOFacts`` from what was read: ``invoices`` found by id (any id ``payments``
    applies to and not among them is deleted, at its ``deleted_at`` time when CDC told), the
    ``linked`` payments and their credit ``memos``, the invoices carrying the numbers of
    deleted ones (``same_number``), the customers' ``open_invoices``, the QBO payments
    ``existing`` with a CB reference, the payments' ``customers`` and the customers' payments
    (kept from each customer's own window, ``customer_windows``, however they were read)."""
    wanted = {a.qb_invoice_id for p in payments for a in p.applications}
    missing = wanted - set(invoices)
    numbers = _group(same_number, lambda i: i.doc_number)
    by_customer = _group(open_invoices, _customer_of)
    windows = customer_windows(payments)
    mine: dict[str, dict[str, QBPayment]] = {}
    for p in customer_payments:
        cid = p.customer_ref.value if p.customer_ref else None
        since = windows.get(cid or "")
        if p.id and cid and since is not None and (p.created_at is None or p.created_at >= since):
            mine.setdefault(cid, {})[p.id] = p
    known = set(invoices) | {
        i.id for rows in (*numbers.values(), *by_customer.values()) for i in rows if i.id
    }
    by_id = {p.id: p for p in linked if p.id}
    for rows in mine.values():
        for pid, p in rows.items():
            if pid not in by_id and known.intersection(p.linked_ids("Invoice")):
                by_id[pid] = p
    people = {c.id: c for c in customers if c.id}
    return QBOFacts(
        invoices=invoices,
        deleted_invoice_ids={i: deleted_at.get(i) for i in sorted(missing)},
        payments=by_id,
        credit_memos={c.id: c for c in memos if c.id},
        replacements_by_number=numbers,
        invoices_by_customer=by_customer,
        existing_by_reference=_by_reference(existing),
        inactive_customer_ids={cid for cid, c in people.items() if not c.active},
        web_url=qbo.web_url,
        customers=people,
        customer_payments={cid: list(rows.values()) for cid, rows in mine.items()},
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
    bulk = Bulk(qbo, use_batch=use_batch, chunk=chunk)
    invoice_ids = list(dict.fromkeys(a.qb_invoice_id for p in payments for a in p.applications))
    references = list(dict.fromkeys(p.reference for p in payments))

    found, existing = await bulk.run(
        [BulkAsk(Invoice, "Id", invoice_ids), BulkAsk(QBPayment, "PaymentRefNum", references)]
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
    (linked, same_number, open_invoices, active, inactive), changes = await asyncio.gather(
        bulk.run(
            [
                BulkAsk(QBPayment, "Id", plan.linked_ids),
                BulkAsk(Invoice, "DocNumber", plan.missing_numbers),
                BulkAsk(Invoice, "CustomerRef", plan.pickers, "Balance > '0'"),
                BulkAsk(Customer, "Id", plan.customers),
                BulkAsk(Customer, "Id", plan.customers, "Active = false"),
            ]
        ),
        cdc_task,
    )
    memo_ids = list(dict.fromkeys(m for p in linked for m in p.linked_ids("CreditMemo")))
    memos, *windowed = await bulk.run(
        [BulkAsk(CreditMemo, "Id", memo_ids), *_window_asks(customer_windows(payments))]
    )
    with gc_paused():
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
            [*active, *inactive],
            [p for rows in windowed for p in rows],
        )


@dataclass(frozen=True)
class FetchPlan:
    """What the second round has to ask, from the invoices read in the first."""

    linked_ids: list[str]  # payments linked to invoices that no longer cover the application
    missing_numbers: list[str]  # DocNumbers of missing invoices
    pickers: list[str]  # customers with a missing or voided invoice: their open invoices
    customers: list[str]  # every payment's QBO customer

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
            customers=list(
                dict.fromkeys(
                    p.customer.qb_customer_id for p in payments if p.customer.qb_customer_id
                )
            ),
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
    return diagnose_all(payments, facts, failure_rate=failure_rate, threshold=threshold)


__all__ = [
    "CDC_WINDOW",
    "CUSTOMER_CHUNK",
    "FetchPlan",
    "QBOReader",
    "assemble_facts",
    "cdc_start",
    "customer_windows",
    "deletion_times",
    "diagnose_many",
    "fetch_facts",
    "qbo_time",
]
