"""Dismiss Syncing and Delete (from ConnectBooster's payment history): the plan's
ConnectBooster writes (``cb_dismiss``; for Delete, ``cb_dismiss`` then ``cb_delete``), then
the ending. The plans are offered only when QuickBooks records the payment's whole amount
already (``Books.reconciled``); the planner refuses them otherwise.
"""

from __future__ import annotations

from bot.models import FailureStatus, Resolution, ResolutionHow
from bot.remedies.journal import RemedyRun
from bot.remedies.outcome import RemedyDone
from bot.remedies.writes import apply_writes


async def dismiss(run: RemedyRun) -> RemedyDone:
    """Dismiss Syncing: ConnectBooster stops sending the payment to QuickBooks."""
    stop = await apply_writes(run, run.plan.writes)
    if stop is not None:
        return stop
    return RemedyDone(
        FailureStatus.RESOLVED,
        f"Syncing dismissed: ConnectBooster no longer sends "
        f"{run.rec.payment.reference} to QuickBooks.",
        Resolution(how=ResolutionHow.DISMISSED, by=run.user, at=run.services.clock()),
    )


async def delete(run: RemedyRun) -> RemedyDone:
    """Delete: dismiss syncing first, then remove the payment from ConnectBooster's payment
    history."""
    stop = await apply_writes(run, run.plan.writes)
    if stop is not None:
        return stop
    return RemedyDone(
        FailureStatus.RESOLVED,
        f"Syncing dismissed and {run.rec.payment.reference} deleted from "
        "ConnectBooster's payment history.",
        Resolution(how=ResolutionHow.DELETED, by=run.user, at=run.services.clock()),
    )


__all__ = ["delete", "dismiss"]
