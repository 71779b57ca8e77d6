"""``run_remedy`` — one click, start to finish — and ``execute``, which runs (or continues)
a journaled remedy and records how it ended.

``run_remedy`` answers at once when the payment is unknown, resolved, leased by someone else
or the button is out of date; otherwise it takes the payment's lease, opens a journal and
hands over to ``execute``. ``execute`` marks the remedy started (``bot.lifecycle``), runs its
steps under ``services.remedy_timings.remedy_timeout``, then finishes the journal, reports
(audit stream and metric once per attempt), has ``bot.lifecycle`` record the end (status and
resolution, history, save, lease released, message redrawn) and notes the outcome in the
message's thread — in that order.
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
    Resolution,
    StepState,
)
from bot.remedies.dismiss import delete, dismiss
from bot.remedies.journal import RemedyRun, start_journal
from bot.remedies.outcome import (
    RemedyDone,
    RemedyFailed,
    RemedyOutcome,
    RemedyRefused,
    RemedyResult,
)
from bot.remedies.recheck import recheck
from bot.remedies.recreate import recreate
from bot.remedies.reporting import count_remedy, note_in_thread
from bot.remedies.texts import already_resolved_text, failure_text, plain_detail, stale_text
from bot.remedies.unapply import unapply
from bot.runtime.services import Services
from bot.slack.blocks.card import REMEDY_LABELS, audit_line
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
    ``expected_digest`` is the digest of the plan the button showed (``RemedyPlan.digest``):
    at click time the facts are read again and the remedy planned again; a plan that changed
    is not written (``RemedyResult.CHANGED``).
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
    lease = store.lease(f"payment:{payment_id}", user_id,
                        ttl=services.remedy_timings.lease_ttl)
    if not await lease.acquire():
        holder = await store.lease_holder(f"payment:{payment_id}")
        count_remedy(services, kind, RemedyResult.BUSY)
        who = f"<@{holder}>" if holder else "someone else"
        return RemedyOutcome(kind, payment_id, RemedyResult.BUSY,
                             f"This payment is already being handled by {who}; nothing was "
                             "done twice. The message updates when they finish.",
                             record=rec, holder=holder)
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
            return await recheck(services, rec, user_id)
        if rec.remedy is not None and rec.remedy.finished_at is None:
            release = False  # released below only once the journal is finished
            outcome = await execute(RemedyRun(services, rec, lease, rec.remedy.user,
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
        start_journal(services, rec, kind, user_id, params or {})
        release = False
        outcome = await execute(RemedyRun(services, rec, lease, user_id, dict(params or {})))
        release = True
        return outcome
    finally:
        if release:
            await lease.release()


async def _already_resolved(
    services: Services, rec: FailureRecord, kind: RemedyKind
) -> RemedyOutcome:
    await lifecycle.redraw(services, rec)
    count_remedy(services, kind, RemedyResult.ALREADY_RESOLVED)
    return RemedyOutcome(kind, rec.payment_id, RemedyResult.ALREADY_RESOLVED,
                         already_resolved_text(rec) + " Nothing more was done.", record=rec)


@dataclass
class _Ending:
    """How one run ended, before it is recorded."""

    result: RemedyResult
    detail: str  # for the audit stream and the thread
    message: str  # for the clicker
    status: FailureStatus = FailureStatus.OPEN
    resolution: Resolution | None = None
    notice: str | None = None  # above the redrawn message


async def execute(run: RemedyRun, *, resumed: bool = False) -> RemedyOutcome:
    """Run (or continue) the journal's remedy and record how it ended. Releases the lease
    once the journal is finished."""
    services, rec = run.services, run.rec
    j = run.journal
    kind = j.kind
    label = REMEDY_LABELS[kind]
    await lifecycle.remedy_started(services, rec, resumed=resumed)
    try:
        done = await asyncio.wait_for(JOURNALED[kind](run),
                                      timeout=services.remedy_timings.remedy_timeout)
    except RemedyRefused as exc:
        detail = str(exc)
        j.outcome, j.error = JournalOutcome.REFUSED, detail
        ending = _Ending(RemedyResult.REFUSED, detail, f"*{label}* was not done: {detail}",
                         notice=f"{label} was not done: {detail}")
    except (RemedyFailed, qbe.QBOError, cbe.CBError, TimeoutError) as exc:
        if not isinstance(exc, _UNKNOWN_OUTCOME):
            for s in j.steps:  # refused for sure: a new attempt redoes them with new ids
                if s.state == StepState.STARTED:
                    s.state = StepState.FAILED
                    s.result["error"] = describe_error(exc)
        detail = failure_text(j, exc)
        log.warning("%s on %s failed: %r", kind.value, rec.payment.reference, exc)
        j.outcome, j.error = JournalOutcome.FAILED, detail
        ending = _Ending(RemedyResult.FAILED, detail, f"*{label}* did not finish: {detail}")
    except Exception as exc:
        log.exception("%s on %s crashed", kind.value, rec.payment.reference)
        j.outcome, j.error = JournalOutcome.FAILED, failure_text(j, exc)
        j.finished_at = services.clock()
        await lifecycle.remedy_finished(services, rec, FailureStatus.OPEN, resumed=resumed,
                                        lease=run.lease)
        count_remedy(services, kind, RemedyResult.FAILED)
        raise
    else:
        j.outcome = JournalOutcome.OK
        ending = _Ending(RemedyResult.OK, done.message, done.message, status=done.status,
                         resolution=done.resolution)
    return await _finish(run, ending, resumed=resumed)


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
                                    resumed=resumed, notice=ending.notice, lease=run.lease)
    if await services.store.once(f"remedy-note:{report}", ttl=ttl):
        await note_in_thread(services, rec, audit_line(j.user, j.kind, audit_result, now,
                                                       plain_detail(note_detail)))
    return RemedyOutcome(j.kind, rec.payment_id, ending.result, ending.message, record=rec)
