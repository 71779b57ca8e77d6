"""The gateway's pending payments: sales still inside the transfer grace period, for "about to
fail" (``bot.webhooks.warn``).

Without the ConnectBooster contract nobody lists the payments not yet transferred; the gateway
reconciliation does watch them (``gateway:watch``: the sales ``waiting`` for their grace
period). :func:`pending_from_gateway` takes those watched sales (no gateway call), reads
QuickBooks for them in bulk (``bot.reconcile.fetch``: two rounds of batch requests), keeps
the ones with no ``CB…`` receipt yet whose invoices are known (``GATEWAY_INVOICE_PATTERN``
or the ``likely`` allocation) and returns each as the payment :func:`as_payment` builds, with
sync state ``pending``. Beside the contract, a sale the contract already lists (pending, or
an open failure) is left out, so a payment is never warned about twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from bot.reconcile.allocate import invoice_numbers
from bot.reconcile.decide import reconcile
from bot.reconcile.fetch import read_books
from bot.reconcile.payments import as_payment
from bot.reconcile.run import rules_from
from bot.reconcile.verdicts import Verdict, before_qbo
from bot.runtime.services import Services
from cb.models import Payment, SyncState, SyncStatus

KNOWN = frozenset({"pattern", "likely"})
"""Allocations that say which invoices a sale paid (``ask`` does not: nothing to watch)."""
SAME_SALE = timedelta(days=1)
"""A contract payment within a day of a sale, of its amount and customer or invoices, is it."""


async def pending_from_gateway(services: Services, beside: Sequence[Payment] = ()) -> list[Payment]:
    """The watched sales not yet received in QuickBooks, as pending payments (see the module
    docstring); ``beside``: the contract's payments already known (left out here)."""
    if services.gateway is None:
        return []
    now = services.clock()
    rules = rules_from(services.settings)
    watched = await services.store.watched_sales()
    waiting = [
        t
        for t in watched.values()
        if t.settling and before_qbo(t, now, rules.grace, rules.usernames) is Verdict.WAITING
    ]
    if not waiting:
        return []
    numbers = {n for t in waiting for n in invoice_numbers(t, rules.pattern)}
    view = await read_books(services.qbo, waiting, now.date(), numbers)
    out: list[Payment] = []
    for r in reconcile(waiting, view, now, replace(rules, grace=timedelta(0))):
        a = r.allocation
        if r.verdict is not Verdict.FAILED or a is None or a.how not in KNOWN or not a.parts:
            continue  # its receipt is in QuickBooks, or which invoices it paid is not known
        out.append(as_pending(as_payment(r, view, now)))
    if out and services.cb is not None:  # beside the contract: its open failures are known too
        records = await services.store.get_failures(await services.store.open_ids())
        beside = [*beside, *(rec.payment for rec in records)]
    return [p for p in out if not any(same_sale(p, c) for c in beside)]


def as_pending(p: Payment) -> Payment:
    """``p`` not yet transferred: sync state ``pending``, no error."""
    return p.model_copy(update={"sync": SyncState(status=SyncStatus.PENDING)})


def same_sale(gateway: Payment, contract: Payment) -> bool:
    """Whether a gateway sale and a contract payment are the same payment: the same amount,
    paid within a day, and the same QuickBooks customer or an invoice in common."""
    if gateway.amount != contract.amount or abs(gateway.paid_at - contract.paid_at) > SAME_SALE:
        return False
    cid = gateway.customer.qb_customer_id
    if cid is not None and cid == contract.customer.qb_customer_id:
        return True
    mine = {a.qb_invoice_id for a in gateway.applications}
    return bool(mine & {a.qb_invoice_id for a in contract.applications})
