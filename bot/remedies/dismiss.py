"""Dismiss Syncing and Delete (from ConnectBooster's payment history).

``_cb_dismiss`` is the journaled ``cb_dismiss`` step, shared with Recreate; ``_synced`` and
``_gone`` are the endings when ConnectBooster synced the payment meanwhile or no longer has
it.
"""

from __future__ import annotations

from bot.models import FailureStatus, Resolution
from bot.remedies.journal import _Ctx
from bot.remedies.outcome import _Done
from cb import errors as cbe
from cb.models import SyncStatus


async def _cb_dismiss(ctx: _Ctx) -> bool:
    """Dismiss syncing (journaled). False when ConnectBooster had synced it already."""
    step = await ctx.begin("cb_dismiss")
    if step.state == "done":
        return not step.result.get("synced", False)
    try:
        payment = await ctx.services.cb.dismiss_sync(ctx.rec.payment_id)
    except cbe.Conflict:
        payment = await ctx.services.cb.get_payment(ctx.rec.payment_id)
        if payment.sync.status != SyncStatus.SYNCED:
            raise
        ctx.rec.payment = payment
        await ctx.done(step, synced=True)
        return False
    ctx.rec.payment = payment
    await ctx.done(step, status=payment.sync.status.value)
    return True


def _synced(ctx: _Ctx, message: str) -> _Done:
    qb_id = ctx.rec.payment.sync.qb_payment_id
    return _Done(FailureStatus.RESOLVED, message, Resolution(
        how="synced", by=None, at=ctx.services.clock(),
        detail=f"QuickBooks payment {qb_id}" if qb_id else None))


async def _dismiss(ctx: _Ctx) -> _Done:
    try:
        dismissed = await _cb_dismiss(ctx)
    except cbe.NotFound:
        return _gone(ctx)
    if not dismissed:
        return _synced(ctx, "ConnectBooster had already synced it to QuickBooks; nothing to "
                            "dismiss.")
    return _Done(FailureStatus.RESOLVED,
                 f"Syncing dismissed: ConnectBooster no longer sends {ctx.rec.payment.reference} "
                 "to QuickBooks.",
                 Resolution(how="dismissed", by=ctx.user, at=ctx.services.clock()))


def _gone(ctx: _Ctx) -> _Done:
    return _Done(FailureStatus.RESOLVED, "ConnectBooster no longer has this payment (it was "
                 "deleted from its history).",
                 Resolution(how="deleted", by=None, at=ctx.services.clock(),
                            detail="Already gone from ConnectBooster's history"))


async def _delete(ctx: _Ctx) -> _Done:
    cb = ctx.services.cb
    pid = ctx.rec.payment_id
    if ctx.journal.step("cb_delete") is None:
        try:
            payment = await cb.get_payment(pid)
        except cbe.NotFound:
            return _gone(ctx)
        ctx.rec.payment = payment
        if payment.sync.status == SyncStatus.SYNCED:
            return _synced(ctx, "ConnectBooster had synced it to QuickBooks meanwhile; it was "
                                "not deleted.")
        if payment.sync.status != SyncStatus.DISMISSED and not await _cb_dismiss(ctx):
            return _synced(ctx, "ConnectBooster had synced it to QuickBooks meanwhile; it was "
                                "not deleted.")
    step = await ctx.begin("cb_delete")
    if step.state != "done":
        deleted = await cb.delete_history(pid)
        await ctx.done(step, deleted=deleted)
    return _Done(FailureStatus.RESOLVED,
                 f"Syncing dismissed and {ctx.rec.payment.reference} deleted from "
                 "ConnectBooster's payment history.",
                 Resolution(how="deleted", by=ctx.user, at=ctx.services.clock()))
