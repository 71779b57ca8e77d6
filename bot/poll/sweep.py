"""The sweep: open failures resolved outside Slack are marked resolved.

A failure stays open until someone acts on it in Slack, or until ConnectBooster no longer
lists it as failing: its next sync run recorded it in QuickBooks, or someone dismissed its
syncing or deleted it in the portal. Each poll cycle ends with :func:`sweep_resolved`, which
has ``bot.lifecycle.resolved_outside`` mark such records resolved
(``Resolution(how=..., by=None)``) and redraw their message without buttons. Synced and
dismissed payments come from ConnectBooster's ``synced`` and ``dismissed`` lists since the
cycle's cursor (bulk); a deletion shows only as a 404 when the payment is read, so a rotating
window of ``SWEEP_READS`` open records (``SweepCursor``, key ``poll:sweep``) is read one by one
each cycle (the contract has no deleted list).

A credit memo un-applied from Slack waits for ConnectBooster's next sync; when that sync
lands, the record is resolved as ``unapplied`` by the person who clicked.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from pydantic import BaseModel

from bot import lifecycle
from bot.models import FailureStatus, JournalOutcome, RemedyKind, Resolution, ResolutionHow
from bot.poll.report import PollReport
from bot.runtime.services import Services
from cb.errors import NotFound
from cb.models import Payment, SyncStatus

SWEEP_READS = 50
"""Open records read one by one per cycle to notice portal deletions."""


class SweepCursor(BaseModel):
    """Where the rotating one-by-one read of open records goes on next cycle."""

    offset: int = 0


async def sweep_resolved(
    services: Services,
    report: PollReport,
    since: datetime | None,
    failed_ids: set[str],
    *,
    page: int,
) -> None:
    """Resolve open failures ConnectBooster synced, or the portal dismissed or deleted.

    ``since`` is the cycle's read-from time (``None``: first cycle, no bulk lists);
    ``failed_ids`` the payments still failing this cycle (left open); ``page`` the page size
    for ConnectBooster's lists. Resolved payment ids are added to ``report.resolved``."""
    s = services
    open_now = await s.store.open_count()
    if not open_now:
        return
    states: dict[str, Payment | None] = {}
    if since is not None:
        listed: dict[str, Payment] = {}
        for status in (SyncStatus.SYNCED, SyncStatus.DISMISSED):
            pages = s.contract().list_payments(status.value, updated_since=since, limit=page)
            async for p in pages:
                if p.id not in failed_ids:
                    listed[p.id] = p
        still = await s.store.which_open(list(listed))
        states = {pid: p for pid, p in listed.items() if pid in still}
    # one by one, a rotating window over the open failures (oldest first): the only way to
    # see a portal "Delete"; read by rank, so a cycle costs the same at any backlog. Failures
    # found at the gateway (gw-…) are not ConnectBooster's: bot.poll.gateway sweeps them
    cur = await s.store.get_model(SweepCursor, "poll", "sweep") or SweepCursor()
    start = cur.offset % open_now
    window = await s.store.open_ids(start=start, stop=start + SWEEP_READS - 1, newest_first=False)
    if len(window) < SWEEP_READS and start > 0:
        window += await s.store.open_ids(
            start=0, stop=min(start, SWEEP_READS - len(window)) - 1, newest_first=False
        )
    window = [
        i
        for i in dict.fromkeys(window)
        if i not in failed_ids and i not in states and not i.startswith("gw-")
    ]
    if window:
        sem = asyncio.Semaphore(8)

        async def read(pid: str) -> None:
            async with sem:
                try:
                    states[pid] = await s.contract().get_payment(pid)
                except NotFound:
                    states[pid] = None

        await asyncio.gather(*(read(pid) for pid in window))
    cur.offset = start + SWEEP_READS
    await s.store.put_model(cur, "poll", "sweep")
    for pid, state in states.items():
        how = _resolved_how(state)
        if how is not None:
            await _resolve(s, report, pid, state, how)


async def _resolve(
    s: Services, report: PollReport, pid: str, payment: Payment | None, how: ResolutionHow
) -> None:
    async with s.store.holding(f"payment:{pid}", s.instance, ttl=30) as got:
        if not got:
            return  # a remedy is working on it; it records the outcome itself
        rec = await s.store.get_failure(pid)
        if rec is None or rec.status in (FailureStatus.RESOLVED, FailureStatus.IN_PROGRESS):
            return
        if how == ResolutionHow.DISMISSED and lifecycle.own_dismissal(rec):
            return  # its own unfinished Recreate dismissed it: not resolved until it creates
        by: str | None = None
        j = rec.remedy
        if (
            how == ResolutionHow.SYNCED
            and rec.status == FailureStatus.WAITING_SYNC
            and j is not None
            and j.kind == RemedyKind.UNAPPLY_CREDIT_MEMO
            and j.outcome == JournalOutcome.OK
        ):
            how, by = ResolutionHow.UNAPPLIED, j.user
        resolution = Resolution(how=how, by=by, at=s.clock(), detail=_DETAIL.get(how, ""))
        await lifecycle.resolved_outside(s, rec, resolution, payment=payment)
        report.resolved.append(pid)


def _resolved_how(p: Payment | None) -> ResolutionHow | None:
    if p is None:
        return ResolutionHow.DELETED
    if p.sync.status == SyncStatus.SYNCED:
        return ResolutionHow.SYNCED
    if p.sync.status == SyncStatus.DISMISSED:
        return ResolutionHow.DISMISSED
    return None


_DETAIL: dict[ResolutionHow, str] = {
    ResolutionHow.SYNCED: "ConnectBooster's sync recorded the payment in QuickBooks.",
    ResolutionHow.DISMISSED: "Syncing was dismissed in the ConnectBooster portal.",
    ResolutionHow.DELETED: "The payment was deleted from ConnectBooster's history in the portal.",
}
"""The resolution's detail, by how ConnectBooster shows it resolved."""


__all__ = ["SWEEP_READS", "SweepCursor", "sweep_resolved"]
