"""The benchmark's baseline: the plain per-invoice fetch of the QuickBooks facts.

``naive_fetch`` reads what ``bot.diagnosis.diagnose`` needs the obvious way: each invoice, each
linked payment and credit memo, each reference, each replacement number, each customer and each
customer's recent payments, one request at a time (concurrently, within the client's own
limits). ``bench.bench_diagnosis`` compares it with the production bulk fetch
(``bot.diagnosis.fetch.fetch_facts``) in requests and time, and checks both give the same
diagnoses; ``tests/test_facts.py`` checks they return the same facts.

It is not production code: it lives here, and shares with the bulk fetch only the public steps
that make the two comparable (``FetchPlan``: what to ask once the invoices are read;
``customer_windows``: where each customer's payments are read from; ``cdc_start`` and
``deletion_times``: the one CDC call for deletions; ``assemble_facts``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from bot.diagnosis.facts import QBOFacts
from bot.diagnosis.fetch import (
    FetchPlan,
    QBOReader,
    assemble_facts,
    cdc_start,
    customer_windows,
    deletion_times,
    qbo_time,
)
from cb.models import Payment as CBPayment
from qb.errors import NotFoundError
from qb.models import CreditMemo, Customer, Entity, Invoice
from qb.models import Payment as QBPayment
from qb.query import quote

E = TypeVar("E", bound=Entity)


async def naive_fetch(
    qbo: QBOReader,
    payments: Sequence[CBPayment],
    *,
    cdc_since: datetime | None = None,
) -> QBOFacts:
    """The plain approach, for comparison: read each invoice, each linked payment and credit
    memo, each reference, each replacement and each customer one request at a time (reads run
    concurrently within the client's own limits). Returns the same facts as ``fetch_facts``."""
    if not payments:
        return QBOFacts(web_url=qbo.web_url)
    invoice_ids = list(dict.fromkeys(a.qb_invoice_id for p in payments for a in p.applications))

    async def read(cls: type[E], ident: str) -> E | None:
        try:
            return await qbo.get(cls, ident)
        except NotFoundError as e:
            if e.inactive:
                raise
            return None

    read_invoices = await asyncio.gather(*(read(Invoice, i) for i in invoice_ids))
    invoices = {i.id: i for i in read_invoices if i is not None and i.id}
    missing = [i for i in invoice_ids if i not in invoices]
    plan = FetchPlan.of(payments, invoices, missing)

    async def by_reference(ref: str) -> list[QBPayment]:
        return await qbo.query(QBPayment, f"PaymentRefNum = {quote(ref)}")

    async def by_number(number: str) -> list[Invoice]:
        return await qbo.query(Invoice, f"DocNumber = {quote(number)}")

    async def open_of(customer: str) -> list[Invoice]:
        return await qbo.query(Invoice, f"CustomerRef = {quote(customer)} and Balance > '0'")

    windows = customer_windows(payments)

    async def payments_of(customer: str) -> list[QBPayment]:
        since = qbo_time(windows[customer])
        return await qbo.query(
            QBPayment, f"CustomerRef = {quote(customer)} and MetaData.CreateTime >= {since}"
        )

    linked_r, refs_r, numbers_r, open_r, customers_r, mine_r = await asyncio.gather(
        asyncio.gather(*(read(QBPayment, i) for i in plan.linked_ids)),
        asyncio.gather(*(by_reference(p.reference) for p in payments)),
        asyncio.gather(*(by_number(n) for n in plan.missing_numbers)),
        asyncio.gather(*(open_of(c) for c in plan.pickers)),
        asyncio.gather(*(read(Customer, c) for c in plan.customers)),
        asyncio.gather(*(payments_of(c) for c in windows)),
    )
    linked = [p for p in linked_r if p is not None]
    memo_ids = list(dict.fromkeys(m for p in linked for m in p.linked_ids("CreditMemo")))
    memos = [m for m in await asyncio.gather(*(read(CreditMemo, i) for i in memo_ids)) if m]
    changes = await qbo.cdc(["Invoice"], cdc_start(payments, cdc_since)) if missing else {}
    return assemble_facts(
        qbo,
        payments,
        invoices,
        deletion_times(changes),
        linked,
        memos,
        [i for rows in numbers_r for i in rows],
        [i for rows in open_r for i in rows],
        [p for rows in refs_r for p in rows],
        [c for c in customers_r if c is not None],
        [p for rows in mine_r for p in rows],
    )


__all__ = ["naive_fetch"]
