"""One reconciliation of the gateway against QuickBooks, with its state in Redis.

:func:`reconcile_gateway`:

1. reads the gateway's transactions modified since the cursor less ``OVERLAP`` (the first
   time: ``FIRST_LOOKBACK``), de-duplicated by ``transaction_id`` (``gateway.GatewayClient``);
2. merges them into the watched sales (``bot.store.gateway``): a sale changed at the gateway
   (settled, refunded, voided, returned) replaces its older copy;
3. reads QuickBooks in bulk for the sales past their grace period (``bot.reconcile.fetch``)
   and decides every verdict (``bot.reconcile.decide``);
4. keeps watching what is waiting or flagged, drops what is healthy, reversed or not
   ConnectBooster's, and moves the cursor — only after all of it succeeded, so a gateway or
   QuickBooks error loses nothing: the next cycle reads the same window again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from bot.reconcile.allocate import invoice_numbers
from bot.reconcile.decide import Rules, needs_books, reconcile
from bot.reconcile.fetch import BooksView, read_books
from bot.reconcile.payments import as_payment
from bot.reconcile.receipts import payment_id_for
from bot.reconcile.verdicts import FLAGGED, SETTLED, Reconciled, Verdict
from bot.runtime.services import Services
from bot.runtime.settings import Settings
from cb.models import Payment
from gateway.client import GatewayClient

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=30)
FIRST_LOOKBACK = timedelta(days=14)


def rules_from(settings: Settings) -> Rules:
    """The reconciliation's rules from ``GATEWAY_*`` and ``TRANSFER_GRACE_MINUTES``."""
    return Rules(
        grace=timedelta(minutes=settings.transfer_grace_minutes),
        usernames=frozenset(settings.gateway_cb_usernames),
        pattern=settings.invoice_regex,
    )


@dataclass
class Reconciliation:
    """What one reconciliation found."""

    results: list[Reconciled] = field(default_factory=list)
    view: BooksView = field(default_factory=BooksView)
    read: int = 0
    flagged: list[Payment] = field(default_factory=list)

    def ids(self, *verdicts: Verdict) -> set[str]:
        """The bot's payment ids (``gw-…``) of the sales with these verdicts."""
        return {payment_id_for(r.transaction_id) for r in self.results if r.verdict in verdicts}

    def count(self, verdict: Verdict) -> int:
        return sum(1 for r in self.results if r.verdict is verdict)


def gateway_client(services: Services) -> GatewayClient:
    if services.gateway is None:
        raise RuntimeError("the gateway is not a source (GATEWAY_SECURITY_KEY is not set)")
    return services.gateway


async def reconcile_gateway(services: Services, *, save: bool = True) -> Reconciliation:
    """Steps 1-4 of the module docstring; ``save=False`` leaves the state as it was."""
    s = services
    gw = gateway_client(s)
    now = s.clock()
    rules = rules_from(s.settings)
    cursor = await s.store.gateway_cursor()
    start = cursor - OVERLAP if cursor is not None else now - FIRST_LOOKBACK
    changed = await gw.modified_since(start, now)
    merged = await s.store.watched_sales()
    for t in changed:
        merged[t.transaction_id] = t
    txns = sorted(merged.values(), key=lambda t: (t.paid_at or now, t.transaction_id))
    todo = needs_books(txns, now, rules)
    numbers = {n for t in todo for n in invoice_numbers(t, rules.pattern)}
    view = await read_books(s.qbo, todo, now.date(), numbers)
    results = reconcile(txns, view, now, rules)
    out = Reconciliation(results=results, view=view, read=len(changed))
    out.flagged = [as_payment(r, view, now) for r in results if r.verdict in FLAGGED]
    if save:
        await s.store.save_reconciliation(
            now,
            watch=[r.txn for r in results if r.verdict not in SETTLED],
            drop=[r.transaction_id for r in results if r.verdict in SETTLED],
        )
    log.info(
        "gateway reconciliation: %d read, %d watched, %d healthy, %d failed, %d refunded "
        "with the receipt standing",
        len(changed),
        len(txns),
        out.count(Verdict.HEALTHY),
        out.count(Verdict.FAILED),
        out.count(Verdict.REFUNDED),
    )
    return out
