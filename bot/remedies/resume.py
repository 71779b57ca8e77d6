"""Finishing remedies a crash cut short: ``resume_unfinished`` at start-up, ``resume_one``
for one payment.

A remedy whose lease is still held (by the crashed process until it expires, or by another
instance) is retried in the background every ``services.remedy_timings.resume_poll`` seconds
until the lease frees. A failure resolved meanwhile (a Re-check found ConnectBooster had
synced, dismissed or deleted it) is not resumed: there is nothing left to finish.
"""

from __future__ import annotations

import asyncio
import logging

from bot.models import FailureRecord, FailureStatus, RemedyKind
from bot.remedies.execute import execute
from bot.remedies.journal import RemedyRun
from bot.remedies.lease import KeptLease
from bot.remedies.outcome import RemedyOutcome, RemedyResult
from bot.runtime.services import Services
from bot.store.records import LeaseNotHeld

log = logging.getLogger(__name__)


async def resume_unfinished(services: Services) -> list[RemedyOutcome]:
    """Finish (or report) every remedy a crash cut short; called at start-up.

    A remedy whose lease is still held (the crashed process's lease has not expired yet, or
    another instance is finishing it) is retried in the background until the lease frees."""
    outcomes: list[RemedyOutcome] = []
    ids = await services.store.open_ids()
    for start in range(0, len(ids), 200):
        for rec in await services.store.get_failures(ids[start : start + 200]):
            j = rec.remedy
            if j is None or j.finished_at is not None or j.kind == RemedyKind.RECHECK:
                continue
            outcome = await resume_one(services, rec.payment_id)
            if outcome is None:
                continue
            if outcome.result == RemedyResult.BUSY:
                log.info(
                    "remedy on %s still leased; resuming when the lease frees",
                    rec.payment.reference,
                )
                services.run_work(_resume_when_free(services, rec.payment_id))
            outcomes.append(outcome)
    return outcomes


def _unfinished(rec: FailureRecord | None) -> bool:
    return (
        rec is not None
        and rec.remedy is not None
        and rec.remedy.finished_at is None
        and rec.status != FailureStatus.RESOLVED
    )


async def resume_one(services: Services, payment_id: str) -> RemedyOutcome | None:
    """Finish the payment's unfinished remedy, if it has one (``None`` when it has none)."""
    rec = await services.store.get_failure(payment_id)
    if rec is None or rec.remedy is None or not _unfinished(rec):
        return None
    j = rec.remedy
    ttl = services.remedy_timings.lease_ttl
    kept = KeptLease(services.store.lease(f"payment:{payment_id}", j.user, ttl=ttl), ttl)
    if not await kept.acquire():
        holder = await services.store.lease_holder(f"payment:{payment_id}")
        return RemedyOutcome(
            j.kind, payment_id, RemedyResult.BUSY, "still leased", record=rec, holder=holder
        )
    release = True
    try:
        rec = await services.store.get_failure(payment_id)
        if rec is None or rec.remedy is None or not _unfinished(rec):
            return None
        log.info(
            "resuming %s on %s (attempt %d) after a restart",
            rec.remedy.kind.value,
            rec.payment.reference,
            rec.remedy.attempt,
        )
        release = False
        outcome = await execute(
            RemedyRun(services, rec, kept, rec.remedy.user, dict(rec.remedy.params)), resumed=True
        )
        release = True
        return outcome
    except LeaseNotHeld:
        release = False  # lost to another process mid-way: it finishes the remedy
        return RemedyOutcome(j.kind, payment_id, RemedyResult.BUSY, "lease lost", record=rec)
    finally:
        await kept.stop()
        if release:
            await kept.lease.release()


async def _resume_when_free(services: Services, payment_id: str) -> None:
    timings = services.remedy_timings
    deadline = asyncio.get_running_loop().time() + timings.lease_ttl + 10
    while services.accepting and asyncio.get_running_loop().time() < deadline:
        outcome = await resume_one(services, payment_id)
        if outcome is None or outcome.result != RemedyResult.BUSY:
            return
        await asyncio.sleep(timings.resume_poll)
    log.warning("remedy on %s not resumed: its lease is still held", payment_id)
