"""A posted failure that failed again: a new diagnosis in the same Slack message.

After a remedy or a resync, ConnectBooster may try a payment again and fail again. The poller
sees a newer sync attempt (:func:`failed_again`) on a payment whose message is already in Slack;
:func:`update_again` hands the new diagnosis, and the plans of its remedies made from the same
facts, to ``bot.lifecycle.failed_again``, which reopens the record and redraws its existing
message with a notice, never posting a second one. A
payment a remedy is working on is left for the next cycle (the poller holds its cursor back
before it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot import lifecycle
from bot.models import FailureRecord, FailureStatus
from bot.poll.intake import Diagnosed, Found
from bot.poll.report import PollReport
from bot.runtime.services import Services
from cb.models import Payment, SyncStatus


def failed_again(rec: FailureRecord, p: Payment) -> bool:
    """The payment has a sync attempt newer than the one the record knows."""
    old = rec.payment.sync
    new = p.sync
    if new.status != SyncStatus.FAILED:
        return False
    if new.attempts > old.attempts:
        return True
    return bool(
        new.last_attempt_at and old.last_attempt_at and new.last_attempt_at > old.last_attempt_at
    )


async def update_again(
    services: Services,
    report: PollReport,
    again: Sequence[Found],
    diagnosed: Diagnosed,
) -> list[datetime]:
    """Failed again after a remedy or resync: new diagnosis and plans (from ``diagnosed``, by
    payment id), same message; adds each redrawn payment id to ``report.updated``. Returns the
    ``updated_at`` of payments left for next cycle (a remedy holds them)."""
    s = services
    held: list[datetime] = []
    for f in again:
        async with s.store.holding(f"payment:{f.payment.id}", s.instance, ttl=30) as got:
            rec = await s.store.get_failure(f.payment.id) if got else None
            if rec is None or rec.status == FailureStatus.IN_PROGRESS:
                held.append(f.payment.updated_at)
                continue
            if not failed_again(rec, f.payment):
                continue
            at = f.payment.sync.last_attempt_at or f.payment.updated_at
            notice = (
                f"ConnectBooster's sync failed again at {at:%H:%M} UTC "
                f"(attempt {f.payment.sync.attempts}); the diagnosis below is new."
            )
            await lifecycle.failed_again(
                s,
                rec,
                f.payment,
                diagnosed.get(f.payment.id),
                notice=notice,
                plans=await diagnosed.plans(s, rec, f.payment),
            )
            report.updated.append(rec.payment_id)
    return held


__all__ = ["failed_again", "update_again"]
