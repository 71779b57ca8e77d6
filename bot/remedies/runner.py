"""``run_remedy`` — one click, start to finish — and ``execute``, which runs (or continues)
a journaled remedy's plan and records how it ended.

``run_remedy`` answers at once when the payment is unknown, resolved, leased by someone else
or the button is out of date; otherwise it takes the payment's lease (kept alive for the whole
run, ``KeptLease``) and reads the facts again (``bot.remedies.fresh.planning``). It writes
nothing, and says why, when ConnectBooster moved the payment on meanwhile (synced, dismissed,
queued for another sync, gone) or when the plan made now differs from the one the button
showed (``RemedyResult.CHANGED``; ``bot.lifecycle.rediagnosed`` stores the new diagnosis and
plans and redraws the message). Otherwise it opens a journal with the plan (or, when the facts
could not be read, with none: the run then fails, says why and writes nothing) and hands over
to ``execute``. ``execute`` marks the remedy started (``bot.lifecycle``), writes the plan step by
step under ``services.remedy_timings.remedy_timeout`` (a refused plan writes nothing), plans
again when it did not end well (so the redrawn message offers plans from the facts as they
are now), then finishes the journal, reports (audit stream and metric once per attempt), has
``bot.lifecycle`` record the end (status and resolution, history, save, lease released,
message redrawn) and notes the outcome in the message's thread — in that order. A run whose
lease was lost stops before its next write and saves nothing more (``LeaseNotHeld``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot import lifecycle
from bot.errors import describe_error
from bot.models import (
    AuditEntry,
    FailureRecord,
    FailureStatus,
    JournalOutcome,
    RemedyKind,
    RemedyPlan,
    Resolution,
    StepState,
)
from bot.remedies.dismiss import delete, dismiss
from bot.remedies.fresh import Moved, cb_moved, planning
from bot.remedies.journal import RemedyRun, start_journal
from bot.remedies.lease import KeptLease
from bot.remedies.outcome import (
    RemedyDone,
    RemedyFailed,
    RemedyOutcome,
    RemedyRefused,
    RemedyResult,
)
from bot.remedies.reactivate import reactivate
from bot.remedies.recheck import recheck
from bot.remedies.recreate import recreate
from bot.remedies.reporting import count_remedy, note_in_thread
from bot.remedies.texts import (
    already_resolved_text,
    failure_text,
    lost_lease_text,
    moved_text,
    plain_detail,
    stale_object_text,
    stale_text,
)
from bot.remedies.unapply import unapply
from bot.runtime.services import Services
from bot.slack.blocks import changed_plan_text
from bot.slack.blocks.card import REMEDY_LABELS, audit_line
from bot.store.records import LeaseNotHeld
from cb import errors as cbe
from qb import errors as qbe

log = logging.getLogger(__name__)

BOOKS_WRITES = frozenset(
    {RemedyKind.DISMISS_SYNC, RemedyKind.DELETE_HISTORY, RemedyKind.UNAPPLY_CREDIT_MEMO,
     RemedyKind.RECREATE_PAYMENT}
)
_UNKNOWN_OUTCOME = (qbe.ServerError, qbe.TransportError, cbe.ServerError, cbe.TransportError,
                    TimeoutError)
"""Errors after which a write may or may not have happened: repeated with the same id."""

JOURNALED: dict[RemedyKind, Callable[[RemedyRun], Awaitable[RemedyDone]]] = {
    RemedyKind.DISMISS_SYNC: dismiss,
    RemedyKind.DELETE_HISTORY: delete,
    RemedyKind.UNAPPLY_CREDIT_MEMO: unapply,
    RemedyKind.RECREATE_PAYMENT: recreate,
    RemedyKind.REACTIVATE_CUSTOMER: reactivate,
}
"""The journaled remedies (Re-check runs apart, without a journal)."""


async def run_remedy(
    services: Services,
    payment_id: str,
    kind: RemedyKind,
    user_id: str,
    *,
    params: dict[str, Any] | None = None,
    expected_attempt: int | None = None,
    expected_digest: str | None = None,
) -> RemedyOutcome:
    """Run remedy ``kind`` on failure ``payment_id`` for Slack user ``user_id``.

    ``params`` carries the remedy's choices (``{"target": invoice id or KEEP_AS_CREDIT}`` for
    Recreate). ``expected_attempt`` is the attempt number the clicked button was drawn for;
    when another remedy ran since, nothing is done and the outcome says what happened.
    ``expected_digest`` is the digest of the plan the button showed (``RemedyPlan.digest``;
    without one, and without ``params``, the plan the record's card offers): at click time
    the facts are read again and the remedy planned again; a plan that changed is not
    written (``RemedyResult.CHANGED``).
    Never raises for a QuickBooks or ConnectBooster failure: the outcome (and the message
    in Slack) says what was done and what to do next. ``StoreUnavailable`` propagates.
    """
    store = services.store
    rec = await store.get_failure(payment_id)
    if rec is None:
        count_remedy(services, kind, RemedyResult.NOT_FOUND)
        return RemedyOutcome(kind, payment_id, RemedyResult.NOT_FOUND,
                             "I have no record of that payment; the button is out of date.")
    if rec.status == FailureStatus.RESOLVED:
        return await _already_resolved(services, rec, kind)
    ttl = services.remedy_timings.lease_ttl
    kept = KeptLease(store.lease(f"payment:{payment_id}", user_id, ttl=ttl), ttl)
    if not await kept.acquire():
        return await _busy(services, rec, kind)
    release = True
    try:
        fresh = await store.get_failure(payment_id)
        if fresh is None:
            return RemedyOutcome(kind, payment_id, RemedyResult.NOT_FOUND,
                                 "I have no record of that payment any more.")
        rec = fresh
        if rec.status == FailureStatus.RESOLVED:
            return await _already_resolved(services, rec, kind)
        if kind == RemedyKind.RECHECK:
            return await recheck(services, rec, user_id, lease=kept.lease)
        if rec.remedy is not None and rec.remedy.finished_at is None:
            release = False  # released below only once the journal is finished
            outcome = await execute(RemedyRun(services, rec, kept, rec.remedy.user,
                                              dict(rec.remedy.params)))
            release = True
            label = REMEDY_LABELS[outcome.kind]
            outcome.message = (f"An earlier *{label}* on this payment was cut short; I finished "
                               f"it instead of starting another. {outcome.message}")
            return outcome
        if expected_attempt is not None and expected_attempt != rec.remedy_attempts:
            await lifecycle.redraw(services, rec)
            count_remedy(services, kind, RemedyResult.STALE)
            return RemedyOutcome(kind, payment_id, RemedyResult.STALE,
                                 stale_text(rec), record=rec)
        decided = await _decide(services, rec, kind, user_id, dict(params or {}),
                                expected_digest, kept)
        if isinstance(decided, RemedyOutcome):
            return decided
        release = False
        outcome = await execute(decided)
        release = True
        return outcome
    except LeaseNotHeld:
        release = False  # another process holds it now
        count_remedy(services, kind, RemedyResult.BUSY)
        return RemedyOutcome(kind, payment_id, RemedyResult.BUSY, lost_lease_text(kind))
    finally:
        await kept.stop()
        if release:
            await kept.lease.release()


async def _already_resolved(
    services: Services, rec: FailureRecord, kind: RemedyKind
) -> RemedyOutcome:
    await lifecycle.redraw(services, rec)
    count_remedy(services, kind, RemedyResult.ALREADY_RESOLVED)
    return RemedyOutcome(kind, rec.payment_id, RemedyResult.ALREADY_RESOLVED,
                         already_resolved_text(rec) + " Nothing more was done.", record=rec)


async def _busy(services: Services, rec: FailureRecord, kind: RemedyKind) -> RemedyOutcome:
    holder = await services.store.lease_holder(f"payment:{rec.payment_id}")
    count_remedy(services, kind, RemedyResult.BUSY)
    who = f"<@{holder}>" if holder else "someone else"
    return RemedyOutcome(kind, rec.payment_id, RemedyResult.BUSY,
                         f"This payment is already being handled by {who}; nothing was "
                         "done twice. The message updates when they finish.",
                         record=rec, holder=holder)


async def _decide(
    services: Services, rec: FailureRecord, kind: RemedyKind, user: str,
    params: dict[str, Any], expected_digest: str | None, kept: KeptLease,
) -> RemedyOutcome | RemedyRun:
    """Read the facts again and plan: the answer when nothing may be written, else the run
    of the plan (its journal opened on the record)."""
    now = services.clock()
    try:
        fresh = await planning(services, rec, user)
    except cbe.NotFound:
        gone = cb_moved(rec, None, now)
        assert gone is not None
        return await _moved(services, rec.model_copy(deep=True), kind, user, gone, kept)
    except (qbe.QBOError, cbe.CBError) as exc:  # no plan: the run records why, writes nothing
        start_journal(services, rec, kind, user, params, None)
        return RemedyRun(services, rec, kept, user, params, unplanned=exc)
    moved = cb_moved(rec, fresh.record.payment, now)
    if moved is not None:
        return await _moved(services, fresh.record, kind, user, moved, kept)
    shown = fresh.plan(kind, params, shown=True)
    old = rec.plans.get(kind)
    expected = expected_digest or (old.digest() if old is not None and not params else None)
    if expected is not None and shown.digest() != expected:
        return await _changed(services, fresh.record, kind, user, old, shown, kept)
    rec = fresh.record
    start_journal(services, rec, kind, user, params, fresh.plan(kind, params))
    return RemedyRun(services, rec, kept, user, params, facts=fresh.facts)


async def _nothing_written(
    services: Services, rec: FailureRecord, kind: RemedyKind, user: str, message: str,
    result: RemedyResult,
) -> RemedyOutcome:
    """Audit and count a click that wrote nothing; the clicker's answer."""
    await services.store.audit(AuditEntry(
        at=services.clock(), user=user, action=kind.value, payment_id=rec.payment_id,
        reference=rec.payment.reference, result="refused", detail=plain_detail(message)[:1000]))
    count_remedy(services, kind, result)
    return RemedyOutcome(kind, rec.payment_id, result, message, record=rec)


async def _moved(
    services: Services, rec: FailureRecord, kind: RemedyKind, user: str, moved: Moved,
    kept: KeptLease,
) -> RemedyOutcome:
    """ConnectBooster moved the payment on: nothing written, the record moves with it."""
    resolved = moved.status == FailureStatus.RESOLVED
    message = moved_text(kind, moved.what, resolved)
    await lifecycle.rediagnosed(services, rec, user, kind, moved.status,
                                resolution=moved.resolution, lease=kept.lease,
                                notice=None if resolved else plain_detail(message))
    return await _nothing_written(services, rec, kind, user, message, RemedyResult.CHANGED)


async def _changed(
    services: Services, rec: FailureRecord, kind: RemedyKind, user: str,
    old: RemedyPlan | None, new: RemedyPlan, kept: KeptLease,
) -> RemedyOutcome:
    """The plan made now differs from the one the button showed: nothing written, the new
    diagnosis and plans stored and shown."""
    message = changed_plan_text(old, new)
    await lifecycle.rediagnosed(
        services, rec, user, kind, rec.status, lease=kept.lease,
        notice=f"{REMEDY_LABELS[kind]} wrote nothing: the books changed since this message "
               "was drawn. Below is where things stand now.")
    return await _nothing_written(services, rec, kind, user, message, RemedyResult.CHANGED)


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
        raise RemedyFailed(f"I could not read the books again to plan it "
                           f"({describe_error(run.unplanned)})")
    if j.plan is None:
        raise RemedyFailed("no plan was recorded for this remedy (it could not be made, or an "
                           "earlier version of the bot started it); press the button again")
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
        done = await asyncio.wait_for(_write_plan(run),
                                      timeout=services.remedy_timings.remedy_timeout)
    except LeaseNotHeld:
        raise
    except RemedyRefused as exc:
        detail = str(exc)
        j.outcome, j.error = JournalOutcome.REFUSED, detail
        ending = _Ending(RemedyResult.REFUSED, detail, f"*{label}* was not done: {detail}",
                         notice=f"{label} was not done: {detail}")
    except (RemedyFailed, qbe.QBOError, cbe.CBError, TimeoutError) as exc:
        ending = _failed(run, exc)
    except Exception as exc:
        log.exception("%s on %s crashed", kind.value, rec.payment.reference)
        j.outcome, j.error = JournalOutcome.FAILED, failure_text(j, exc)
        j.finished_at = services.clock()
        await run.lease.stop()
        await lifecycle.remedy_finished(services, rec, FailureStatus.OPEN, resumed=resumed,
                                        lease=run.lease.lease)
        count_remedy(services, kind, RemedyResult.FAILED)
        raise
    else:
        j.outcome = JournalOutcome.OK
        ending = _Ending(RemedyResult.OK, done.message, done.message, status=done.status,
                         resolution=done.resolution)
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
    detail = (stale_object_text(j) if isinstance(exc, qbe.StaleObjectError)
              else failure_text(j, exc))
    log.warning("%s on %s failed: %r", j.kind.value, run.rec.payment.reference, exc)
    j.outcome, j.error = JournalOutcome.FAILED, detail
    return _Ending(RemedyResult.FAILED, detail, f"*{label}* did not finish: {detail}")


async def _replan(run: RemedyRun) -> None:
    """After a run that did not end well: the diagnosis and plans from the facts as they are
    now, so the redrawn message offers what a next click would write (best effort)."""
    try:
        fresh = await planning(run.services, run.rec, run.user)
    except (qbe.QBOError, cbe.CBError) as exc:
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
        await services.store.audit(AuditEntry(
            at=now, user=j.user, action=j.kind.value, payment_id=rec.payment_id,
            reference=rec.payment.reference, result=audit_result, detail=note_detail[:1000],
        ))
        count_remedy(services, j.kind, ending.result)
    await lifecycle.remedy_finished(services, rec, ending.status, resolution=ending.resolution,
                                    resumed=resumed, notice=ending.notice,
                                    lease=run.lease.lease)
    if await services.store.once(f"remedy-note:{report}", ttl=ttl):
        await note_in_thread(services, rec, audit_line(j.user, j.kind, audit_result, now,
                                                       plain_detail(note_detail)))
    return RemedyOutcome(j.kind, rec.payment_id, ending.result, ending.message, record=rec)
