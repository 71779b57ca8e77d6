"""Each planned write, done as one journal step: begun in Redis before the write, done after.

:func:`apply_writes` walks a plan's writes in the plan's order (``RemedyPlan.writes``); each
``PlannedWrite`` is one journal step named by its ``step``. A QuickBooks write carries the
step's ``requestid`` (``bot.remedies.journal.request_id``: payment, plan digest, step,
attempt), so repeating it after a crash or a lost answer replays the first write. The body
sent is the plan's, exactly; nothing is recomputed here:

- a stale ``SyncToken`` (QuickBooks 5010) on an update or a delete is not retried on the fresh
  object — lines computed from the old version are never resent: the error stops the run, the
  step is marked refused and the runner plans again;
- ConnectBooster answering that the payment synced meanwhile (a dismissal or resync refused)
  or is gone stops the run with that ending (``RemedyDone``): nothing after it is written —
  this is why Recreate dismisses first, so a sync landing before the create can't duplicate it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bot.models import (
    FailureStatus,
    PlannedWrite,
    RemedyStep,
    Resolution,
    ResolutionHow,
    StepState,
    WriteKind,
)
from bot.remedies.journal import RemedyRun, request_id
from bot.remedies.outcome import RemedyDone, RemedyFailed
from cb import errors as cbe
from cb.models import Payment as CBPayment
from cb.models import SyncStatus
from qb import errors as qbe
from qb.models import Customer
from qb.models import Payment as QBPayment

QBO_WRITES = frozenset(
    {
        WriteKind.QBO_CREATE_PAYMENT,
        WriteKind.QBO_UPDATE_PAYMENT,
        WriteKind.QBO_DELETE_PAYMENT,
        WriteKind.QBO_UPDATE_CUSTOMER,
    }
)
"""The writes that go to QuickBooks (each with a requestid)."""


def synced_meanwhile(run: RemedyRun, message: str) -> RemedyDone:
    """ConnectBooster synced the payment to QuickBooks before the remedy could: resolved."""
    qb_id = run.rec.payment.sync.qb_payment_id
    return RemedyDone(
        FailureStatus.RESOLVED,
        message,
        Resolution(
            how=ResolutionHow.SYNCED,
            by=None,
            at=run.services.clock(),
            detail=f"QuickBooks payment {qb_id}" if qb_id else None,
        ),
    )


def gone(run: RemedyRun) -> RemedyDone:
    """ConnectBooster no longer has the payment: resolved as deleted, nothing more written."""
    return RemedyDone(
        FailureStatus.RESOLVED,
        "ConnectBooster no longer has this payment (it "
        "was deleted from its history); nothing more was written.",
        Resolution(
            how=ResolutionHow.DELETED,
            by=None,
            at=run.services.clock(),
            detail="Already gone from ConnectBooster's history",
        ),
    )


def _stopped(run: RemedyRun, step: RemedyStep) -> RemedyDone | None:
    """The ending a finished step recorded (ConnectBooster synced meanwhile, or gone)."""
    if step.result.get("synced"):
        return synced_meanwhile(
            run, "ConnectBooster had synced it to QuickBooks meanwhile; nothing more was written."
        )
    if step.result.get("gone"):
        return gone(run)
    return None


async def apply_writes(run: RemedyRun, writes: Sequence[PlannedWrite]) -> RemedyDone | None:
    """Do ``writes`` in order, each as a journal step (skipped when done already). The
    ending when ConnectBooster stopped the run (synced meanwhile, or gone), else None."""
    for write in writes:
        existing = run.journal.step(write.step)
        if existing is not None and existing.state == StepState.DONE:
            stop = _stopped(run, existing)
        else:
            rid = None
            if write.kind in QBO_WRITES:
                rid = (
                    existing.request_id
                    if existing is not None and existing.request_id
                    else request_id(
                        run.rec.payment_id, run.plan.digest(), write.step, run.journal.attempt
                    )
                )
            step = await run.begin(
                write.step,
                request_id=rid,
                plan={"kind": write.kind.value, "target": write.target_id},
            )
            stop = await WRITERS[write.kind](run, write, step)
        if stop is not None:
            return stop
    return None


# ---- QuickBooks ---------------------------------------------------------------------------


def _body(write: PlannedWrite) -> dict[str, object]:
    if write.body is None:
        raise RemedyFailed(f"the plan's step {write.step} has no body to send")
    return write.body


async def _qbo_create_payment(
    run: RemedyRun, write: PlannedWrite, step: RemedyStep
) -> RemedyDone | None:
    assert step.request_id is not None
    created = await run.services.qbo.create_payment(
        QBPayment.model_validate(_body(write)), request_id=step.request_id
    )
    await run.done(step, qbo_payment_id=created.id)
    return None


async def _qbo_update_payment(
    run: RemedyRun, write: PlannedWrite, step: RemedyStep
) -> RemedyDone | None:
    assert step.request_id is not None
    await run.services.qbo.update(
        QBPayment.model_validate(_body(write)), request_id=step.request_id
    )
    await run.done(step, action="update")
    return None


async def _qbo_delete_payment(
    run: RemedyRun, write: PlannedWrite, step: RemedyStep
) -> RemedyDone | None:
    assert step.request_id is not None
    body = _body(write)
    target = str(write.target_id or body.get("Id") or "")
    try:
        await run.services.qbo.delete_payment(
            target, str(body.get("SyncToken", "")), request_id=step.request_id
        )
    except qbe.NotFoundError as exc:
        if not exc.deleted:
            raise
        await run.done(step, action="already-gone")  # deleted already (by hand, or by us)
        return None
    await run.done(step, action="delete")
    return None


async def _qbo_update_customer(
    run: RemedyRun, write: PlannedWrite, step: RemedyStep
) -> RemedyDone | None:
    assert step.request_id is not None
    customer = await run.services.qbo.update(
        Customer.model_validate(_body(write)), request_id=step.request_id
    )
    await run.done(step, active=customer.active)
    return None


# ---- ConnectBooster -----------------------------------------------------------------------


async def _cb_sync_change(
    run: RemedyRun,
    step: RemedyStep,
    change: Callable[[str], Awaitable[CBPayment]],
    *,
    gone_ends_it: bool,
) -> RemedyDone | None:
    """A ConnectBooster change of the payment's sync state (dismiss, resync). A 409 because
    ConnectBooster synced it meanwhile ends the run as synced (any other 409 is raised); a
    404 ends it as gone when ``gone_ends_it``, else it is raised."""
    try:
        payment = await change(run.rec.payment_id)
    except cbe.NotFound:
        if not gone_ends_it:
            raise
        await run.done(step, gone=True)
        return gone(run)
    except cbe.Conflict:
        payment = await run.services.contract().get_payment(run.rec.payment_id)
        if payment.sync.status != SyncStatus.SYNCED:
            raise
        run.rec.payment = payment
        await run.done(step, synced=True)
        return _stopped(run, step)
    run.rec.payment = payment
    await run.done(step, status=payment.sync.status.value)
    return None


async def _cb_dismiss(run: RemedyRun, write: PlannedWrite, step: RemedyStep) -> RemedyDone | None:
    return await _cb_sync_change(run, step, run.services.contract().dismiss_sync, gone_ends_it=True)


async def _cb_delete(run: RemedyRun, write: PlannedWrite, step: RemedyStep) -> RemedyDone | None:
    deleted = await run.services.contract().delete_history(run.rec.payment_id)
    await run.done(step, deleted=deleted)
    return None


async def _cb_resync(run: RemedyRun, write: PlannedWrite, step: RemedyStep) -> RemedyDone | None:
    return await _cb_sync_change(run, step, run.services.contract().resync, gone_ends_it=False)


Writer = Callable[[RemedyRun, PlannedWrite, RemedyStep], Awaitable[RemedyDone | None]]

WRITERS: dict[WriteKind, Writer] = {
    WriteKind.QBO_CREATE_PAYMENT: _qbo_create_payment,
    WriteKind.QBO_UPDATE_PAYMENT: _qbo_update_payment,
    WriteKind.QBO_DELETE_PAYMENT: _qbo_delete_payment,
    WriteKind.QBO_UPDATE_CUSTOMER: _qbo_update_customer,
    WriteKind.CB_DISMISS: _cb_dismiss,
    WriteKind.CB_DELETE: _cb_delete,
    WriteKind.CB_RESYNC: _cb_resync,
}
"""How each kind of planned write is sent."""


def done_write(run: RemedyRun, kind: WriteKind) -> RemedyStep | None:
    """The first finished step of the plan that makes a write of ``kind``."""
    for write in run.plan.writes:
        if write.kind == kind:
            step = run.journal.step(write.step)
            if step is not None and step.state == StepState.DONE:
                return step
    return None


__all__ = [
    "QBO_WRITES",
    "WRITERS",
    "apply_writes",
    "done_write",
    "gone",
    "synced_meanwhile",
]
