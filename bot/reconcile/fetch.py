"""What QuickBooks holds for a batch of gateway sales, read in bulk.

Two rounds of QBO batch requests, whatever the number of sales:

1. every customer (active and inactive) and every payment dated from a day before the oldest
   sale to ``RECEIPT_DAYS`` after the newest (or today): one batch request, a page each;
   a full page is read on with paging;
2. the invoices of the customers the sales name, and the invoices whose numbers the
   invoice pattern finds: chunked ``IN`` queries as batch items (``bot.diagnosis.bulk``).

So a reconciliation of a thousand sales costs a handful of requests, not one per sale.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.diagnosis.bulk import Bulk, BulkAsk, QBOReader
from bot.reconcile.allocate import AppliedIndex, applied_index
from bot.reconcile.customers import CustomerIndex
from bot.reconcile.receipts import RECEIPT_DAYS
from gateway.models import Transaction
from qb.models import Customer, Entity, Invoice
from qb.models import Payment as QBPayment
from qb.query import MAX_PAGE, join_where, select
from qb.wire import BatchItem

CHUNK = 100


@dataclass
class BooksView:
    """The QuickBooks side of one reconciliation."""

    customers: CustomerIndex = field(default_factory=CustomerIndex)
    payments: list[QBPayment] = field(default_factory=list)
    invoices_by_number: dict[str, list[Invoice]] = field(default_factory=dict)
    invoices_by_customer: dict[str, list[Invoice]] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    applied: AppliedIndex = field(default_factory=dict)


def window(txns: Sequence[Transaction], today: date) -> tuple[date, date]:
    """The payment dates a batch's receipts can carry."""
    days = [t.paid_at.date() for t in txns if t.paid_at is not None] or [today]
    return min(days) - timedelta(days=1), min(max(days) + timedelta(days=RECEIPT_DAYS), today)


async def _first_round(
    qbo: QBOReader, lo: date, hi: date
) -> tuple[list[Customer], list[QBPayment]]:
    wheres: list[tuple[type[Entity], str]] = [
        (Customer, ""),
        (Customer, "Active = false"),
        (QBPayment, join_where(f"TxnDate >= '{lo.isoformat()}'", f"TxnDate <= '{hi.isoformat()}'")),
    ]
    items = [
        BatchItem(bid=f"r{n}", query=select(cls.entity_name, w, start=1, max_results=MAX_PAGE))
        for n, (cls, w) in enumerate(wheres)
    ]
    results = await qbo.batch(items)
    rows: list[list[Entity]] = []
    for res, (cls, w) in zip(results, wheres, strict=True):
        if res.error is not None:
            raise res.error
        got = list(res.entities)
        if len(got) >= MAX_PAGE:
            got = list(await qbo.query(cls, w))
        rows.append(got)
    customers = {c.id: c for c in [*rows[0], *rows[1]] if isinstance(c, Customer) and c.id}
    payments = [p for p in rows[2] if isinstance(p, QBPayment)]
    return list(customers.values()), payments


async def read_books(
    qbo: QBOReader,
    txns: Sequence[Transaction],
    today: date,
    numbers: set[str],
    *,
    use_batch: bool = True,
) -> BooksView:
    """The customers, payments and invoices a batch of sales is reconciled against
    (``numbers``: the invoice numbers the pattern found in them)."""
    if not txns:
        return BooksView()
    lo, hi = window(txns, today)
    customers, payments = await _first_round(qbo, lo, hi)
    view = BooksView(
        customers=CustomerIndex.build(customers),
        payments=payments,
        applied=applied_index(payments),
    )
    wanted: set[str] = set()
    for t in txns:
        wanted.update(view.customers.match(t).ids)
    asks = [
        BulkAsk(Invoice, "CustomerRef", sorted(wanted)),
        BulkAsk(Invoice, "DocNumber", sorted(numbers)),
    ]
    by_customer, by_number = await Bulk(qbo, use_batch=use_batch, chunk=CHUNK).run(asks)
    cust: dict[str, list[Invoice]] = defaultdict(list)
    num: dict[str, list[Invoice]] = defaultdict(list)
    for inv in [*by_customer, *by_number]:
        if not isinstance(inv, Invoice) or not inv.id or inv.id in view.invoices:
            continue
        view.invoices[inv.id] = inv
        if inv.customer_ref is not None:
            cust[inv.customer_ref.value].append(inv)
        if inv.doc_number:
            num[inv.doc_number].append(inv)
    view.invoices_by_customer = dict(cust)
    view.invoices_by_number = dict(num)
    return view
