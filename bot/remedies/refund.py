"""Delete receipt in QuickBooks: the remedy of a payment refunded, voided or returned at the
gateway while ConnectBooster's receipt still stands (``bot.diagnosis.refunded``).

Plan (pure, ``bot.remedies.plan_refund``): one write, ``qbo_delete_payment`` of the one
receipt that stands, with its ``Id`` and ``SyncToken`` from fresh facts; QuickBooks then
records what the client kept (A = $0). Refused when only part went back (a person reduces the
receipt), when no receipt or several stand, or when the receipt changed since it was read.
Like every write it is confirmed line for line, planned again at click time (a changed
``SyncToken`` or amount is a new plan, not written) and sent with its ``requestid``; a
receipt already gone counts as done.
"""

from __future__ import annotations

from bot.models import FailureStatus, Resolution, ResolutionHow
from bot.remedies.journal import RemedyRun
from bot.remedies.outcome import RemedyDone
from bot.remedies.writes import apply_writes


async def delete_receipt(run: RemedyRun) -> RemedyDone:
    """Run the plan: delete the receipt (a receipt already gone is done)."""
    stop = await apply_writes(run, run.plan.writes)
    if stop is not None:
        return stop
    now = run.services.clock()
    ref = run.rec.payment.reference
    return RemedyDone(
        FailureStatus.RESOLVED,
        f"Receipt {ref} deleted in QuickBooks: it no longer records the refunded money.",
        Resolution(
            how=ResolutionHow.RECEIPT_DELETED,
            by=run.user,
            at=now,
            detail=f"QuickBooks payment {ref} deleted after the refund at the gateway",
        ),
    )
