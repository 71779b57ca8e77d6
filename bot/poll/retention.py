"""The retention sweep at the end of each poll cycle: old resolved failures and audit go.

A failure resolved more than ``RETENTION_DAYS`` ago (by the services' clock) is deleted with
its index entries (``bot.store.retention``), at most ``BATCHES`` batches of ``BATCH`` a cycle,
so a first sweep over years of history never holds up posting; the rest goes in the next
cycles. The audit stream and the refused-click stream are trimmed by age to the same period
(``XTRIM MINID``). Open failures are never deleted, however old.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.poll.report import PollReport
from bot.runtime.services import Services

log = logging.getLogger("bot.poll.cycle")  # one logger for the whole poll cycle

BATCH = 50
"""Resolved failures examined (and deleted) per batch."""
BATCHES = 4
"""Batches per cycle at most."""


async def sweep_expired(services: Services, report: PollReport) -> None:
    """Delete resolved failures and audit entries older than ``RETENTION_DAYS``; the payment
    ids deleted go to ``report.expired``."""
    s = services
    before = s.clock() - timedelta(days=s.settings.retention_days)
    skip = 0
    for _ in range(BATCHES):
        batch = await s.store.expire_resolved(before, batch=BATCH, skip=skip)
        report.expired.extend(batch.deleted)
        skip += batch.kept
        if batch.examined < BATCH:
            break
    trimmed = await s.store.trim_audit(before)
    if report.expired or trimmed:
        log.info(
            "retention: %d resolved failures and %d audit entries older than %d days deleted",
            len(report.expired),
            trimmed,
            s.settings.retention_days,
        )


__all__ = ["BATCH", "BATCHES", "sweep_expired"]
