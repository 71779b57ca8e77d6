"""*Done in the portal*: a person records that they dismissed a gateway failure's syncing in
the ConnectBooster portal (gateway mode: the bot cannot reach or see the portal).

:func:`portal_done` takes the payment's lease, checks the card still offers it (an open
failure whose Dismiss Syncing or Delete only the portal can do), resolves it through
``bot.lifecycle`` with who did it (``Resolution(how=portal, by=user)``; the card says
"Dismissed in the ConnectBooster portal by @dana … the bot cannot see the portal"), and writes
the audit line. The gateway reconciliation keeps watching the sale: should the gateway change
it later (a refund, say), the failure opens again.
"""

from __future__ import annotations

from bot import lifecycle
from bot.models import AuditEntry, FailureStatus, Resolution, ResolutionHow
from bot.remedies.texts import already_resolved_text
from bot.runtime.services import Services
from bot.slack.blocks.portal import CANNOT_SEE, PORTAL_DETAIL, portal_offered

ACTION = "portal_done"


async def portal_done(services: Services, payment_id: str, user: str) -> str | None:
    """Record the portal dismissal of ``payment_id`` by Slack user ``user``; the words for
    the clicker when nothing was recorded (``None``: recorded, the card says so)."""
    s = services
    async with s.store.holding(f"payment:{payment_id}", s.instance, ttl=30) as got:
        if not got:
            return "This payment is being handled right now; nothing was recorded."
        rec = await s.store.get_failure(payment_id)
        if rec is None:
            return "The bot no longer knows this payment; nothing was recorded."
        if rec.status == FailureStatus.RESOLVED:
            return already_resolved_text(rec)
        if not portal_offered(rec):
            return (
                "This payment has nothing left to do in the ConnectBooster portal (its books "
                "changed: the message shows what to do now); nothing was recorded."
            )
        resolution = Resolution(
            how=ResolutionHow.PORTAL, by=user, at=s.clock(), detail=PORTAL_DETAIL
        )
        await lifecycle.resolved_outside(s, rec, resolution)
        await s.store.audit(
            AuditEntry(
                user=user,
                action=ACTION,
                payment_id=payment_id,
                reference=rec.payment.reference,
                result="ok",
                detail=f"dismissed in the portal — {CANNOT_SEE}",
            )
        )
    return None
