"""Re-check: look at the payment again now, in ConnectBooster and QuickBooks.

Runs without the remedy journal (it writes to neither service): it refreshes the record's
payment, status, resolution and diagnosis, redraws the message and adds an audit line.
"""

from __future__ import annotations

from bot.models import AuditEntry, FailureRecord, FailureStatus, RemedyKind, Resolution
from bot.remedies.outcome import RemedyOutcome, RemedyResult
from bot.remedies.reporting import _count, _note, _redraw
from bot.remedies.texts import describe_error
from bot.runtime.services import Services
from bot.slack.blocks.card import audit_line
from cb import errors as cbe
from cb.models import SyncStatus
from qb import errors as qbe


async def _recheck(services: Services, rec: FailureRecord, user: str) -> RemedyOutcome:
    kind = RemedyKind.RECHECK
    now = services.clock()
    before = rec.status
    try:
        payment = await services.cb.get_payment(rec.payment_id)
    except cbe.NotFound:
        rec.status = FailureStatus.RESOLVED
        rec.resolution = Resolution(how="deleted", by=None, at=now,
                                    detail="Deleted from ConnectBooster's history")
        message = "ConnectBooster no longer has this payment (deleted from its history)."
    except cbe.CBError as exc:
        return await _check_failed(services, rec, user, exc)
    else:
        rec.payment = payment
        if payment.sync.status == SyncStatus.SYNCED:
            rec.status = FailureStatus.RESOLVED
            qb_id = payment.sync.qb_payment_id
            rec.resolution = Resolution(how="synced", by=None, at=now,
                                        detail=f"QuickBooks payment {qb_id}" if qb_id else None)
            message = "ConnectBooster has synced it to QuickBooks: resolved."
        elif payment.sync.status == SyncStatus.DISMISSED:
            rec.status = FailureStatus.RESOLVED
            rec.resolution = Resolution(how="dismissed", by=None, at=now)
            message = "Syncing was dismissed in ConnectBooster: resolved."
        else:
            from bot.diagnosis.fetch import diagnose_many

            try:
                diagnoses = await diagnose_many(services.qbo, [payment])
            except qbe.QBOError as exc:
                return await _check_failed(services, rec, user, exc)
            rec.diagnosis = diagnoses.get(payment.id, rec.diagnosis)
            if payment.sync.status == SyncStatus.FAILED:
                rec.status = FailureStatus.OPEN
            elif payment.sync.status == SyncStatus.PENDING and before == FailureStatus.OPEN:
                rec.status = FailureStatus.WAITING_SYNC
            cause = rec.diagnosis.cause.label if rec.diagnosis else "unknown"
            message = f"Re-checked just now: {cause}."
    rec.note("Re-check", who=user)
    rec.updated_at = now
    await services.store.put_failure(rec)
    await _redraw(services, rec)
    if rec.status != before:
        await _note(services, rec, audit_line(user, kind, "ok", now, message))
    await services.store.audit(AuditEntry(
        at=now, user=user, action=kind.value, payment_id=rec.payment_id,
        reference=rec.payment.reference, result="ok", detail=message))
    _count(services, kind, RemedyResult.OK)
    return RemedyOutcome(kind, rec.payment_id, RemedyResult.OK, message, record=rec)


async def _check_failed(
    services: Services, rec: FailureRecord, user: str, exc: Exception
) -> RemedyOutcome:
    kind = RemedyKind.RECHECK
    reason = describe_error(exc)
    await _redraw(services, rec, notice=f"Re-check did not finish: {reason}.")
    await services.store.audit(AuditEntry(
        user=user, action=kind.value, payment_id=rec.payment_id,
        reference=rec.payment.reference, result="failed", detail=reason))
    _count(services, kind, RemedyResult.FAILED)
    return RemedyOutcome(kind, rec.payment_id, RemedyResult.FAILED,
                         f"*Re-check* did not finish: {reason}. Nothing was changed.", record=rec)
