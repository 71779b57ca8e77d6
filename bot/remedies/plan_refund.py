"""The plan of Delete receipt in QuickBooks (pure): see ``bot.remedies.refund``."""

from __future__ import annotations

from bot.diagnosis.books import own_payments
from bot.diagnosis.facts import QBOFacts
from bot.diagnosis.refunded import is_refund
from bot.formats import cents
from bot.models import PlannedWrite, RemedyPlan, WriteKind
from bot.remedies.plan_common import Frame

STEP_QBO_DELETE_RECEIPT = "qbo_delete_receipt"


def plan_delete_receipt(f: Frame, facts: QBOFacts) -> RemedyPlan:
    """The plan (see the module docstring)."""
    p = f.payment
    if not is_refund(p):
        return f.refuse("the gateway shows no refund of this payment: press *Re-check*")
    if f.amount != 0:
        return f.refuse(
            f"only part of it went back at the gateway ({f.money(f.recorded - f.amount)}): "
            f"reduce the receipt in QuickBooks by hand so that it records {f.money(f.amount)}"
        )
    standing = [q for q in own_payments(p, facts) if q.total_amt > 0]
    if len(standing) != 1:
        what = "no receipt stands" if not standing else f"{len(standing)} receipts stand"
        return f.refuse(f"{what} in QuickBooks for {p.reference}: press *Re-check*")
    receipt = standing[0]
    if receipt.id is None or receipt.sync_token is None:
        return f.refuse(f"the receipt {p.reference} could not be read: press *Re-check*")
    invoices = ", ".join(a.invoice_number for a in p.applications) or "no invoice"
    write = PlannedWrite(
        step=STEP_QBO_DELETE_RECEIPT,
        kind=WriteKind.QBO_DELETE_PAYMENT,
        target_id=receipt.id,
        body={"Id": receipt.id, "SyncToken": receipt.sync_token},
        reads_as=(
            f"Delete payment {receipt.payment_ref_num or p.reference} in QuickBooks "
            f"(payment {receipt.id}, {f.money(cents(receipt.total_amt))} on {invoices}): "
            "the gateway gave the money back"
        ),
    )
    note = f"The invoices it paid ({invoices}) open again in QuickBooks."
    return f.plan((write,), recorded_after=f.recorded - cents(receipt.total_amt), notes=(note,))
