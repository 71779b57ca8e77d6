"""Running a remedy's plan and recording how it ended: ``execute`` (a new run, or one a crash
cut short) writes each planned step through the journal under the payment's kept lease, then
finishes the journal, reports once per attempt (audit stream, metrics, a line in the message's
thread) and hands the record to ``bot.lifecycle`` (status, note, save, redraw).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot import lifecycle
from bot.errors import describe_error
from bot.models import (
    AuditEntry,
    FailureStatus,
    JournalOutcome,
    RemedyKind,
    Resolution,
    StepState,
)
from bot.remedies.dismiss import delete, dismiss
from bot.remedies.fresh import planning
from bot.remedies.journal import RemedyRun
from bot.remedies.outcome import (
    RemedyDone,
    RemedyFailed,
    RemedyOutcome,
    RemedyRefused,
    RemedyResult,
)
from bot.remedies.reactivate import reactivate
from bot.remedies.recreate import recreate
from bot.remedies.refund import delete_receipt
from bot.remedies.reporting import count_remedy, note_in_thread
from bot.remedies.texts import (
    failure_text,
    plain_detail,
    stale_object_text,
)
from bot.remedies.unapply import unapply
from bot.slack.blocks.card import REMEDY_LABELS, audit_line
from bot.store.records import LeaseNotHeld
from cb import errors as cbe
from gateway.errors import GatewayError
from qb import errors as qbe

log = logging.getLogger(__name__)

BOOKS_WRITES = frozenset(
    {
        RemedyKind.DISMISS_SYNC,
        RemedyKind.DELETE_HISTORY,
        RemedyKind.UNAPPLY_CREDIT_MEMO,
        RemedyKind.RECREATE_PAYMENT,
    }
)
_UNKNOWN_OUTCOME = (
    qbe.ServerError,
    qbe.TransportError,
    cbe.ServerError,
    cbe.TransportError,
    TimeoutError,
)
"""Errors after which a write may or may not have happened: repeated with the same id."""

JOURNALED: dict[RemedyKind, Callable[[RemedyRun], Awaitable[RemedyDone]]] = {
    RemedyKind.DISMISS_SYNC: dismiss,
    RemedyKind.DELETE_HISTORY: delete,
    RemedyKind.UNAPPLY_CREDIT_MEMO: unapply,
    RemedyKind.RECREATE_PAYMENT: recreate,
    RemedyKind.REACTIVATE_CUSTOMER: reactivate,
    RemedyKind.DELETE_RECEIPT: delete_receipt,
}
"""The journaled remedies (Re-check runs apart, without a journal)."""


@dataclass
class _Ending:
    """How one run ended, before it is recorded."""

    result: RemedyResult
    detail: str  # for the audit stream and the thread
    message: str  # for the clicker
    status: FailureStatus = FailureStatus.OPEN
    resolution: Resolution | None = None
    notice: str | None = None  # above the redrawn message


async def _write_plan(run: RemedyRun) -> RemedyDone:
    j = run.journal
    if run.unplanned is not None:
        raise RemedyFailed(
            f"I could not read the books again to plan it ({describe_error(run.unplanned)})"
        )
    if j.plan is None:
        raise RemedyFailed(
            "no plan was recorded for this remedy (it could not be made, or an "
            "earlier version of the bot started it); press the button again"
        )
    if j.plan.refusal is not None:
        raise RemedyRefused(j.plan.refusal)
    if j.plan.pick is not None:
        raise RemedyRefused(f"{j.plan.pick} — press *{REMEDY_LABELS[j.kind]}* again to pick")
    return await JOURNALED[j.kind](run)


async def execute(run: RemedyRun, *, resumed: bool = False) -> RemedyOutcome:
    """Run (or continue) the journal's plan and record how it ended. Releases the lease
    once the journal is finished."""
    services, rec = run.services, run.rec
    j = run.journal
    kind = j.kind
    label = REMEDY_LABELS[kind]
    await lifecycle.remedy_started(services, rec, resumed=resumed, lease=run.lease.lease)
    try:
        done = await asyncio.wait_for(
            _write_plan(run), timeout=services.remedy_timings.remedy_timeout
        )
    except LeaseNotHeld:
        raise
    except RemedyRefused as exc:
        detail = str(exc)
        j.outcome, j.error = JournalOutcome.REFUSED, detail
        ending = _Ending(
            RemedyResult.REFUSED,
            detail,
            f"*{label}* was not done: {detail}",
            notice=f"{label} was not done: {detail}",
        )
    except (RemedyFailed, qbe.QBOError, cbe.CBError, GatewayError, TimeoutError) as exc:
        ending = _failed(run, exc)
    except Exception as exc:
        log.exception("%s on %s crashed", kind.value, rec.payment.reference)
        j.outcome, j.error = JournalOutcome.FAILED, failure_text(j, exc)
        j.finished_at = services.clock()
        await run.lease.stop()
        await lifecycle.remedy_finished(
            services, rec, FailureStatus.OPEN, resumed=resumed, lease=run.lease.lease
        )
        count_remedy(services, kind, RemedyResult.FAILED)
        raise
    else:
        j.outcome = JournalOutcome.OK
        ending = _Ending(
            RemedyResult.OK,
            done.message,
            done.message,
            status=done.status,
            resolution=done.resolution,
        )
    if ending.result == RemedyResult.FAILED and run.unplanned is None:
        await _replan(run)
    run.lease.check()  # lost: the new holder records the end, not this run
    await run.lease.stop()
    return await _finish(run, ending, resumed=resumed)


def _failed(run: RemedyRun, exc: Exception) -> _Ending:
    """A step failed: what was done, what to do next (refused steps are redone next time)."""
    j = run.journal
    label = REMEDY_LABELS[j.kind]
    if not isinstance(exc, _UNKNOWN_OUTCOME):
        for s in j.steps:  # refused for sure: a new attempt redoes them with new ids
            if s.state == StepState.STARTED:
                s.state = StepState.FAILED
                s.result["error"] = describe_error(exc)
    detail = stale_object_text(j) if isinstance(exc, qbe.StaleObjectError) else failure_text(j, exc)
    log.warning("%s on %s failed: %r", j.kind.value, run.rec.payment.reference, exc)
    j.outcome, j.error = JournalOutcome.FAILED, detail
    return _Ending(RemedyResult.FAILED, detail, f"*{label}* did not finish: {detail}")


async def _replan(run: RemedyRun) -> None:
    """After a run that did not end well: the diagnosis and plans from the facts as they are
    now, so the redrawn message offers what a next click would write (best effort)."""
    try:
        fresh = await planning(run.services, run.rec, run.user)
    except (qbe.QBOError, cbe.CBError, GatewayError) as exc:
        log.info("no fresh plans for %s: %r", run.rec.payment.reference, exc)
        return
    run.rec.payment = fresh.record.payment
    run.rec.diagnosis = fresh.record.diagnosis
    run.rec.plans = fresh.record.plans


async def _finish(run: RemedyRun, ending: _Ending, *, resumed: bool) -> RemedyOutcome:
    """Finish the journal, report once per attempt, record the end, note it in the thread."""
    services, rec = run.services, run.rec
    j = run.journal
    now = services.clock()
    j.finished_at = now
    audit_result = {"ok": "ok", "failed": "failed"}.get(ending.result.value, "refused")
    note_detail = ending.detail + (" (finished after a restart)" if resumed else "")
    # Reported once per attempt even if a crash lands between the report and the save
    # below (the resumed run finds the marker): audit and metric before the save, so a
    # crash after the save cannot lose them.
    report = f"{rec.payment_id}:{j.attempt}"
    ttl = services.remedy_timings.report_marker_ttl
    if await services.store.once(f"remedy-audit:{report}", ttl=ttl):
        await services.store.audit(
            AuditEntry(
                at=now,
                user=j.user,
                action=j.kind.value,
                payment_id=rec.payment_id,
                reference=rec.payment.reference,
                result=audit_result,
                detail=note_detail[:1000],
            )
        )
        count_remedy(services, j.kind, ending.result)
    await lifecycle.remedy_finished(
        services,
        rec,
        ending.status,
        resolution=ending.resolution,
        resumed=resumed,
        notice=ending.notice,
        lease=run.lease.lease,
    )
    if await services.store.once(f"remedy-note:{report}", ttl=ttl):
        await note_in_thread(
            services, rec, audit_line(j.user, j.kind, audit_result, now, plain_detail(note_detail))
        )
    return RemedyOutcome(j.kind, rec.payment_id, ending.result, ending.message, record=rec)
