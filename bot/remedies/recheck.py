"""Re-check: look at the payment again now, in ConnectBooster and QuickBooks.

Runs without the remedy journal (it writes to neither service): it refreshes the record's
payment, its diagnosis and the plans of its remedies (``bot.remedies.fresh.planning``, the
same reading a click makes), and hands where the failure stands now to
``bot.lifecycle.rechecked`` (status and resolution, history, save — while the payment's lease
is held — message redrawn); then adds an audit line.

What ConnectBooster shows decides the status: gone (404) → resolved as deleted; synced or
dismissed → resolved; failing → open; pending → waiting for its sync (from open only);
otherwise unchanged.
"""

from __future__ import annotations

from bot import lifecycle
from bot.errors import describe_error
from bot.models import (
    AuditEntry,
    FailureRecord,
    FailureStatus,
    RemedyKind,
    Resolution,
    ResolutionHow,
)
from bot.reconcile.reread import current_payment
from bot.remedies.fresh import as_planned, planning
from bot.remedies.outcome import RemedyOutcome, RemedyResult
from bot.remedies.reporting import count_remedy, note_in_thread
from bot.runtime.services import Services
from bot.slack.blocks.card import audit_line
from bot.store import Lease
from cb import errors as cbe
from cb.models import SyncStatus
from gateway.errors import GatewayError
from qb import errors as qbe


async def recheck(
    services: Services, rec: FailureRecord, user: str, *, lease: Lease | None = None
) -> RemedyOutcome:
    """Re-check ``rec`` for Slack user ``user`` (under the payment's ``lease``)."""
    kind = RemedyKind.RECHECK
    now = services.clock()
    before = rec.status
    status = before
    resolution: Resolution | None = None
    try:
        payment = await current_payment(services, rec.payment)
    except cbe.NotFound:
        status = FailureStatus.RESOLVED
        resolution = Resolution(
            how=ResolutionHow.DELETED,
            by=None,
            at=now,
            detail="Deleted from ConnectBooster's history",
        )
        message = "ConnectBooster no longer has this payment (deleted from its history)."
    except (cbe.CBError, GatewayError) as exc:
        return await _check_failed(services, rec, user, exc)
    else:
        rec.payment = payment
        seen = as_planned(rec, payment).sync.status  # a dismissal of our own is not the end
        if seen == SyncStatus.SYNCED:
            status = FailureStatus.RESOLVED
            qb_id = payment.sync.qb_payment_id
            resolution = Resolution(
                how=ResolutionHow.SYNCED,
                by=None,
                at=now,
                detail=f"QuickBooks payment {qb_id}" if qb_id else None,
            )
            message = "ConnectBooster has synced it to QuickBooks: resolved."
        elif seen == SyncStatus.DISMISSED:
            status = FailureStatus.RESOLVED
            resolution = Resolution(how=ResolutionHow.DISMISSED, by=None, at=now)
            message = "Syncing was dismissed in ConnectBooster: resolved."
        else:
            try:
                fresh = await planning(services, rec, payment=payment)
            except qbe.QBOError as exc:
                return await _check_failed(services, rec, user, exc)
            rec.diagnosis, rec.plans = fresh.record.diagnosis, fresh.record.plans
            if seen == SyncStatus.FAILED:
                status = FailureStatus.OPEN
            elif seen == SyncStatus.PENDING and before == FailureStatus.OPEN:
                status = FailureStatus.WAITING_SYNC
            cause = rec.diagnosis.cause.label if rec.diagnosis else "unknown"
            message = f"Re-checked just now: {cause}."
    await lifecycle.rechecked(services, rec, user, status, resolution=resolution, lease=lease)
    if rec.status != before:
        await note_in_thread(services, rec, audit_line(user, kind, "ok", now, message))
    await services.store.audit(
        AuditEntry(
            at=now,
            user=user,
            action=kind.value,
            payment_id=rec.payment_id,
            reference=rec.payment.reference,
            result="ok",
            detail=message,
        )
    )
    count_remedy(services, kind, RemedyResult.OK)
    return RemedyOutcome(kind, rec.payment_id, RemedyResult.OK, message, record=rec)


async def _check_failed(
    services: Services, rec: FailureRecord, user: str, exc: Exception
) -> RemedyOutcome:
    kind = RemedyKind.RECHECK
    reason = describe_error(exc)
    await lifecycle.redraw(services, rec, notice=f"Re-check did not finish: {reason}.")
    await services.store.audit(
        AuditEntry(
            user=user,
            action=kind.value,
            payment_id=rec.payment_id,
            reference=rec.payment.reference,
            result="failed",
            detail=reason,
        )
    )
    count_remedy(services, kind, RemedyResult.FAILED)
    return RemedyOutcome(
        kind,
        rec.payment_id,
        RemedyResult.FAILED,
        f"*Re-check* did not finish: {reason}. Nothing was changed.",
        record=rec,
    )
