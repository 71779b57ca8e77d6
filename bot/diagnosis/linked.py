"""What the QBO payments linked to an invoice did, as the per-invoice rules and the books read
them.

A QBO payment's lines are money or credit: a line linking a credit memo is credit, and QBO
sets it against the payment's invoice lines, so a payment of $300 money plus a $200 credit memo
on a $500 invoice carries invoice lines of $500, a credit line of $200 and ``TotalAmt`` $300.
``split_payment`` takes such a payment apart per invoice: the credit lines are set against the
invoice lines in line order, the rest of each invoice line is money (``PaymentSplit``). QBO's
$0 payment that only applies a credit memo is all credit.

A linked payment is either another ConnectBooster payment (``is_cb_reference``), a payment
someone recorded by hand, or credit; and it came either after the balance the payment run saw
(``after_run``) — where it may explain why the invoice's balance no longer covers the
application — or before it, when the run already saw it. The run's balance can be stale: the
portal may show a balance read shortly before a hand payment, so anything created up to
``STALE_BALANCE_WINDOW`` (one hour) before the run counts as after it. ``LinkedPayments`` sorts
one invoice's payments that way, with what each kind takes off the invoice, and
``credit_applications`` lists every credit application on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from bot.diagnosis.facts import QBOFacts, id_key, time_key
from bot.diagnosis.references import is_cb_reference, is_recreated_for, same_reference
from bot.models import CreditApplication
from cb.models import Payment as CBPayment
from qb.models import Payment as QBPayment

ZERO = Decimal("0.00")

STALE_BALANCE_WINDOW = timedelta(hours=1)
"""How long before the payment run a QBO transaction still counts as after the balance the run
saw: the portal can take a payment against a balance read before a hand payment entered
minutes earlier. Older transactions were on the books when the client paid: other money."""


def after_run(created: datetime | None, txn_date: date | None, paid_at: datetime) -> bool:
    """Whether a QBO transaction came after the balance the payment run saw (created after
    ``paid_at`` less ``STALE_BALANCE_WINDOW``). Creation time decides; without it, a
    transaction dated on or after the horizon's day counts as after (the run read the balance,
    so a same-day change without a time is the likelier culprit); with neither, after."""
    horizon = paid_at - STALE_BALANCE_WINDOW
    if created is not None:
        return created > horizon
    if txn_date is not None:
        return txn_date >= horizon.date()
    return True


def amount_on(p: QBPayment, txn_type: str, txn_id: str) -> Decimal:
    """What a payment's lines link to one transaction (money and credit together)."""
    total = Decimal(0)
    for line in p.line:
        if any(lt.txn_type == txn_type and lt.txn_id == txn_id for lt in line.linked_txn):
            total += line.amount
    return total


def credit_memo_ids(p: QBPayment) -> list[str]:
    """The credit memos a payment's lines link, in order, each once."""
    return list(dict.fromkeys(p.linked_ids("CreditMemo")))


def is_credit_memo_payment(p: QBPayment) -> bool:
    """Whether a payment applies a credit memo (QBO's $0 payment, or a payment mixing money
    and credit)."""
    return bool(credit_memo_ids(p))


@dataclass(frozen=True)
class PaymentSplit:
    """One QBO payment taken apart: per invoice, its money and its credit."""

    money_on: dict[str, Decimal] = field(default_factory=dict)  # invoice id -> money
    credit_on: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # -> {memo: credit}
    unapplied: Decimal = ZERO  # money applied to no invoice (the client's credit)

    @property
    def money(self) -> Decimal:
        """All the money the payment records (``TotalAmt``): applied plus unapplied."""
        return sum(self.money_on.values(), ZERO) + self.unapplied

    def credit(self, invoice_id: str) -> Decimal:
        """The credit it applies to one invoice."""
        return sum(self.credit_on.get(invoice_id, {}).values(), ZERO)


def split_payment(p: QBPayment) -> PaymentSplit:
    """Money and credit per invoice of ``p`` (see the module docstring)."""
    memos: list[str] = []  # the credit lines' memos, in line order
    credit_left: list[Decimal] = []  # what each credit line has left to set against invoices
    invoice_lines: list[tuple[str, Decimal]] = []
    for line in p.line:
        link = next(iter(line.linked_txn), None)
        if link is None:
            continue
        if link.txn_type == "CreditMemo":
            memos.append(link.txn_id)
            credit_left.append(line.amount)
        elif link.txn_type == "Invoice":
            invoice_lines.append((link.txn_id, line.amount))
    money_on: dict[str, Decimal] = {}
    credit_on: dict[str, dict[str, Decimal]] = {}
    for inv_id, amount in invoice_lines:
        left = amount
        for n, memo in enumerate(memos):
            take = min(credit_left[n], left)
            if take <= 0:
                continue
            per_memo = credit_on.setdefault(inv_id, {})
            per_memo[memo] = per_memo.get(memo, ZERO) + take
            credit_left[n] -= take
            left -= take
        money_on[inv_id] = money_on.get(inv_id, ZERO) + left
    applied = sum(money_on.values(), ZERO)
    if p.unapplied_amt is not None:
        unapplied = max(p.unapplied_amt, ZERO)
    else:
        unapplied = max(p.total_amt - applied, ZERO)
    return PaymentSplit(money_on=money_on, credit_on=credit_on, unapplied=unapplied)


@dataclass(frozen=True)
class LinkedPayments:
    """The QBO payments linked to one invoice (other than this payment's own, by reference
    or the bot's marker), sorted by when they came and what they are, with the amounts they
    take off the invoice. A payment mixing money and credit is in ``credit_memo`` for its
    credit and in ``manual`` (or ``other_cb``) for its money."""

    credit_memo: list[QBPayment]  # payments applying credit to it, after the run
    manual: list[QBPayment]  # payments not from ConnectBooster with money on it, after the run
    other_cb: list[QBPayment]  # other ConnectBooster payments, after the run
    before: list[QBPayment]  # anything recorded before the run: not the cause
    credited: Decimal  # the credit applied to the invoice after the run
    paid: Decimal  # the hand payments' money on the invoice after the run
    paid_at: datetime  # the payment run
    splits: dict[str, PaymentSplit] = field(default_factory=dict)  # payment id -> its split

    @classmethod
    def of(cls, payment: CBPayment, facts: QBOFacts, inv_id: str) -> LinkedPayments:
        linked = [
            p
            for p in facts.payments_linking(inv_id)
            if not same_reference(p.payment_ref_num, payment.reference)
            and not is_recreated_for(p, payment.id)
        ]
        splits = {p.id or "": split_payment(p) for p in linked}
        after = [p for p in linked if after_run(p.created_at, p.txn_date, payment.paid_at)]

        def money(p: QBPayment) -> Decimal:
            return splits[p.id or ""].money_on.get(inv_id, ZERO)

        def credit(p: QBPayment) -> Decimal:
            return splits[p.id or ""].credit(inv_id)

        cm_payments = [p for p in after if credit(p) > 0]
        manual = [p for p in after if money(p) > 0 and not is_cb_reference(p.payment_ref_num)]
        return cls(
            credit_memo=cm_payments,
            manual=manual,
            other_cb=[p for p in after if money(p) > 0 and is_cb_reference(p.payment_ref_num)],
            before=[p for p in linked if p not in after],
            credited=sum((credit(p) for p in cm_payments), ZERO),
            paid=sum((money(p) for p in manual), ZERO),
            paid_at=payment.paid_at,
            splits=splits,
        )

    def money_of(self, p: QBPayment, inv_id: str) -> Decimal:
        """The money ``p`` puts on the invoice."""
        return self.splits[p.id or ""].money_on.get(inv_id, ZERO)

    def credit_of(self, p: QBPayment, inv_id: str) -> Decimal:
        """The credit ``p`` applies to the invoice."""
        return self.splits[p.id or ""].credit(inv_id)

    def credit_applications(self, inv_id: str) -> list[CreditApplication]:
        """Every credit application on the invoice after the run, one per payment and credit
        memo: first the one taking the most off it (the newest on ties), then the others
        oldest first."""
        if not self.credit_memo:
            return []
        main = max(
            self.credit_memo,
            key=lambda p: (self.credit_of(p, inv_id), time_key(p.created_at), id_key(p.id)),
        )
        ordered = [main, *(p for p in self.credit_memo if p is not main)]
        out: list[CreditApplication] = []
        for p in ordered:
            split = self.splits[p.id or ""]
            for memo_id, amount in split.credit_on.get(inv_id, {}).items():
                out.append(
                    CreditApplication(
                        payment_id=p.id or "",
                        credit_memo_id=memo_id,
                        amount=amount,
                        payment_money=split.money,
                    )
                )
        return out


__all__ = [
    "STALE_BALANCE_WINDOW",
    "LinkedPayments",
    "PaymentSplit",
    "after_run",
    "amount_on",
    "credit_memo_ids",
    "is_cb_reference",
    "is_credit_memo_payment",
    "split_payment",
]
