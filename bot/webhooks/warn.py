""" "About to fail": a ConnectBooster payment still pending (not yet transferred) whose invoice
was just paid by hand, credited, voided, deleted or changed in QuickBooks would be rejected by
the next sync. The bot diagnoses it now, as if it had failed (the same rules, evidence and
books equation), and posts a warning with the remedy that prevents the failure
(``bot.slack.blocks.warning``) — once per payment, redrawn when the diagnosis changes, and
marked cleared when the change is undone. A change that leaves the payment acceptable (the
invoice still covers what it applies) warns about nothing. The pending payments are the
contract's and, with the gateway configured, its sales inside the grace period with no
receipt yet (``bot.reconcile.pending``), each payment once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence

from slack_sdk.errors import SlackApiError

from bot.diagnosis import diagnose_many
from bot.models import Cause, Diagnosis
from bot.reconcile.pending import pending_from_gateway
from bot.runtime.services import Services
from bot.slack.blocks.warning import cleared_message, warning_message
from bot.slack.messages import post, update
from bot.store.webhooks import WebhookStore
from cb import errors as cbe
from cb.models import Payment
from qb import errors as qbe
from qb.models import CreditMemo, Entity
from qb.models import Payment as QBPayment

log = logging.getLogger(__name__)


def would_fail(diagnosis: Diagnosis) -> bool:
    """Whether QuickBooks would reject the payment as its books stand (a cause is found)."""
    return diagnosis.cause is not Cause.UNKNOWN


def _touched(current: Mapping[str, Entity | None]) -> tuple[set[str], set[str]]:
    """The invoice and customer ids a set of changes touches."""
    invoices: set[str] = set()
    customers: set[str] = set()
    for key, entity in current.items():
        name, _, eid = key.partition(":")
        if name == "Invoice":
            invoices.add(eid)
        elif name == "Customer":
            customers.add(eid)
        if isinstance(entity, QBPayment):
            invoices.update(entity.linked_ids("Invoice"))
        if isinstance(entity, (QBPayment, CreditMemo)) and entity.customer_ref is not None:
            customers.add(entity.customer_ref.value)
    return invoices, customers


async def warn_pending(
    services: Services, store: WebhookStore, current: Mapping[str, Entity | None]
) -> set[str]:
    """Warn about the pending payments these changes could make fail; their ids."""
    invoices, customers = _touched(current)
    if not invoices and not customers:
        return set()
    hit = [
        p
        for p in await pending_payments(services)
        if p.customer.qb_customer_id in customers
        or any(a.qb_invoice_id in invoices for a in p.applications)
    ]
    return await assess(services, store, hit)


async def pending_payments(services: Services) -> list[Payment]:
    """The payments not yet transferred: the contract's pending payments, and the gateway's
    sales inside the grace period with no receipt yet (``bot.reconcile.pending``) that the
    contract does not list. A source that cannot be read gives nothing (logged)."""
    pending: list[Payment] = []
    if services.cb is not None:
        try:
            pending = [p async for p in services.cb.list_payments(sync_status="pending", limit=500)]
        except cbe.CBError as exc:
            log.warning("pending payments not read: %s", exc)
            return []
    if services.gateway is not None:
        try:
            pending += await pending_from_gateway(services, beside=pending)
        except qbe.QBOError as exc:
            log.warning("the gateway's pending sales not read: %s", exc)
    return pending


def _digest(d: Diagnosis) -> str:
    said = "|".join([d.cause.value, d.summary, d.next_step, ",".join(d.remedies)])
    return hashlib.sha256(said.encode()).hexdigest()[:16]


async def assess(services: Services, store: WebhookStore, payments: Sequence[Payment]) -> set[str]:
    """Diagnose ``payments`` as if they failed now; warn (or clear a warning) for each."""
    if not payments:
        return set()
    try:
        found = await diagnose_many(
            services.qbo, payments, threshold=services.settings.alert_threshold
        )
    except qbe.QBOError as exc:
        log.warning("pending payments not diagnosed: %s", exc)
        return set()
    warned: set[str] = set()
    for p in payments:
        lease = services.store.lease(f"warn:{p.id}", services.instance, 30.0)
        if not await lease.acquire():
            continue
        try:
            if await _one(services, store, p, found[p.id]):
                warned.add(p.id)
        except SlackApiError as exc:
            log.warning("warning for %s not posted: %s", p.reference, exc)
        finally:
            await lease.release()
    return warned


async def _one(services: Services, store: WebhookStore, p: Payment, d: Diagnosis) -> bool:
    prev = await store.warning(p.id)
    now = services.clock()
    if would_fail(d):
        digest = _digest(d)
        if prev is not None and prev.get("digest") == digest and not prev.get("cleared"):
            return True
        text, blocks = warning_message(p, d, now)
        if prev is not None and prev.get("ts"):
            await update(services, prev["channel"], prev["ts"], text, blocks)
            channel, ts = prev["channel"], prev["ts"]
        else:
            channel, ts = await post(
                services, services.settings.failed_payments_channel, text, blocks
            )
        await store.set_warning(
            p.id, {"digest": digest, "channel": channel, "ts": ts, "cause": d.cause.value}
        )
        return True
    if prev is not None and not prev.get("cleared") and prev.get("ts"):
        text, blocks = cleared_message(p, now)
        await update(services, prev["channel"], prev["ts"], text, blocks)
        await store.set_warning(p.id, {**prev, "cleared": True})
    return False
