"""Open failures follow the books: a failure whose diagnosis reads something QuickBooks just
changed is diagnosed again from fresh facts and, when what its card shows changed, redrawn
with a notice that says what changed (and, when the change removed what blocked the payment,
that ConnectBooster's next sync should record it). The move goes through
``bot.lifecycle.rechecked`` (status changes only there), under the payment's lease; a
failure a remedy holds is left to the remedy, which reads the facts again itself.

A resolved failure whose remedy recreated the receipt gets a note in its card's thread when
that receipt is deleted in QuickBooks by hand (once per receipt).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot import lifecycle
from bot.diagnosis import diagnose, fetch_facts
from bot.errors import describe_error
from bot.formats import fmt_time as fmt_when
from bot.models import Cause, FailureRecord, FailureStatus, Resolution, ResolutionHow
from bot.reconcile.reread import current_payment
from bot.remedies.fresh import as_planned, offered_plans, plan_context
from bot.remedies.reporting import note_in_thread
from bot.runtime.services import Services
from bot.store import Lease
from bot.store.webhooks import WebhookStore
from bot.webhooks.index import index_record, recreated_receipt
from cb import errors as cbe
from cb.models import SyncStatus
from gateway.errors import GatewayError
from qb import errors as qbe

log = logging.getLogger(__name__)
WEBHOOK_USER = "quickbooks"
"""Who the history and audit name for a move the books caused."""
LEASE_TTL = 60.0
RECONCILIATION = "Reconciliation"
LEASE_TRIES = 100
"""Tries (0.1 s apart) to take a payment's lease another follow or a Re-check holds."""


@dataclass(frozen=True)
class Changed:
    """One QuickBooks entity that changed, as the worker established it."""

    entity: str
    entity_id: str
    deleted: bool
    at: datetime | None

    def words(self) -> str:
        if self.entity == RECONCILIATION:
            return "found by the daily reconciliation"
        what = "deleted" if self.deleted else "changed"
        at = f" at {fmt_when(self.at)}" if self.at is not None else ""
        return f"{_NOUNS.get(self.entity, self.entity)} {self.entity_id} {what}{at}"


_NOUNS = {"CreditMemo": "credit memo", "Invoice": "invoice", "Payment": "payment"}
_NOUNS["Customer"] = "customer"


def notice_for(before: Cause | None, after: Cause | None, changes: Sequence[Changed]) -> str:
    """What the redrawn card says above itself."""
    said = "; ".join(c.words() for c in changes[:3]) or "something it reads changed"
    head = f"QuickBooks changed just now ({said})"
    if after is None:
        return f"{head}."
    if before not in (None, Cause.UNKNOWN) and after is Cause.UNKNOWN:
        was = before.label.lower() if before is not None else ""
        return (
            f"{head}: what blocked this payment ({was}) is gone. ConnectBooster's next sync "
            "should record the payment (Resync in the portal sends it now)."
        )
    if before is not None and after is not before:
        return f"{head}: the diagnosis is now *{after.label}* (was {before.label})."
    return f"{head}: diagnosed again, still *{after.label}*."


async def follow(
    services: Services,
    store: WebhookStore,
    payment_id: str,
    changes: Sequence[Changed],
    *,
    quiet: bool = True,
) -> bool:
    """Bring ``payment_id``'s card in step with the books; True when it was redrawn or noted.
    ``quiet`` (the default): leave the card alone when what it shows (diagnosis, remedies,
    status) comes out unchanged, so a later harmless change never hides an earlier notice."""
    rec = await services.store.get_failure(payment_id)
    if rec is None:
        return False
    if rec.status == FailureStatus.RESOLVED:
        return await _receipt_deleted(services, rec, changes)
    if rec.status == FailureStatus.IN_PROGRESS:
        return False
    lease = services.store.lease(f"payment:{payment_id}", f"{services.instance}:webhook", LEASE_TTL)
    if not await _take(lease):
        log.info("%s not followed: its lease stayed taken", rec.payment.reference)
        return False  # a remedy holds it: it reads the facts itself
    try:
        old = list((await store.indexed()).get(payment_id, []))
        moved = await _rediagnose(services, rec, changes, lease, quiet=quiet)
        await index_record(store, rec, old)
        return moved
    finally:
        await lease.release()


async def _rediagnose(
    services: Services,
    rec: FailureRecord,
    changes: Sequence[Changed],
    lease: Lease,
    *,
    quiet: bool = True,
) -> bool:
    before = rec.diagnosis.cause if rec.diagnosis else None
    was = _shown(rec)
    now = services.clock()
    resolution: Resolution | None = None
    try:
        fresh = await _planning(services, rec)
    except cbe.NotFound:
        status = FailureStatus.RESOLVED
        resolution = Resolution(how=ResolutionHow.DELETED, at=now, detail="Deleted from history")
    except (cbe.CBError, qbe.QBOError, GatewayError) as exc:
        log.warning("%s not re-diagnosed after a change: %s", rec.payment.reference, exc)
        await lifecycle.redraw(
            services,
            rec,
            notice=f"QuickBooks changed, but reading it failed: {describe_error(exc)}",
        )
        return False
    else:
        seen = as_planned(rec, fresh.payment).sync.status
        rec.payment, rec.diagnosis, rec.plans = fresh.payment, fresh.diagnosis, fresh.plans
        status = rec.status
        if seen == SyncStatus.SYNCED:
            status, resolution = (
                FailureStatus.RESOLVED,
                Resolution(how=ResolutionHow.SYNCED, at=now),
            )
        elif seen == SyncStatus.DISMISSED:
            status = FailureStatus.RESOLVED
            resolution = Resolution(how=ResolutionHow.DISMISSED, at=now)
        elif seen == SyncStatus.FAILED:
            status = FailureStatus.OPEN
    after = rec.diagnosis.cause if rec.diagnosis else None
    if quiet and resolution is None and status == rec.status and _shown(rec) == was:
        return False
    what = "QuickBooks changed: " + "; ".join(c.words() for c in changes[:3])
    await lifecycle.rechecked(
        services,
        rec,
        WEBHOOK_USER,
        status,
        resolution=resolution,
        lease=lease,
        what=what,
        notice=notice_for(before, after, changes),
    )
    return True


async def _planning(services: Services, rec: FailureRecord) -> FailureRecord:
    """``bot.remedies.fresh.planning``'s reading for one payment, with plain queries: a
    re-diagnosis spends QuickBooks' 500 requests a minute rather than its 40 batch calls."""
    payment = await current_payment(services, rec.payment)  # the contract's, or the gateway's
    record = rec.model_copy(deep=True)
    record.payment = payment
    seen = as_planned(rec, payment)
    facts = await fetch_facts(services.qbo, [seen], use_batch=False)
    record.diagnosis = diagnose(seen, facts, threshold=services.settings.alert_threshold)
    view = record.model_copy()
    view.payment = seen
    record.plans = offered_plans(view, facts, await plan_context(services, view, facts=facts))
    return record


async def _take(lease: Lease, tries: int = LEASE_TRIES, pause: float = 0.1) -> bool:
    """Take the lease, waiting a little for a Re-check or another follow to finish."""
    for _ in range(tries):
        if await lease.acquire():
            return True
        await asyncio.sleep(pause)
    return False


def _shown(rec: FailureRecord) -> str:
    """What the card shows of the failure: its diagnosis (its time left out), plans, status."""
    d = rec.diagnosis.model_dump_json(exclude={"diagnosed_at"}) if rec.diagnosis else ""
    plans = {k.value: p.model_dump(mode="json") for k, p in sorted(rec.plans.items())}
    return f"{rec.status.value}|{d}|{plans}"


async def _receipt_deleted(
    services: Services, rec: FailureRecord, changes: Sequence[Changed]
) -> bool:
    receipt = recreated_receipt(rec)
    gone = [c for c in changes if c.entity == "Payment" and c.entity_id == receipt and c.deleted]
    if not gone or receipt is None:
        return False
    if not await services.store.once(f"wh:receipt-deleted:{rec.payment_id}:{receipt}"):
        return False
    at = f" at {fmt_when(gone[0].at)}" if gone[0].at else ""
    await note_in_thread(
        services,
        rec,
        f":warning: The receipt the bot recreated for {rec.payment.reference} (QuickBooks "
        f"payment {receipt}) was deleted in QuickBooks by hand{at}. QuickBooks no longer "
        "records this payment: recreate it, or record it by hand, so the books show the "
        "money received.",
    )
    return True
