"""Per-invoice rules for an invoice QuickBooks can still read (``bot.diagnosis.decide``, rules 2-5).

``invoice_finding`` decides, for one application of a ConnectBooster payment to an invoice QBO
still has: ``voided``; ``none`` (the balance still covers it); ``credit-memo`` or
``paid-manually`` when QBO transactions created after the payment run explain the shortfall
(``credit_memo_finding`` picks the $0 payment the remedy un-applies); ``amount-changed`` when
the invoice was edited after the run and nothing else explains it; ``unknown`` otherwise.
Which linked payments came after the run, and what they take off the invoice, is
``bot.diagnosis.linked``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.diagnosis.facts import QBOFacts, id_key, time_key
from bot.diagnosis.linked import LinkedPayments, amount_on, credit_memo_ids
from bot.diagnosis.wording import Evidence
from bot.formats import cents, iso_date, money
from bot.models import Cause, Certainty, EvidenceObject, Finding
from cb.models import Application
from cb.models import Payment as CBPayment
from qb.models import Invoice
from qb.models import Payment as QBPayment


@dataclass(frozen=True)
class FindingBase:
    """The fields every finding on one invoice application shares."""

    invoice_id: str
    invoice_number: str
    applied: Decimal

    def fields(self) -> dict[str, Any]:
        return {
            "invoice_id": self.invoice_id,
            "invoice_number": self.invoice_number,
            "applied": self.applied,
        }


def invoice_finding(
    payment: CBPayment, app: Application, inv: Invoice, facts: QBOFacts, ev: Evidence
) -> Finding:
    """The finding for one application to an invoice QBO still has (see the module
    docstring)."""
    applied = cents(app.amount)
    balance = cents(inv.balance)
    number = inv.doc_number or app.invoice_number
    base = FindingBase(app.qb_invoice_id, number, app.amount)

    if inv.is_voided:
        return _voided_finding(base, inv, applied, payment.customer.qb_customer_id, facts, ev)
    if balance >= applied:
        return Finding(
            **base.fields(),
            cause=Cause.NONE,
            certainty=Certainty.CERTAIN,
            summary=(
                f"Invoice {number} is fine: its balance {money(balance)} still covers the "
                f"{money(applied)} applied."
            ),
            evidence=[ev.invoice(inv, "Balance still covers the application.")],
        )

    inv_id = inv.id or app.qb_invoice_id
    linked = LinkedPayments.of(payment, facts, inv_id)
    evidence = _shortfall_evidence(inv, inv_id, number, applied, balance, linked, facts, ev)
    credited, paid = linked.credited, linked.paid
    cm_fixes = credited > 0 and balance + credited >= applied
    manual_fixes = paid > 0 and balance + paid >= applied
    if cm_fixes or (not manual_fixes and credited > 0 and credited > paid):
        return credit_memo_finding(
            base,
            number,
            applied,
            balance,
            linked.credit_memo,
            inv_id,
            facts,
            evidence,
            certain=cm_fixes,
            paid=paid,
        )
    if manual_fixes or paid > 0:
        return _paid_manually_finding(
            base, applied, balance, linked, evidence, certain=manual_fixes
        )
    return _unexplained_finding(base, inv, payment, applied, balance, linked.other_cb, evidence)


def _voided_finding(
    base: FindingBase,
    inv: Invoice,
    applied: Decimal,
    customer_id: str | None,
    facts: QBOFacts,
    ev: Evidence,
) -> Finding:
    """``voided``; the customer's other open invoices are candidates for the money."""
    open_invoices = [
        i
        for i in (facts.invoices_by_customer.get(customer_id, []) if customer_id else [])
        if i.id and i.id != inv.id and not i.is_voided and i.balance > 0
    ]
    return Finding(
        **base.fields(),
        cause=Cause.VOIDED,
        certainty=Certainty.CERTAIN,
        summary=(
            f"Invoice {base.invoice_number} was voided in QuickBooks, so the {money(applied)} "
            "applied to it cannot be recorded there."
        ),
        evidence=[ev.invoice(inv, "Voided: total and balance are zero.")],
        replacement_candidates=[i.id for i in open_invoices if i.id],
    )


def _shortfall_evidence(
    inv: Invoice,
    inv_id: str,
    number: str,
    applied: Decimal,
    balance: Decimal,
    linked: LinkedPayments,
    facts: QBOFacts,
    ev: Evidence,
) -> list[EvidenceObject]:
    """The invoice short of the application, then every linked payment with what it did."""
    evidence = [
        ev.invoice(
            inv,
            f"Balance {money(balance)} is {money(applied - balance)} short of the "
            f"{money(applied)} applied.",
        )
    ]
    for p in linked.credit_memo:
        evidence.append(
            ev.payment(
                p,
                f"$0 payment applying a credit memo: {money(amount_on(p, 'Invoice', inv_id))} "
                f"to invoice {number}, after the payment run.",
            )
        )
        for cm_id in credit_memo_ids(p):
            cm = facts.credit_memos.get(cm_id)
            if cm is not None:
                evidence.append(ev.credit_memo(cm, "The credit memo applied."))
    for p in linked.manual:
        evidence.append(
            ev.payment(
                p,
                f"Payment recorded in QuickBooks after the payment run: "
                f"{money(amount_on(p, 'Invoice', inv_id))} to invoice {number}.",
            )
        )
    for p in linked.other_cb:
        evidence.append(
            ev.payment(p, f"Another ConnectBooster payment ({p.payment_ref_num}) on this invoice.")
        )
    for p in linked.before:
        evidence.append(
            ev.payment(p, "Recorded before the payment run: the run already saw it; not the cause.")
        )
    return evidence


def _paid_manually_finding(
    base: FindingBase,
    applied: Decimal,
    balance: Decimal,
    linked: LinkedPayments,
    evidence: list[EvidenceObject],
    *,
    certain: bool,
) -> Finding:
    """``paid-manually``: payments recorded in QBO after the run took the balance."""
    paid, credited = linked.paid, linked.credited
    note = ""
    if cents(paid) < applied:
        note = (
            f" The payments recorded there total {money(paid)}, less than the "
            f"{money(applied)} ConnectBooster applied: check the {money(applied - paid)} "
            "difference before dismissing."
        )
    if credited > 0:
        note += f" A credit memo also took {money(credited)} off it."
    refs = ", ".join(p.payment_ref_num or f"id {p.id}" for p in linked.manual)
    return Finding(
        **base.fields(),
        cause=Cause.PAID_MANUALLY,
        certainty=Certainty.CERTAIN if certain else Certainty.LIKELY,
        summary=(
            f"Invoice {base.invoice_number} was already paid in QuickBooks after the payment run "
            f"(payment {refs}, {money(paid)}), leaving {money(balance)} open where "
            f"{money(applied)} was applied.{note}"
        ),
        evidence=evidence,
    )


def _unexplained_finding(
    base: FindingBase,
    inv: Invoice,
    payment: CBPayment,
    applied: Decimal,
    balance: Decimal,
    other_cb: list[QBPayment],
    evidence: list[EvidenceObject],
) -> Finding:
    """No payment or credit explains the shortfall: ``unknown`` when another ConnectBooster
    payment sits on the invoice, ``amount-changed`` when it was edited after the run (or QBO
    gives no time), ``unknown`` when it was last edited before."""
    number = base.invoice_number
    updated = inv.updated_at
    if other_cb:
        refs = ", ".join(p.payment_ref_num or "" for p in other_cb)
        return Finding(
            **base.fields(),
            cause=Cause.UNKNOWN,
            certainty=Certainty.LIKELY,
            summary=(
                f"Invoice {number} has {money(balance)} open where {money(applied)} was applied; "
                f"another ConnectBooster payment ({refs}) was recorded on it."
            ),
            evidence=evidence,
        )
    if updated is None or updated > payment.paid_at:
        when = f" on {iso_date(updated.date())}" if updated else ""
        return Finding(
            **base.fields(),
            cause=Cause.AMOUNT_CHANGED,
            certainty=Certainty.CERTAIN if updated is not None else Certainty.LIKELY,
            summary=(
                f"Invoice {number} was changed in QuickBooks after the payment run{when}: its "
                f"balance is now {money(balance)} (total {money(inv.total_amt)}), "
                f"{money(applied - balance)} less than the {money(applied)} applied, and no "
                "payment or credit explains it."
            ),
            evidence=evidence,
        )
    return Finding(
        **base.fields(),
        cause=Cause.UNKNOWN,
        certainty=Certainty.LIKELY,
        summary=(
            f"Invoice {number} has {money(balance)} open where {money(applied)} was applied, and "
            "nothing recorded after the payment run explains it."
        ),
        evidence=evidence,
    )


def credit_memo_finding(
    base: FindingBase,
    number: str,
    applied: Decimal,
    balance: Decimal,
    cm_payments: list[QBPayment],
    inv_id: str,
    facts: QBOFacts,
    evidence: list[EvidenceObject],
    *,
    certain: bool,
    paid: Decimal,
) -> Finding:
    """A ``credit-memo`` finding: the shortfall is a credit memo applied after the run."""
    # The remedy acts on one $0 payment: the one taking the most off this invoice (newest on ties).
    main = max(
        cm_payments,
        key=lambda p: (amount_on(p, "Invoice", inv_id), time_key(p.created_at), id_key(p.id)),
    )
    cm_ids = credit_memo_ids(main)
    cm_id = cm_ids[0] if cm_ids else None
    cm_amount = amount_on(main, "Invoice", inv_id)
    cm = facts.credit_memos.get(cm_id) if cm_id else None
    cm_name = (
        f"credit memo {cm.doc_number}" if cm is not None and cm.doc_number else "a credit memo"
    )
    credited = sum((amount_on(p, "Invoice", inv_id) for p in cm_payments), Decimal(0))
    extra = ""
    if len(cm_payments) > 1:
        extra = f" ({len(cm_payments)} credit applications take {money(credited)} in all)"
    if paid > 0:
        extra += f"; a payment recorded in QuickBooks also took {money(paid)}"
    return Finding(
        **base.fields(),
        cause=Cause.CREDIT_MEMO,
        certainty=Certainty.CERTAIN if certain else Certainty.LIKELY,
        summary=(
            f"After the payment run, {cm_name} was applied to invoice {number} for "
            f"{money(cm_amount)}{extra}, leaving {money(balance)} open where "
            f"{money(applied)} was applied."
        ),
        evidence=evidence,
        credit_memo_payment_id=main.id,
        credit_memo_id=cm_id,
        credit_memo_amount=cm_amount,
    )


__all__ = [
    "FindingBase",
    "credit_memo_finding",
    "invoice_finding",
]
