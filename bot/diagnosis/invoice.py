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
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.diagnosis.facts import QBOFacts
from bot.diagnosis.linked import LinkedPayments, credit_memo_ids
from bot.diagnosis.wording import Evidence
from bot.formats import cents, iso_date, money
from bot.models import Cause, Certainty, EvidenceObject, Finding, InvoiceNeed
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
    currency: str = "USD"

    def money(self, amount: Decimal) -> str:
        """An amount in the payment's currency."""
        return money(amount, self.currency)

    def fields(self) -> dict[str, Any]:
        return {
            "invoice_id": self.invoice_id,
            "invoice_number": self.invoice_number,
            "applied": self.applied,
        }


def invoice_finding(
    payment: CBPayment,
    app: Application,
    inv: Invoice,
    facts: QBOFacts,
    ev: Evidence,
    need: InvoiceNeed | None = None,
) -> Finding:
    """The finding for one application to an invoice QBO still has (see the module
    docstring); ``need`` is what the books say of the application (a paid-manually finding
    is certain only when it is recorded to the cent)."""
    applied = cents(app.amount)
    balance = cents(inv.balance)
    number = inv.doc_number or app.invoice_number
    base = FindingBase(app.qb_invoice_id, number, app.amount, payment.currency)
    m = base.money

    if inv.is_voided:
        return _voided_finding(base, inv, applied, payment.customer.qb_customer_id, facts, ev)
    if balance >= applied:
        return Finding(
            **base.fields(),
            cause=Cause.NONE,
            certainty=Certainty.CERTAIN,
            summary=(
                f"Invoice {number} is fine: its balance {m(balance)} still covers the "
                f"{m(applied)} applied."
            ),
            evidence=[ev.invoice(inv, "Balance still covers the application.")],
        )

    inv_id = inv.id or app.qb_invoice_id
    linked = LinkedPayments.of(payment, facts, inv_id)
    evidence = _shortfall_evidence(
        inv, inv_id, number, applied, balance, linked, facts, ev, payment.paid_at
    )
    credited, paid = linked.credited, linked.paid
    cm_fixes = credited > 0 and balance + credited >= applied
    manual_fixes = paid > 0 and balance + paid >= applied
    if cm_fixes or (not manual_fixes and credited > 0 and credited > paid):
        return credit_memo_finding(
            base, number, applied, balance, linked, inv_id, facts, evidence, certain=cm_fixes
        )
    if manual_fixes or paid > 0:
        return _paid_manually_finding(base, applied, balance, linked, inv_id, evidence, need)
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
    m = base.money
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
            f"Invoice {base.invoice_number} was voided in QuickBooks, so the {m(applied)} "
            "applied to it cannot be recorded there."
        ),
        evidence=[ev.invoice(inv, "Voided: total and balance are zero.")],
        replacement_candidates=[i.id for i in open_invoices if i.id],
    )


def _when(p: QBPayment, paid_at: datetime) -> str:
    """``after the payment run``, or how long before it (within the stale-balance window)."""
    if p.created_at is not None and p.created_at <= paid_at:
        minutes = max(int((paid_at - p.created_at).total_seconds() // 60), 1)
        return (
            f"{minutes} min before the payment run, which took the payment against a balance "
            "read before it"
        )
    return "after the payment run"


def _shortfall_evidence(
    inv: Invoice,
    inv_id: str,
    number: str,
    applied: Decimal,
    balance: Decimal,
    linked: LinkedPayments,
    facts: QBOFacts,
    ev: Evidence,
    paid_at: datetime,
) -> list[EvidenceObject]:
    """The invoice short of the application, then every linked payment with what it did."""
    evidence = [
        ev.invoice(
            inv,
            f"Balance {ev.money(balance)} is {ev.money(applied - balance)} short of the "
            f"{ev.money(applied)} applied.",
        )
    ]
    for p in linked.credit_memo:
        money_too = linked.money_of(p, inv_id)
        kind = (
            "$0 payment applying a credit memo"
            if money_too == 0
            else (f"Payment of {ev.money(money_too)} that also applies a credit memo")
        )
        evidence.append(
            ev.payment(
                p,
                f"{kind}: {ev.money(linked.credit_of(p, inv_id))} of credit to invoice {number}, "
                f"{_when(p, paid_at)}.",
            )
        )
        for cm_id in credit_memo_ids(p):
            cm = facts.credit_memos.get(cm_id)
            if cm is not None:
                evidence.append(ev.credit_memo(cm, "The credit memo applied."))
    for p in linked.manual:
        if p in linked.credit_memo:
            continue
        evidence.append(
            ev.payment(
                p,
                f"Payment recorded in QuickBooks {_when(p, paid_at)}: "
                f"{ev.money(linked.money_of(p, inv_id))} to invoice {number}.",
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
    inv_id: str,
    evidence: list[EvidenceObject],
    need: InvoiceNeed | None,
) -> Finding:
    """``paid-manually``: payments recorded by hand after the run's balance took the
    invoice's balance. Certain only when the books record the whole application to the cent;
    otherwise likely, with the difference shown."""
    m = base.money
    paid, credited = linked.paid, linked.credited
    recorded = cents(need.recorded) if need is not None else min(cents(paid), applied)
    missing = applied - recorded
    note = ""
    if missing > 0:
        note = (
            f" QuickBooks records {m(recorded)} of the {m(applied)} ConnectBooster "
            f"applied: the {m(missing)} difference is recorded nowhere yet."
        )
    elif cents(paid) > recorded:
        note = (
            f" Of the {m(paid)} recorded there, the {m(recorded)} that took the balance "
            "below the application is taken as this payment's money."
        )
    if credited > 0:
        note += f" A credit memo also took {m(credited)} off it."
    refs = ", ".join(p.payment_ref_num or f"id {p.id}" for p in linked.manual)
    early = any(p.created_at is not None and p.created_at <= linked.paid_at for p in linked.manual)
    when = (
        "just before the payment run, which took the payment against a balance read before it"
        if early
        else "after the payment run"
    )
    return Finding(
        **base.fields(),
        cause=Cause.PAID_MANUALLY,
        certainty=Certainty.CERTAIN if missing == 0 else Certainty.LIKELY,
        summary=(
            f"Invoice {base.invoice_number} was already paid in QuickBooks {when} "
            f"(payment {refs}, {m(paid)}), leaving {m(balance)} open where "
            f"{m(applied)} was applied.{note}"
        ),
        evidence=evidence,
        credit_applications=linked.credit_applications(inv_id),
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
    m = base.money
    number = base.invoice_number
    updated = inv.updated_at
    if other_cb:
        refs = ", ".join(p.payment_ref_num or "" for p in other_cb)
        return Finding(
            **base.fields(),
            cause=Cause.UNKNOWN,
            certainty=Certainty.LIKELY,
            summary=(
                f"Invoice {number} has {m(balance)} open where {m(applied)} was applied; "
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
                f"balance is now {m(balance)} (total {m(inv.total_amt)}), "
                f"{m(applied - balance)} less than the {m(applied)} applied, and no "
                "payment or credit explains it."
            ),
            evidence=evidence,
        )
    return Finding(
        **base.fields(),
        cause=Cause.UNKNOWN,
        certainty=Certainty.LIKELY,
        summary=(
            f"Invoice {number} has {m(balance)} open where {m(applied)} was applied, and "
            "nothing recorded after the payment run explains it."
        ),
        evidence=evidence,
    )


def credit_memo_finding(
    base: FindingBase,
    number: str,
    applied: Decimal,
    balance: Decimal,
    linked: LinkedPayments,
    inv_id: str,
    facts: QBOFacts,
    evidence: list[EvidenceObject],
    *,
    certain: bool,
) -> Finding:
    """A ``credit-memo`` finding: the shortfall is credit applied after the run. Every credit
    application is listed (``credit_applications``); the single fields name the first, the one
    taking the most off the invoice."""
    m = base.money
    apps = linked.credit_applications(inv_id)
    main = apps[0]
    cm = facts.credit_memos.get(main.credit_memo_id)
    cm_name = (
        f"credit memo {cm.doc_number}" if cm is not None and cm.doc_number else "a credit memo"
    )
    credited = linked.credited
    extra = ""
    if len(apps) > 1:
        extra = f" ({len(apps)} credit applications take {m(credited)} in all)"
    if linked.paid > 0:
        extra += f"; a payment recorded in QuickBooks also took {m(linked.paid)}"
    return Finding(
        **base.fields(),
        cause=Cause.CREDIT_MEMO,
        certainty=Certainty.CERTAIN if certain else Certainty.LIKELY,
        summary=(
            f"After the payment run, {cm_name} was applied to invoice {number} for "
            f"{m(main.amount)}{extra}, leaving {m(balance)} open where "
            f"{m(applied)} was applied."
        ),
        evidence=evidence,
        credit_memo_payment_id=main.payment_id,
        credit_memo_id=main.credit_memo_id,
        credit_memo_amount=main.amount,
        credit_applications=apps,
    )


__all__ = [
    "FindingBase",
    "credit_memo_finding",
    "invoice_finding",
]
