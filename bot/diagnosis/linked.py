"""What the QBO payments linked to an invoice did, as the per-invoice rules read them.

A QBO payment linked to an invoice is either a $0 payment applying a credit memo
(``is_credit_memo_payment``), another ConnectBooster payment (its reference starts ``CB``,
``is_cb_reference``) or a payment someone recorded by hand; and it came either before the
payment run, which already saw it, or after (``after_run``), where it may explain why the
invoice's balance no longer covers the application. ``LinkedPayments`` sorts one invoice's
payments that way, with what each kind takes off the invoice (``amount_on``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from bot.diagnosis.facts import QBOFacts
from cb.models import Payment as CBPayment
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
class LinkedPayments:
    """The QBO payments linked to one invoice (other than the CB payment itself), sorted by
    when they came and what they are, with the amounts they take off the invoice."""

    credit_memo: list[QBPayment]  # $0 payments applying a credit memo, after the run
    manual: list[QBPayment]  # payments not from ConnectBooster, after the run
    other_cb: list[QBPayment]  # other ConnectBooster payments, after the run
    before: list[QBPayment]  # anything recorded before the run: not the cause
    credited: Decimal  # what the credit-memo payments apply to the invoice
    paid: Decimal  # what the manual payments apply to the invoice

    @classmethod
    def of(cls, payment: CBPayment, facts: QBOFacts, inv_id: str) -> LinkedPayments:
        linked = [
            p for p in facts.payments_linking(inv_id) if p.payment_ref_num != payment.reference
        ]
        after = [p for p in linked if after_run(p.created_at, p.txn_date, payment.paid_at)]
        cm_payments = [p for p in after if is_credit_memo_payment(p)]
        manual = [
            p
            for p in after
            if not is_credit_memo_payment(p) and not is_cb_reference(p.payment_ref_num)
        ]
        return cls(
            credit_memo=cm_payments,
            manual=manual,
            other_cb=[
                p
                for p in after
                if not is_credit_memo_payment(p) and is_cb_reference(p.payment_ref_num)
            ],
            before=[p for p in linked if p not in after],
            credited=sum((amount_on(p, "Invoice", inv_id) for p in cm_payments), Decimal(0)),
            paid=sum((amount_on(p, "Invoice", inv_id) for p in manual), Decimal(0)),
        )


__all__ = [
    "LinkedPayments",
    "after_run",
    "amount_on",
    "credit_memo_ids",
    "is_cb_reference",
    "is_credit_memo_payment",
]
