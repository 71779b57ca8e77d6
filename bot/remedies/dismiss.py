"""Dismiss Syncing and Delete (from ConnectBooster's payment history).

``cb_dismiss`` is the journaled ``cb_dismiss`` step, shared with Recreate; ``synced_meanwhile``
is the ending when ConnectBooster synced the payment meanwhile (shared with Unapply and
Recreate), ``_gone`` the ending when ConnectBooster no longer has it.
"""

from __future__ import annotations

from bot.models import FailureStatus, Resolution, ResolutionHow, StepState
from bot.remedies.journal import RemedyRun
from bot.remedies.outcome import RemedyDone
from cb import errors as cbe
from cb.models import SyncStatus


async def cb_dismiss(run: RemedyRun) -> bool:
    """Dismiss syncing (journaled). False when ConnectBooster had synced it already."""
    step = await run.begin("cb_dismiss")
    if step.state == StepState.DONE:
        return not step.result.get("synced", False)
    try:
        payment = await run.services.cb.dismiss_sync(run.rec.payment_id)
    except cbe.Conflict:
        payment = await run.services.cb.get_payment(run.rec.payment_id)
        if payment.sync.status != SyncStatus.SYNCED:
            raise
        run.rec.payment = payment
        await run.done(step, synced=True)
        return False
    run.rec.payment = payment
    await run.done(step, status=payment.sync.status.value)
    return True


def synced_meanwhile(run: RemedyRun, message: str) -> RemedyDone:
    """ConnectBooster synced the payment to QuickBooks before the remedy could: resolved."""
    qb_id = run.rec.payment.sync.qb_payment_id
    return RemedyDone(FailureStatus.RESOLVED, message, Resolution(
        how=ResolutionHow.SYNCED, by=None, at=run.services.clock(),
        detail=f"QuickBooks payment {qb_id}" if qb_id else None))


async def dismiss(run: RemedyRun) -> RemedyDone:
    """Dismiss Syncing: ConnectBooster stops sending the payment to QuickBooks."""
    try:
        dismissed = await cb_dismiss(run)
    except cbe.NotFound:
        return _gone(run)
    if not dismissed:
        return synced_meanwhile(run, "ConnectBooster had already synced it to QuickBooks; "
                                     "nothing to dismiss.")
    return RemedyDone(FailureStatus.RESOLVED,
                      f"Syncing dismissed: ConnectBooster no longer sends "
                      f"{run.rec.payment.reference} to QuickBooks.",
                      Resolution(how=ResolutionHow.DISMISSED, by=run.user,
                                 at=run.services.clock()))


def _gone(run: RemedyRun) -> RemedyDone:
    return RemedyDone(FailureStatus.RESOLVED, "ConnectBooster no longer has this payment (it "
                      "was deleted from its history).",
                      Resolution(how=ResolutionHow.DELETED, by=None, at=run.services.clock(),
                                 detail="Already gone from ConnectBooster's history"))


async def delete(run: RemedyRun) -> RemedyDone:
    """Delete: dismiss syncing first (unless dismissed already), then remove the payment from
    ConnectBooster's payment history."""
    cb = run.services.cb
    pid = run.rec.payment_id
    if run.journal.step("cb_delete") is None:
        try:
            payment = await cb.get_payment(pid)
        except cbe.NotFound:
            return _gone(run)
        run.rec.payment = payment
        if payment.sync.status == SyncStatus.SYNCED:
            return synced_meanwhile(run, "ConnectBooster had synced it to QuickBooks meanwhile; "
                                         "it was not deleted.")
        if payment.sync.status != SyncStatus.DISMISSED and not await cb_dismiss(run):
            return synced_meanwhile(run, "ConnectBooster had synced it to QuickBooks meanwhile; "
                                         "it was not deleted.")
    step = await run.begin("cb_delete")
    if step.state != StepState.DONE:
        deleted = await cb.delete_history(pid)
        await run.done(step, deleted=deleted)
    return RemedyDone(FailureStatus.RESOLVED,
                      f"Syncing dismissed and {run.rec.payment.reference} deleted from "
                      "ConnectBooster's payment history.",
                      Resolution(how=ResolutionHow.DELETED, by=run.user,
                                 at=run.services.clock()))
