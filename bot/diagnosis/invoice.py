"""Per-invoice rules for an invoice QuickBooks can still read (``bot.diagnosis.decide``, rules 2-5).

``invoice_finding`` decides, for one application of a ConnectBooster payment to an invoice QBO
still has: ``voided``; ``none`` (the balance still covers it); ``credit-memo`` or
``paid-manually`` when QBO transactions created after the payment run explain the shortfall
(``credit_memo_finding`` picks the $0 payment the remedy un-applies); ``amount-changed`` when
the invoice was edited after the run and nothing else explains it; ``unknown`` otherwise.
The small helpers over QBO transactions (ordering, amounts linked, CB references, "after the
run") are shared with the other rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.diagnosis.facts import QBOFacts, id_key, time_key
from bot.diagnosis.wording import Evidence, cents, money
from bot.models import Cause, Certainty, EvidenceObject, Finding
from cb.models import Application
from cb.models import Payment as CBPayment
from qb.models import Invoice
from qb.models import Payment as QBPayment


def is_cb_reference(ref: str | None) -> bool:
    """Whether a payment reference is ConnectBooster's (``CB…``)."""
    return (ref or "").strip().upper().startswith("CB")


def after_run(created: datetime | None, txn_date: date | None, paid_at: datetime) -> bool:
    """Whether a QBO transaction came after the payment run. Creation time decides; without it,
    a transaction dated after the run's day counts as after, the same day as after too (the run
    read the balance, so a same-day change without a time is the likelier culprit)."""
    if created is not None:
        return created > paid_at
    if txn_date is not None:
        return txn_date >= paid_at.date()
    return True


def amount_on(p: QBPayment, txn_type: str, txn_id: str) -> Decimal:
    """What a payment's lines apply to one transaction."""
    total = Decimal(0)
    for line in p.line:
        if any(lt.txn_type == txn_type and lt.txn_id == txn_id for lt in line.linked_txn):
            total += line.amount
    return total


def credit_memo_ids(p: QBPayment) -> list[str]:
    """The credit memos a payment's lines link, in order, each once."""
    return list(dict.fromkeys(p.linked_ids("CreditMemo")))


def is_credit_memo_payment(p: QBPayment) -> bool:
    """Whether a payment applies a credit memo (QBO's $0 payment)."""
    return bool(credit_memo_ids(p))


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
    customer_id = payment.customer.qb_customer_id

    if inv.is_voided:
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
                f"Invoice {number} was voided in QuickBooks, so the {money(applied)} applied to it "
                "cannot be recorded there."
            ),
            evidence=[ev.invoice(inv, "Voided: total and balance are zero.")],
            replacement_candidates=[i.id for i in open_invoices if i.id],
        )

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

    shortfall = applied - balance
    linked = [
        p
        for p in facts.payments_linking(inv.id or app.qb_invoice_id)
        if p.payment_ref_num != payment.reference
    ]
    after = [p for p in linked if after_run(p.created_at, p.txn_date, payment.paid_at)]
    before = [p for p in linked if p not in after]
    cm_payments = [p for p in after if is_credit_memo_payment(p)]
    manual = [
        p
        for p in after
        if not is_credit_memo_payment(p) and not is_cb_reference(p.payment_ref_num)
    ]
    other_cb = [
        p for p in after if not is_credit_memo_payment(p) and is_cb_reference(p.payment_ref_num)
    ]
    inv_id = inv.id or app.qb_invoice_id
    credited = sum((amount_on(p, "Invoice", inv_id) for p in cm_payments), Decimal(0))
    paid = sum((amount_on(p, "Invoice", inv_id) for p in manual), Decimal(0))

    evidence = [
        ev.invoice(
            inv,
            f"Balance {money(balance)} is {money(shortfall)} short of the "
            f"{money(applied)} applied.",
        )
    ]
    for p in cm_payments:
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
    for p in manual:
        evidence.append(
            ev.payment(
                p,
                f"Payment recorded in QuickBooks after the payment run: "
                f"{money(amount_on(p, 'Invoice', inv_id))} to invoice {number}.",
            )
        )
    for p in other_cb:
        evidence.append(
            ev.payment(p, f"Another ConnectBooster payment ({p.payment_ref_num}) on this invoice.")
        )
    for p in before:
        evidence.append(
            ev.payment(p, "Recorded before the payment run: the run already saw it; not the cause.")
        )

    cm_fixes = credited > 0 and balance + credited >= applied
    manual_fixes = paid > 0 and balance + paid >= applied
    if cm_fixes or (not manual_fixes and credited > 0 and credited > paid):
        return credit_memo_finding(
            base,
            number,
            applied,
            balance,
            cm_payments,
            inv_id,
            facts,
            evidence,
            certain=cm_fixes,
            paid=paid,
        )
    if manual_fixes or paid > 0:
        note = ""
        if cents(paid) < applied:
            note = (
                f" The payments recorded there total {money(paid)}, less than the "
                f"{money(applied)} ConnectBooster applied: check the {money(applied - paid)} "
                "difference before dismissing."
            )
        if credited > 0:
            note += f" A credit memo also took {money(credited)} off it."
        refs = ", ".join(p.payment_ref_num or f"id {p.id}" for p in manual)
        return Finding(
            **base.fields(),
            cause=Cause.PAID_MANUALLY,
            certainty=Certainty.CERTAIN if manual_fixes else Certainty.LIKELY,
            summary=(
                f"Invoice {number} was already paid in QuickBooks after the payment run "
                f"(payment {refs}, {money(paid)}), leaving {money(balance)} open where "
                f"{money(applied)} was applied.{note}"
            ),
            evidence=evidence,
        )

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
        when = f" on {updated.date().isoformat()}" if updated else ""
        return Finding(
            **base.fields(),
            cause=Cause.AMOUNT_CHANGED,
            certainty=Certainty.CERTAIN if updated is not None else Certainty.LIKELY,
            summary=(
                f"Invoice {number} was changed in QuickBooks after the payment run{when}: its "
                f"balance is now {money(balance)} (total {money(inv.total_amt)}), "
                f"{money(shortfall)} less than the {money(applied)} applied, and no payment "
                "or credit explains it."
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
    "after_run",
    "amount_on",
    "credit_memo_finding",
    "credit_memo_ids",
    "invoice_finding",
    "is_cb_reference",
    "is_credit_memo_payment",
]
