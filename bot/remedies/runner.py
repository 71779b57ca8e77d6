"""``run_remedy`` — one click, start to finish; ``bot.remedies.execute`` runs (or continues) a
journaled remedy's plan and records how it ended.

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

import logging
from typing import Any

from bot import lifecycle
from bot.models import (
    AuditEntry,
    FailureRecord,
    FailureStatus,
    RemedyKind,
    RemedyPlan,
)
from bot.remedies.execute import execute
from bot.remedies.fresh import Moved, cb_moved, planning
from bot.remedies.journal import RemedyRun, start_journal
from bot.remedies.lease import KeptLease
from bot.remedies.outcome import (
    RemedyOutcome,
    RemedyResult,
)
from bot.remedies.recheck import recheck
from bot.remedies.reporting import count_remedy
from bot.remedies.texts import (
    already_resolved_text,
    lost_lease_text,
    moved_text,
    plain_detail,
    stale_text,
)
from bot.runtime.services import Services
from bot.slack.blocks import changed_plan_text
from bot.slack.blocks.card import REMEDY_LABELS
from bot.store.records import LeaseNotHeld
from cb import errors as cbe
from gateway.errors import GatewayError
from qb import errors as qbe

log = logging.getLogger(__name__)


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
        return _not_found(kind, payment_id, "the button is out of date")
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
            return _not_found(kind, payment_id, "it is gone")
        rec = fresh
        if rec.status == FailureStatus.RESOLVED:
            return await _already_resolved(services, rec, kind)
        if kind == RemedyKind.RECHECK:
            return await recheck(services, rec, user_id, lease=kept.lease)
        if rec.remedy is not None and rec.remedy.finished_at is None:
            release = False  # released below only once the journal is finished
            outcome = await _finish_cut_short(services, rec, kept)
            release = True
            return outcome
        if expected_attempt is not None and expected_attempt != rec.remedy_attempts:
            await lifecycle.redraw(services, rec)
            count_remedy(services, kind, RemedyResult.STALE)
            return RemedyOutcome(kind, payment_id, RemedyResult.STALE, stale_text(rec), record=rec)
        decided = await _decide(
            services, rec, kind, user_id, dict(params or {}), expected_digest, kept
        )
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


def _not_found(kind: RemedyKind, payment_id: str, why: str) -> RemedyOutcome:
    return RemedyOutcome(
        kind, payment_id, RemedyResult.NOT_FOUND, f"I have no record of that payment; {why}."
    )


async def _finish_cut_short(
    services: Services, rec: FailureRecord, kept: KeptLease
) -> RemedyOutcome:
    """A remedy a crash cut short is finished instead of starting another."""
    assert rec.remedy is not None
    outcome = await execute(
        RemedyRun(services, rec, kept, rec.remedy.user, dict(rec.remedy.params))
    )
    label = REMEDY_LABELS[outcome.kind]
    outcome.message = (
        f"An earlier *{label}* on this payment was cut short; I finished "
        f"it instead of starting another. {outcome.message}"
    )
    return outcome


async def _already_resolved(
    services: Services, rec: FailureRecord, kind: RemedyKind
) -> RemedyOutcome:
    await lifecycle.redraw(services, rec)
    count_remedy(services, kind, RemedyResult.ALREADY_RESOLVED)
    return RemedyOutcome(
        kind,
        rec.payment_id,
        RemedyResult.ALREADY_RESOLVED,
        already_resolved_text(rec) + " Nothing more was done.",
        record=rec,
    )


async def _busy(services: Services, rec: FailureRecord, kind: RemedyKind) -> RemedyOutcome:
    holder = await services.store.lease_holder(f"payment:{rec.payment_id}")
    count_remedy(services, kind, RemedyResult.BUSY)
    who = f"<@{holder}>" if holder else "someone else"
    return RemedyOutcome(
        kind,
        rec.payment_id,
        RemedyResult.BUSY,
        f"This payment is already being handled by {who}; nothing was "
        "done twice. The message updates when they finish.",
        record=rec,
        holder=holder,
    )


async def _decide(
    services: Services,
    rec: FailureRecord,
    kind: RemedyKind,
    user: str,
    params: dict[str, Any],
    expected_digest: str | None,
    kept: KeptLease,
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
    except (
        qbe.QBOError,
        cbe.CBError,
        GatewayError,
    ) as exc:  # no plan: the run records why, writes nothing
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
    services: Services,
    rec: FailureRecord,
    kind: RemedyKind,
    user: str,
    message: str,
    result: RemedyResult,
) -> RemedyOutcome:
    """Audit and count a click that wrote nothing; the clicker's answer."""
    await services.store.audit(
        AuditEntry(
            at=services.clock(),
            user=user,
            action=kind.value,
            payment_id=rec.payment_id,
            reference=rec.payment.reference,
            result="refused",
            detail=plain_detail(message)[:1000],
        )
    )
    count_remedy(services, kind, result)
    return RemedyOutcome(kind, rec.payment_id, result, message, record=rec)


async def _moved(
    services: Services,
    rec: FailureRecord,
    kind: RemedyKind,
    user: str,
    moved: Moved,
    kept: KeptLease,
) -> RemedyOutcome:
    """ConnectBooster moved the payment on: nothing written, the record moves with it."""
    resolved = moved.status == FailureStatus.RESOLVED
    message = moved_text(kind, moved.what, resolved)
    await lifecycle.rediagnosed(
        services,
        rec,
        user,
        kind,
        moved.status,
        resolution=moved.resolution,
        lease=kept.lease,
        notice=None if resolved else plain_detail(message),
    )
    return await _nothing_written(services, rec, kind, user, message, RemedyResult.CHANGED)


async def _changed(
    services: Services,
    rec: FailureRecord,
    kind: RemedyKind,
    user: str,
    old: RemedyPlan | None,
    new: RemedyPlan,
    kept: KeptLease,
) -> RemedyOutcome:
    """The plan made now differs from the one the button showed: nothing written, the new
    diagnosis and plans stored and shown."""
    message = changed_plan_text(old, new)
    await lifecycle.rediagnosed(
        services,
        rec,
        user,
        kind,
        rec.status,
        lease=kept.lease,
        notice=f"{REMEDY_LABELS[kind]} wrote nothing: the books changed since this message "
        "was drawn. Below is where things stand now.",
    )
    return await _nothing_written(services, rec, kind, user, message, RemedyResult.CHANGED)
