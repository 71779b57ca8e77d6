"""A failure's payment read again at click time, wherever it came from.

``current_payment`` is what a remedy or a Re-check reads first: ConnectBooster's payment
from the contract, or — for a failure found at the gateway (``gw-…``) — the gateway's
transaction and QuickBooks read again and reconciled on the spot (:func:`gateway_payment`).
A sale that is no longer flagged (its receipt is in QuickBooks now, or it was reversed and
no receipt stands) comes back as ``synced``, so every remedy is refused and Re-check
resolves it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.reconcile.allocate import invoice_numbers
from bot.reconcile.decide import reconcile
from bot.reconcile.fetch import read_books
from bot.reconcile.payments import as_payment
from bot.reconcile.receipts import GATEWAY_ID_PREFIX
from bot.reconcile.run import gateway_client, rules_from
from bot.reconcile.verdicts import FLAGGED
from bot.runtime.services import Services
from cb.models import Payment, SyncStatus
from gateway.errors import Rejected


def is_gateway_payment(payment_id: str) -> bool:
    """Whether a failure was found at the gateway (``gw-…``)."""
    return payment_id.startswith(GATEWAY_ID_PREFIX)


async def current_payment(services: Services, payment: Payment) -> Payment:
    """``payment`` as its source shows it now (see the module docstring)."""
    if is_gateway_payment(payment.id):
        return await gateway_payment(services, payment)
    return await services.contract().get_payment(payment.id)


async def gateway_payment(services: Services, stored: Payment) -> Payment:
    """The gateway failure ``stored`` reconciled again now (one gateway query, two QBO batch
    requests); ``synced`` when it is no longer flagged."""
    tid = stored.id.removeprefix(GATEWAY_ID_PREFIX)
    txns = [t for t in await gateway_client(services).by_ids([tid]) if t.transaction_id == tid]
    if not txns:
        raise Rejected(f"the gateway no longer shows transaction {tid}")
    now = services.clock()
    rules = replace(rules_from(services.settings), grace=timedelta(0))  # flagged already
    numbers = {n for t in txns for n in invoice_numbers(t, rules.pattern)}
    view = await read_books(services.qbo, txns, now.date(), numbers)
    [result] = reconcile(txns, view, now, rules)
    if result.verdict in FLAGGED:
        return as_payment(result, view, now)
    sync = stored.sync.model_copy(update={"status": SyncStatus.SYNCED, "error": None})
    return stored.model_copy(update={"sync": sync, "updated_at": now})
