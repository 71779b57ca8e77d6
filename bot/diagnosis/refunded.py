"""A payment refunded, voided or returned at the gateway while its receipt still stands in
QuickBooks (found by the gateway reconciliation, ``bot.reconcile``): the cause the contract
could not show. ConnectBooster's own help says someone must then zero out or delete the
receipt by hand; until then QuickBooks records money the client got back.

The payment ``diagnose`` receives carries the receipt's reference, the amount the client
kept (A: the sale less what went back, so $0 after a full refund or a void) and the
receipt's invoices; ``sync.error.code`` is :data:`REFUND_CODE` and its message the gateway's
evidence line. R (``bot.diagnosis.books``) is what the receipt records.

- A = 0 (all of it went back) and one receipt stands: ``refunded``, certain → Delete receipt
  in QuickBooks (planned, confirmed, re-checked at click time), Re-check.
- part went back: ``refunded``, likely → the receipt must be reduced by R − A by hand;
  Re-check.
"""

from __future__ import annotations

from typing import Any

from bot.diagnosis.books import own_payments
from bot.diagnosis.facts import QBOFacts
from bot.diagnosis.wording import Evidence
from bot.formats import cents, money
from bot.models import Books, Cause, Certainty, Diagnosis, Finding, RemedyKind
from cb.models import Payment as CBPayment

REFUND_CODE = "gateway-refund"
"""``sync.error.code`` of a payment refunded at the gateway with its receipt standing."""


def is_refund(payment: CBPayment) -> bool:
    error = payment.sync.error
    return error is not None and error.code == REFUND_CODE


def refunded_diagnosis(
    payment: CBPayment, facts: QBOFacts, books: Books, common: dict[str, Any]
) -> Diagnosis:
    """``refunded`` (see the module docstring)."""
    ev = Evidence(facts, payment.currency)
    cur = payment.currency
    standing = [p for p in own_payments(payment, facts) if p.total_amt > 0]
    recorded = cents(books.recorded_total)
    kept = cents(payment.amount)
    full = kept == 0 and len(standing) == 1
    receipt = standing[0] if standing else None
    ref = payment.reference
    evidence = [ev.payment(receipt, "Still in QuickBooks after the refund.")] if receipt else []
    findings = [
        Finding(
            invoice_id=app.qb_invoice_id,
            invoice_number=app.invoice_number,
            applied=app.amount,
            cause=Cause.REFUNDED,
            certainty=Certainty.CERTAIN if full else Certainty.LIKELY,
            summary=(
                f"{ref} still applies {money(app.amount, cur)} to invoice "
                f"{app.invoice_number}, money the gateway gave back."
            ),
            evidence=evidence,
        )
        for app in payment.applications
    ]
    back = recorded - kept
    summary = (
        f"{money(back, cur)} of {ref} went back to {payment.customer.name} at the gateway, "
        f"but QuickBooks still records {money(recorded, cur)} received "
        f"({common.get('sync_error_message') or 'the gateway shows the refund'})."
    )
    if full:
        next_step = (
            f"Delete {ref} in QuickBooks (Delete receipt in QuickBooks does it), as "
            "ConnectBooster's help says to after a refund; the invoices it paid open again."
        )
        remedies = [RemedyKind.DELETE_RECEIPT, RemedyKind.RECHECK]
    else:
        next_step = (
            f"Reduce {ref} in QuickBooks by {money(back, cur)} by hand (only part went back, "
            "so which invoice reopens is a person's call), then Re-check."
        )
        remedies = [RemedyKind.RECHECK]
    return Diagnosis(
        **common,
        cause=Cause.REFUNDED,
        certainty=Certainty.CERTAIN if full else Certainty.LIKELY,
        findings=findings,
        remedies=remedies,
        summary=summary,
        next_step=next_step,
        existing_qbo_payment_id=receipt.id if receipt else None,
    )
