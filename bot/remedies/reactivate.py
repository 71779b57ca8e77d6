"""Reactivate customer: the customer QuickBooks refuses payments for (made inactive) is made
active again — the plan's sparse update ``{"Id", "SyncToken", "sparse": true, "Active":
true}`` — then the payment is looked at again, as Re-check does: the message shows the new
diagnosis (and, when the plan also asked ConnectBooster to resync, waits for its sync).
"""

from __future__ import annotations

import logging

from bot.models import FailureStatus, WriteKind
from bot.remedies.fresh import planning
from bot.remedies.journal import RemedyRun
from bot.remedies.outcome import RemedyDone
from bot.remedies.writes import apply_writes, done_write
from cb import errors as cbe
from gateway.errors import GatewayError
from qb import errors as qbe

log = logging.getLogger(__name__)


async def reactivate(run: RemedyRun) -> RemedyDone:
    """Reactivate customer (see the module docstring)."""
    stop = await apply_writes(run, run.plan.writes)
    if stop is not None:
        return stop
    name = run.rec.payment.customer.name
    if done_write(run, WriteKind.CB_RESYNC) is not None:
        return RemedyDone(
            FailureStatus.WAITING_SYNC,
            f"Customer {name} reactivated in QuickBooks and the payment queued "
            "for ConnectBooster's next sync; this message turns resolved once "
            "it syncs.",
        )
    try:  # then Re-check: the new diagnosis and plans go on the record
        fresh = await planning(run.services, run.rec, run.user)
    except (qbe.QBOError, cbe.CBError, GatewayError) as exc:
        log.warning("re-check after reactivating %s failed: %r", name, exc)
        cause = "press *Re-check* to see where it stands"
    else:
        run.rec.payment = fresh.record.payment
        run.rec.diagnosis = fresh.record.diagnosis
        run.rec.plans = fresh.record.plans
        cause = f"re-checked: {run.rec.cause.label}"
    return RemedyDone(FailureStatus.OPEN, f"Customer {name} reactivated in QuickBooks; {cause}.")


__all__ = ["reactivate"]
