"""How a diagnosis reads: the evidence shown under a finding and the composed sentences.

``Evidence`` builds the QuickBooks objects listed under a finding, each with a note and a link
into QBO's web app. ``recreate_step`` writes the next step when the payment has to be recorded
in QuickBooks by hand (what goes on which invoice), and ``lower_first`` lets a finding's
sentence continue the payment's summary ("... because invoice 1042 was ..."). Amounts and dates
are written by ``bot.formats`` (``money``: to the cent, half-up, the same ``cents`` the rules
compare with), like every other message.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.diagnosis.facts import QBOFacts
from bot.formats import iso_date, money
from bot.models import Cause, EvidenceObject, Finding
from cb.models import Application
from cb.models import Payment as CBPayment
from qb.models import CreditMemo, Invoice
from qb.models import Payment as QBPayment


class Evidence:
    """Builds evidence objects with links, each object once."""

    def __init__(self, facts: QBOFacts) -> None:
        self.facts = facts

    def _url(self, kind: str, entity_id: str) -> str | None:
        if not entity_id:
            return None
        try:
            return self.facts.web_url(kind, entity_id) or None
        except ValueError:  # no web page for this kind of object
            return None

    def invoice(self, inv: Invoice, note: str) -> EvidenceObject:
        return EvidenceObject(
            type="Invoice",
            id=inv.id or "",
            number=inv.doc_number,
            amount=inv.total_amt,
            balance=inv.balance,
            date=iso_date(inv.txn_date),
            created_at=inv.created_at,
            updated_at=inv.updated_at,
            url=self._url("Invoice", inv.id or ""),
            note=note,
        )

    def deleted_invoice(self, app: Application, deleted_at: datetime | None) -> EvidenceObject:
        when = f" at {deleted_at.isoformat()}" if deleted_at else ""
        return EvidenceObject(
            type="Invoice",
            id=app.qb_invoice_id,
            number=app.invoice_number,
            updated_at=deleted_at,
            deleted=True,
            note=f"Deleted in QuickBooks{when}; it can no longer be read.",
        )

    def payment(self, p: QBPayment, note: str) -> EvidenceObject:
        return EvidenceObject(
            type="Payment",
            id=p.id or "",
            number=p.payment_ref_num,
            amount=p.total_amt,
            balance=p.unapplied_amt,
            date=iso_date(p.txn_date),
            created_at=p.created_at,
            updated_at=p.updated_at,
            url=self._url("Payment", p.id or ""),
            note=note,
        )

    def credit_memo(self, cm: CreditMemo, note: str) -> EvidenceObject:
        return EvidenceObject(
            type="CreditMemo",
            id=cm.id or "",
            number=cm.doc_number,
            amount=cm.total_amt,
            balance=cm.remaining_credit if cm.remaining_credit is not None else cm.balance,
            date=iso_date(cm.txn_date),
            created_at=cm.created_at,
            updated_at=cm.updated_at,
            url=self._url("CreditMemo", cm.id or ""),
            note=note,
        )

    def customer(self, customer_id: str, name: str, note: str) -> EvidenceObject:
        return EvidenceObject(
            type="Customer",
            id=customer_id,
            number=name,
            url=self._url("Customer", customer_id),
            note=note,
        )


def lower_first(s: str) -> str:
    """A finding's sentence, lower-cased where it continues "because ..."."""
    if s.startswith(("Invoice", "After", "The")):
        return s[0].lower() + s[1:]
    return s


def recreate_step(payment: CBPayment, findings: list[Finding]) -> str:
    """The next step when the payment is recorded in QuickBooks by hand: what goes
    on which invoice, then Dismiss Syncing."""
    parts: list[str] = []
    for f in findings:
        if f.cause is Cause.RECREATED:
            target = f.replacement_invoice_id or " or ".join(f.replacement_candidates) or "?"
            parts.append(
                f"{money(f.applied)} on the new invoice (id {target}) for {f.invoice_number}"
            )
        elif f.cause in (Cause.DELETED, Cause.VOIDED):
            parts.append(
                f"{money(f.applied)} as the customer's credit or on an invoice you pick "
                f"(instead of {f.invoice_number})"
            )
        elif f.cause is Cause.AMOUNT_CHANGED:
            balance = next(
                (e.balance for e in f.evidence if e.type == "Invoice" and e.balance is not None),
                Decimal(0),
            )
            covered = min(max(balance, Decimal(0)), f.applied)
            parts.append(
                f"{money(covered)} on invoice {f.invoice_number} (its new balance) and "
                f"{money(f.applied - covered)} as the customer's credit"
            )
        elif f.cause is Cause.PAID_MANUALLY:
            parts.append(f"nothing for invoice {f.invoice_number} (already paid in QuickBooks)")
        elif f.cause is Cause.CREDIT_MEMO:
            parts.append(
                f"{money(f.applied)} on invoice {f.invoice_number} once its credit memo is "
                "un-applied, or as credit"
            )
        else:
            parts.append(f"{money(f.applied)} on invoice {f.invoice_number}")
    return (
        f"Recreate the received payment {payment.reference} in QuickBooks by hand — "
        + "; ".join(parts)
        + " — then Dismiss Syncing in ConnectBooster so it is not sent again."
    )


__all__ = [
    "Evidence",
    "lower_first",
    "recreate_step",
]
