"""Recreate payment in QuickBooks, and what its modal needs (``needs_pick``,
``recreate_candidates``).

The plan (``bot.remedies.plan``) dismisses syncing in ConnectBooster *first* (``cb_dismiss``),
then creates the payment in QuickBooks (``qbo_create_payment``) for exactly what QuickBooks
does not record yet (A − R): customer, amount, the payment's local date in the books' time
zone, the reference, the deposit account, the currency, a private note naming the
ConnectBooster payment and the Slack user, applied to the invoices that still need it. A sync
landing before the dismissal stops the run before the create (nothing duplicated); a crash
between the two is continued from the journal. The plan is refused when QuickBooks already
records the payment.
"""

from __future__ import annotations

from decimal import Decimal

from bot.formats import money
from bot.models import (
    Cause,
    FailureRecord,
    FailureStatus,
    RemedyKind,
    Resolution,
    ResolutionHow,
    WriteKind,
)
from bot.remedies.journal import RemedyRun
from bot.remedies.outcome import RemedyDone
from bot.remedies.writes import apply_writes, done_write
from bot.runtime.services import Services
from qb.models import Invoice
from qb.query import join_where, quote

PICK_CAUSES = frozenset({Cause.RECREATED, Cause.DELETED, Cause.VOIDED})


def needs_pick(rec: FailureRecord) -> bool:
    """True when recreating this payment needs the user to pick an invoice: the Recreate plan
    the card offers awaits a pick (part of the money has nowhere to go); for a record without
    plans, a deleted or voided invoice, or a recreated one whose replacement is ambiguous or
    missing."""
    plan = rec.plans.get(RemedyKind.RECREATE_PAYMENT)
    if plan is not None:
        return plan.pick is not None
    d = rec.diagnosis
    if d is None:
        return False
    return any(f.cause in PICK_CAUSES and not f.replacement_invoice_id for f in d.findings)


async def recreate_candidates(services: Services, rec: FailureRecord) -> list[Invoice]:
    """The customer's open invoices in QuickBooks (what the recreate modal offers)."""
    cust = rec.payment.customer.qb_customer_id
    if not cust:
        return []
    where = join_where(f"CustomerRef = {quote(cust)}", "Balance > '0'")
    return await services.qbo.query(Invoice, where)


async def recreate(run: RemedyRun) -> RemedyDone:
    """Recreate payment in QuickBooks (see the module docstring)."""
    stop = await apply_writes(run, run.plan.writes)
    if stop is not None:
        return stop
    now = run.services.clock()
    created = done_write(run, WriteKind.QBO_CREATE_PAYMENT)
    if created is None:  # nothing was left to record: the plan only dismissed syncing
        return RemedyDone(
            FailureStatus.RESOLVED,
            "QuickBooks already records this payment; syncing dismissed in ConnectBooster.",
            Resolution(how=ResolutionHow.DISMISSED, by=run.user, at=now),
        )
    qb_id = created.result.get("qbo_payment_id")
    body = (
        next(
            (w.body for w in run.plan.writes if w.kind == WriteKind.QBO_CREATE_PAYMENT and w.body),
            None,
        )
        or {}
    )
    lines = body.get("Line") or []
    amount = Decimal(str(body.get("TotalAmt", run.plan.amount)))
    where = f"applied to {len(lines)} invoice(s)" if lines else "kept as credit on the customer"
    return RemedyDone(
        FailureStatus.RESOLVED,
        f"Syncing dismissed in ConnectBooster and QuickBooks payment {qb_id} "
        f"created ({money(amount, run.plan.currency)}, {where}).",
        Resolution(
            how=ResolutionHow.RECREATED,
            by=run.user,
            at=now,
            detail=f"QuickBooks payment {qb_id}, {where}",
        ),
    )


__all__ = ["PICK_CAUSES", "needs_pick", "recreate", "recreate_candidates"]
