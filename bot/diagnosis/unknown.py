"""The diagnosis when no invoice explains the failure: an inactive customer, or cause unknown.

``inactive_diagnosis``: the customer is inactive in QuickBooks (``Active`` false), which takes
no payment for an inactive customer → cause ``inactive-customer``, certain when QuickBooks'
fault from the sync attempt says something was made inactive, likely otherwise. The remedy
reactivates the customer (a sparse update) and re-checks; ConnectBooster's next sync then
records the payment.

``unknown_diagnosis`` shows QuickBooks' fault code and text from the sync attempt and follows
ConnectBooster's advice: an isolated failure (failure rate under the threshold, 10% by default)
is recorded by hand (Recreate payment in QuickBooks, which dismisses syncing first); at or over
the threshold a setting needs attention, so Recheck comes first. Dismiss Syncing is offered
only when QuickBooks records the whole payment already (``bot.diagnosis.advice``).

An invoice that is fine is marked with the payment's cause (for ``unknown``, when every invoice
is fine): none of them explains the failure.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.diagnosis.advice import books_sentence, money_remedies
from bot.diagnosis.wording import Evidence
from bot.formats import money
from bot.models import Books, Cause, Certainty, Diagnosis, Finding, RemedyKind
from cb.models import Payment as CBPayment


def _fault(common: dict[str, Any]) -> str:
    code = common["sync_error_code"]
    text = (common["sync_error_message"] or "no message").rstrip(". ")
    return f"QuickBooks answered {code or 'with no code'}: {text}."


def fault_says_inactive(common: dict[str, Any]) -> bool:
    """Whether QuickBooks' fault from the sync attempt says something was made inactive."""
    return "inactive" in (common["sync_error_message"] or "").lower()


def _mark_fine(
    findings: list[Finding], cause: Cause, certainty: Certainty, why: str, cur: str
) -> list[Finding]:
    """Fine invoices (``none``) marked ``cause``: none of them explains the failure."""
    return [
        f.model_copy(
            update={
                "cause": cause,
                "certainty": certainty,
                "summary": (
                    f"Invoice {f.invoice_number} still has the {money(f.applied, cur)} applied "
                    f"open, so it does not explain the failure{why}."
                ),
            }
        )
        if f.cause is Cause.NONE
        else f
        for f in findings
    ]


def inactive_diagnosis(
    payment: CBPayment,
    findings: list[Finding],
    common: dict[str, Any],
    customer_id: str,
    ev: Evidence,
    tail: str,
) -> Diagnosis:
    """``inactive-customer`` (see the module docstring); ``common`` holds the fields every
    diagnosis of this payment shares (the books among them)."""
    name = payment.customer.name
    certainty = Certainty.CERTAIN if fault_says_inactive(common) else Certainty.LIKELY
    books: Books = common["books"]
    for f in findings:
        f.evidence.append(ev.customer(customer_id, name, "Inactive in QuickBooks."))
    marked = _mark_fine(
        findings,
        Cause.INACTIVE_CUSTOMER,
        certainty,
        "; the customer is inactive",
        payment.currency,
    )
    summary = (
        f"QuickBooks rejected {payment.reference} ({money(payment.amount, payment.currency)} "
        f"from {name}) because the customer {name} is inactive in QuickBooks, which takes no "
        f"payment for an inactive customer. {_fault(common)}{books_sentence(books)}{tail}"
    )
    next_step = (
        f"Make the customer {name} active again in QuickBooks (Reactivate customer does it), "
        "then Re-check: ConnectBooster's next sync records the payment."
    )
    remedies = [RemedyKind.REACTIVATE_CUSTOMER, RemedyKind.RECHECK]
    decided = money_remedies(books)
    if decided is not None:
        remedies, next_step = decided
    return Diagnosis(
        **common,
        cause=Cause.INACTIVE_CUSTOMER,
        certainty=certainty,
        findings=marked,
        remedies=remedies,
        summary=summary,
        next_step=next_step,
    )


def unknown_diagnosis(
    payment: CBPayment,
    findings: list[Finding],
    common: dict[str, Any],
    failure_rate: Decimal | None,
    threshold: Decimal,
    tail: str,
) -> Diagnosis:
    """The payment's diagnosis when no invoice explains the failure and the customer is
    active (see the module docstring); ``common`` holds the fields every diagnosis of this
    payment shares (the books among them)."""
    books: Books = common["books"]
    widespread = failure_rate is not None and failure_rate >= threshold
    if widespread:
        rate = f"{(failure_rate or Decimal(0)) * 100:.1f}%"
        remedies = [RemedyKind.RECHECK, RemedyKind.RECREATE_PAYMENT]
        next_step = (
            f"{rate} of payments are failing to sync (threshold {threshold * 100:.0f}%): see the "
            "failure-rate alert — a setting needs attention. Fix it, then Recheck before "
            "recreating payments by hand."
        )
    else:
        remedies = [RemedyKind.RECREATE_PAYMENT, RemedyKind.RECHECK]
        next_step = (
            "This failure looks isolated: record the payment in QuickBooks with Recreate "
            "payment in QuickBooks, which first dismisses syncing in ConnectBooster."
        )
    decided = money_remedies(books)
    if decided is not None:
        remedies, next_step = decided
    summary = (
        f"QuickBooks rejected {payment.reference} ({money(payment.amount, payment.currency)} "
        f"from {payment.customer.name}) and its invoices do not explain why. "
        f"{_fault(common)}{books_sentence(books)}{tail}"
    )
    return Diagnosis(
        **common,
        cause=Cause.UNKNOWN,
        certainty=Certainty.LIKELY,
        findings=(
            _mark_fine(findings, Cause.UNKNOWN, Certainty.LIKELY, "", payment.currency)
            if all(f.cause is Cause.NONE for f in findings)
            else findings
        ),
        remedies=remedies,
        summary=summary,
        next_step=next_step,
    )


__all__ = ["fault_says_inactive", "inactive_diagnosis", "unknown_diagnosis"]
