"""``run_remedy`` — one click, start to finish — and ``_execute``, which runs (or continues)
a journaled remedy and records how it ended.

``run_remedy`` answers at once when the payment is unknown, resolved, leased by someone else
or the button is out of date; otherwise it takes the payment's lease, opens a journal and
hands over to ``_execute``. ``_execute`` runs the remedy's steps under ``REMEDY_TIMEOUT``,
then finishes the journal, sets the record's status and resolution, reports (audit stream
and metric once per attempt), saves, releases the lease, redraws the message and notes the
outcome in its thread — in that order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot import remedies  # the timings are read from the package when used (tests tune them)
from bot.models import AuditEntry, FailureRecord, FailureStatus, RemedyKind, Resolution
from bot.remedies.dismiss import _delete, _dismiss
from bot.remedies.journal import _Ctx, _start_journal
from bot.remedies.outcome import RemedyFailed, RemedyOutcome, RemedyRefused, RemedyResult, _Done
from bot.remedies.recheck import _recheck
from bot.remedies.recreate import _recreate
from bot.remedies.reporting import _count, _note, _redraw
from bot.remedies.texts import (
    _failure_text,
    _plain,
    _stale_text,
    already_resolved_text,
    describe_error,
)
from bot.remedies.unapply import _unapply
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

_IMPLS: dict[RemedyKind, Callable[[_Ctx], Awaitable[_Done]]] = {
    RemedyKind.DISMISS_SYNC: _dismiss,
    RemedyKind.DELETE_HISTORY: _delete,
    RemedyKind.UNAPPLY_CREDIT_MEMO: _unapply,
    RemedyKind.RECREATE_PAYMENT: _recreate,
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
) -> RemedyOutcome:
    """Run remedy ``kind`` on failure ``payment_id`` for Slack user ``user_id``.

    ``params`` carries the remedy's choices (``{"target": invoice id or KEEP_AS_CREDIT}`` for
    Recreate). ``expected_attempt`` is the attempt number the clicked button was drawn for;
    when another remedy ran since, nothing is done and the outcome says what happened.
    Never raises for a QuickBooks or ConnectBooster failure: the outcome (and the message
    in Slack) says what was done and what to do next. ``StoreUnavailable`` propagates.
    """
    store = services.store
    rec = await store.get_failure(payment_id)
    if rec is None:
        _count(services, kind, RemedyResult.NOT_FOUND)
        return RemedyOutcome(kind, payment_id, RemedyResult.NOT_FOUND,
                             "I have no record of that payment; the button is out of date.")
    if rec.status == FailureStatus.RESOLVED:
        return await _already_resolved(services, rec, kind)
    lease = store.lease(f"payment:{payment_id}", user_id, ttl=remedies.LEASE_TTL)
    if not await lease.acquire():
        holder = await store.lease_holder(f"payment:{payment_id}")
        _count(services, kind, RemedyResult.BUSY)
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
            return await _recheck(services, rec, user_id)
        if rec.remedy is not None and rec.remedy.finished_at is None:
            release = False  # released below only once the journal is finished
            outcome = await _execute(_Ctx(services, rec, lease, rec.remedy.user,
                                          dict(rec.remedy.params)))
            release = True
            label = REMEDY_LABELS[outcome.kind]
            outcome.message = (f"An earlier *{label}* on this payment was cut short; I finished "
                               f"it instead of starting another. {outcome.message}")
            return outcome
        if expected_attempt is not None and expected_attempt != rec.remedy_attempts:
            await _redraw(services, rec)
            _count(services, kind, RemedyResult.STALE)
            return RemedyOutcome(kind, payment_id, RemedyResult.STALE,
                                 _stale_text(rec), record=rec)
        _start_journal(services, rec, kind, user_id, params or {})
        release = False
        outcome = await _execute(_Ctx(services, rec, lease, user_id, dict(params or {})))
        release = True
        return outcome
    finally:
        if release:
            await lease.release()


async def _already_resolved(
    services: Services, rec: FailureRecord, kind: RemedyKind
) -> RemedyOutcome:
    await _redraw(services, rec)
    _count(services, kind, RemedyResult.ALREADY_RESOLVED)
    return RemedyOutcome(kind, rec.payment_id, RemedyResult.ALREADY_RESOLVED,
                         already_resolved_text(rec) + " Nothing more was done.", record=rec)


async def _execute(ctx: _Ctx, *, resumed: bool = False) -> RemedyOutcome:
    """Run (or continue) the journal's remedy and record how it ended. Releases the lease
    once the journal is finished."""
    services, rec = ctx.services, ctx.rec
    j = ctx.journal
    kind = j.kind
    rec.status = FailureStatus.IN_PROGRESS
    await ctx.save()
    await _redraw(services, rec)
    notice: str | None = None
    resolution: Resolution | None = None
    try:
        done = await asyncio.wait_for(_IMPLS[kind](ctx), timeout=remedies.REMEDY_TIMEOUT)
    except RemedyRefused as exc:
        result, detail = RemedyResult.REFUSED, str(exc)
        j.outcome, j.error = "refused", detail
        rec.status = FailureStatus.OPEN
        notice = f"{REMEDY_LABELS[kind]} was not done: {detail}"
        message = f"*{REMEDY_LABELS[kind]}* was not done: {detail}"
    except (RemedyFailed, qbe.QBOError, cbe.CBError, TimeoutError) as exc:
        result = RemedyResult.FAILED
        if not isinstance(exc, _UNKNOWN_OUTCOME):
            for s in j.steps:  # refused for sure: a new attempt redoes them with new ids
                if s.state == "started":
                    s.state = "failed"
                    s.result["error"] = describe_error(exc)
        detail = _failure_text(j, exc)
        log.warning("%s on %s failed: %r", kind.value, rec.payment.reference, exc)
        j.outcome, j.error = "failed", detail
        rec.status = FailureStatus.OPEN
        message = f"*{REMEDY_LABELS[kind]}* did not finish: {detail}"
    except Exception as exc:
        log.exception("%s on %s crashed", kind.value, rec.payment.reference)
        j.outcome, j.error = "failed", _failure_text(j, exc)
        j.finished_at = services.clock()
        rec.status = FailureStatus.OPEN
        await ctx.save()
        await ctx.lease.release()
        await _redraw(services, rec)
        _count(services, kind, RemedyResult.FAILED)
        raise
    else:
        result = RemedyResult.OK
        detail = done.message
        j.outcome = "ok"
        rec.status = done.status
        resolution = done.resolution
        message = done.message
    now = services.clock()
    j.finished_at = now
    if resolution is not None:
        rec.resolution = resolution
    rec.note(f"{REMEDY_LABELS[kind]}: {result.value}" + (" (after a restart)" if resumed else ""),
             who=j.user)
    audit_result = {"ok": "ok", "failed": "failed"}.get(result.value, "refused")
    note_detail = detail + (" (finished after a restart)" if resumed else "")
    # Reported once per attempt even if a crash lands between the report and the save
    # below (the resumed run finds the marker): audit and metric before the save, so a
    # crash after the save cannot lose them.
    report = f"{rec.payment_id}:{j.attempt}"
    if await services.store.once(f"remedy-audit:{report}", ttl=remedies.REPORT_MARKER_TTL):
        await services.store.audit(AuditEntry(
            at=now, user=j.user, action=kind.value, payment_id=rec.payment_id,
            reference=rec.payment.reference, result=audit_result, detail=note_detail[:1000],
        ))
        _count(services, kind, result)
    await ctx.save()
    await ctx.lease.release()
    await _redraw(services, rec, notice=notice)
    if await services.store.once(f"remedy-note:{report}", ttl=remedies.REPORT_MARKER_TTL):
        await _note(services, rec,
                    audit_line(j.user, kind, audit_result, now, _plain(note_detail)))
    return RemedyOutcome(kind, rec.payment_id, result, message, record=rec)
