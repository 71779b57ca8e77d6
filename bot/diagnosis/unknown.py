"""The diagnosis when no invoice explains the failure (cause ``unknown``).

``unknown_diagnosis`` shows QuickBooks' fault code and text from the sync attempt, names an
inactive customer when there is one, and follows ConnectBooster's advice: an isolated failure
(failure rate under the threshold, 10% by default) is recreated by hand and dismissed; at or
over the threshold a setting needs attention, so Recheck comes first. When every invoice is
fine, each is marked ``unknown``: none of them explains the failure.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.diagnosis.wording import Evidence
from bot.formats import money
from bot.models import Cause, Certainty, Diagnosis, Finding, RemedyKind
from cb.models import Payment as CBPayment


def unknown_diagnosis(
    payment: CBPayment,
    findings: list[Finding],
    common: dict[str, Any],
    failure_rate: Decimal | None,
    threshold: Decimal,
    inactive: str | None,
    ev: Evidence,
    tail: str,
    *,
    certainty: Certainty,
) -> Diagnosis:
    """The payment's diagnosis when no invoice explains the failure (see the module
    docstring); ``common`` holds the fields every diagnosis of this payment shares."""
    code = common["sync_error_code"]
    message = common["sync_error_message"]
    text = (message or "no message").rstrip(". ")
    fault = f"QuickBooks answered {code or 'with no code'}: {text}."
    why = ""
    if inactive:
        why = f" The customer {payment.customer.name} is inactive in QuickBooks."
        for f in findings:
            f.evidence.append(
                ev.customer(inactive, payment.customer.name, "Inactive in QuickBooks.")
            )
    widespread = failure_rate is not None and failure_rate >= threshold
    if widespread:
        rate = f"{(failure_rate or Decimal(0)) * 100:.1f}%"
        remedies = [RemedyKind.RECHECK, RemedyKind.RECREATE_PAYMENT, RemedyKind.DISMISS_SYNC]
        next_step = (
            f"{rate} of payments are failing to sync (threshold {threshold * 100:.0f}%): see the "
            "failure-rate alert — a setting needs attention. Fix it, then Recheck before "
            "recreating payments by hand."
        )
    else:
        remedies = [RemedyKind.RECREATE_PAYMENT, RemedyKind.DISMISS_SYNC, RemedyKind.RECHECK]
        next_step = (
            "This failure looks isolated: recreate the received payment in QuickBooks by hand, "
            "then Dismiss Syncing in ConnectBooster."
        )
        if inactive:
            next_step = (
                f"Make the customer {payment.customer.name} active again in QuickBooks and "
                "Recheck, or recreate the payment by hand and Dismiss Syncing."
            )
    if all(f.cause is Cause.NONE for f in findings):
        # No invoice explains the failure: each is marked unknown, not "fine".
        findings = [
            f.model_copy(
                update={
                    "cause": Cause.UNKNOWN,
                    "certainty": certainty,
                    "summary": (
                        f"Invoice {f.invoice_number} still has the {money(f.applied)} applied "
                        "open, so it does not explain the failure."
                    ),
                }
            )
            for f in findings
        ]
    summary = (
        f"QuickBooks rejected {payment.reference} ({money(payment.amount)} from "
        f"{payment.customer.name}) and its invoices do not explain why. {fault}{why}{tail}"
    )
    return Diagnosis(
        **common,
        cause=Cause.UNKNOWN,
        certainty=certainty,
        findings=findings,
        remedies=remedies,
        summary=summary,
        next_step=next_step,
    )


__all__ = ["unknown_diagnosis"]
