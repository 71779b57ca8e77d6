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
from bot.formats import cents, iso_date, money
from bot.models import Books, Cause, Diagnosis, EvidenceObject, Finding, InvoiceNeed
from cb.models import Application
from cb.models import Payment as CBPayment
from qb.models import CreditMemo, Invoice
from qb.models import Payment as QBPayment


class Evidence:
    """Builds evidence objects with links, each object once."""

    def __init__(self, facts: QBOFacts, currency: str = "USD") -> None:
        self.facts = facts
        self.currency = currency

    def money(self, amount: Decimal) -> str:
        """An amount in the payment's currency (``bot.formats.money``)."""
        return money(amount, self.currency)

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


def _need_words(f: Finding, amount: Decimal, need: InvoiceNeed | None, cur: str) -> str:
    """Where ``amount`` of one application goes when the payment is recorded."""
    if f.cause is Cause.RECREATED:
        if need is not None and need.target_invoice_id is None:
            candidates = " or ".join(f.replacement_candidates) or "none"
            return (
                f"{money(amount, cur)} on an invoice you pick or as the customer's credit "
                f"(instead of {f.invoice_number}; new invoices with its number: {candidates})"
            )
        target = f.replacement_invoice_id or " or ".join(f.replacement_candidates) or "?"
        return f"{money(amount, cur)} on the new invoice (id {target}) for {f.invoice_number}"
    if f.cause in (Cause.DELETED, Cause.VOIDED):
        return (
            f"{money(amount, cur)} as the customer's credit or on an invoice you pick "
            f"(instead of {f.invoice_number})"
        )
    if f.cause is Cause.AMOUNT_CHANGED:
        if need is not None:
            balance = need.room
        else:
            balance = next(
                (e.balance for e in f.evidence if e.type == "Invoice" and e.balance is not None),
                Decimal(0),
            )
        covered = min(max(balance, Decimal(0)), amount)
        return (
            f"{money(covered, cur)} on invoice {f.invoice_number} (its new balance) and "
            f"{money(amount - covered, cur)} as the customer's credit or on an invoice you pick"
        )
    if f.cause is Cause.PAID_MANUALLY:
        if need is None:
            return f"nothing for invoice {f.invoice_number} (already paid in QuickBooks)"
        if need.target_invoice_id is None:
            return (
                f"{money(amount, cur)} not yet recorded for invoice {f.invoice_number}, on an "
                "invoice you pick or as the customer's credit (it has no balance left)"
            )
        return (
            f"{money(amount, cur)} on invoice {f.invoice_number} (the part its payments in "
            "QuickBooks do not cover)"
        )
    if f.cause is Cause.CREDIT_MEMO:
        return (
            f"{money(amount, cur)} on invoice {f.invoice_number} once its credit memo is "
            "un-applied, or as credit"
        )
    return f"{money(amount, cur)} on invoice {f.invoice_number}"


def recreate_step(payment: CBPayment, findings: list[Finding], books: Books | None = None) -> str:
    """The next step when the payment has to be recorded in QuickBooks: what goes on which
    invoice — with ``books``, only what QuickBooks does not record yet (A − R) — and that
    syncing is dismissed in ConnectBooster so it is not sent again."""
    cur = payment.currency
    needs: list[InvoiceNeed | None] = (
        list(books.needs)
        if books is not None and len(books.needs) == len(findings)
        else [None] * len(findings)
    )
    parts: list[str] = []
    for f, need in zip(findings, needs, strict=True):
        amount = need.need if need is not None else f.applied
        if need is not None and cents(amount) <= 0:
            parts.append(f"nothing for invoice {f.invoice_number} (already recorded in QuickBooks)")
        else:
            parts.append(_need_words(f, amount, need, cur))
    if books is None:
        return (
            f"Recreate the received payment {payment.reference} in QuickBooks by hand — "
            + "; ".join(parts)
            + " — then Dismiss Syncing in ConnectBooster so it is not sent again."
        )
    rest = books.unrecorded_overpayment
    if cents(rest) > 0:
        parts.append(f"{money(rest, cur)} as the client's credit (the part no invoice takes)")
    return (
        f"Record the {money(books.unrecorded, cur)} of {payment.reference} that QuickBooks does "
        "not have with Recreate payment in QuickBooks — "
        + "; ".join(parts)
        + " — which first dismisses syncing in ConnectBooster, so it is not sent again."
    )


_GATEWAY_WORDS = (
    ("QuickBooks rejected ", "No ConnectBooster receipt reached QuickBooks for "),
    ("QuickBooks answered gateway: ", "The gateway shows "),
    (
        " — which first dismisses syncing in ConnectBooster, so it is not sent again.",
        "; dismiss its syncing in the ConnectBooster portal too, so it is not sent again.",
    ),
    (
        ", which first dismisses syncing in ConnectBooster.",
        "; dismiss its syncing in the ConnectBooster portal too.",
    ),
)


def gateway_wording(d: Diagnosis) -> Diagnosis:
    """A diagnosis of a failure found at the gateway (``gw-…``), in words that fit it: no
    sync attempt was rejected (the receipt never came), and only a person in the portal can
    dismiss its syncing."""

    def fix(text: str) -> str:
        for old, new in _GATEWAY_WORDS:
            text = text.replace(old, new)
        return text

    return d.model_copy(update={"summary": fix(d.summary), "next_step": fix(d.next_step)})


__all__ = [
    "Evidence",
    "gateway_wording",
    "lower_first",
    "recreate_step",
]
