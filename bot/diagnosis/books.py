"""The books equation for one ConnectBooster payment: what QuickBooks already records of it.

For a ConnectBooster payment of amount A, R (``Books.recorded_total``) is the money QuickBooks
already records *for this payment*. ``account(payment, facts)`` (pure) counts, in this order:

1. **Its own payments** (``RecordedKind.SYNCED`` / ``RECREATED``): every QBO payment whose
   ``PaymentRefNum`` is this payment's reference — compared ignoring case, spaces and
   punctuation (``normalise_reference``: ``CB-10234`` is ``CB10234``), whoever typed it — and
   the bot's recreated payment (its private-note marker ``[fp:<payment id>]``). All their money
   counts, applied or not: more than A means the payment is recorded twice.
2. **Hand payments judged the same money** (``RecordedKind.BY_HAND``): a payment of the same
   customer, with another reference that is not ConnectBooster's, with money on the invoice an
   application stands on (the original invoice, or the replacement of a deleted one), created
   after the balance the payment run saw: after the run, or up to ``STALE_BALANCE_WINDOW`` (one
   hour) before it, when the portal took the payment against a balance read before the hand
   entry. It counts only as far as it collides with this payment: the invoice's shortfall
   (the application less the invoice's balance) not explained by credit applied after the run
   or by the payment's own QBO payments, and never more than the application. What it leaves
   unapplied counts toward the client's overpayment once it counted on an invoice. It is
   ``certain`` when all its money counts.

Only money counts: credit-memo lines of a QBO payment are credit (``split_payment``: $300 money
plus a $200 credit memo on a $500 invoice records $300 and applies $200 of credit).

The own payments' money on an application's invoice covers that application first; the hand
payments count next; what the own payments hold elsewhere (unapplied, or on another invoice)
then covers the client's overpayment, then whatever the applications still lack, in order —
beyond that the payment is recorded twice. So Σ need + the unrecorded overpayment is A − R
while R ≤ A.

Per application (``InvoiceNeed``): ``recorded`` is what R covers of it; the rest is its
``need``. Its ``target_invoice_id`` is where the need can go: the original invoice while it has
room (its open balance); for a deleted invoice, its replacement only when created after the
deletion and big enough for the application (``bot.diagnosis.deleted.find_replacement``), with
its balance as room — so a replacement already paid by hand needs what its balance shows, never
credit; ``None`` when a person must pick (voided, deleted without a fitting replacement, or no
room left). ``overpaid`` is A less what the applications add up to: the client's real
overpayment, the only money a recreated payment leaves as credit unasked.

Every remedy plans from the ``Books``: after any remedy QuickBooks records exactly A for the
payment — never more; Dismiss Syncing and Delete are offered only when R = A to the cent; a
recreated payment carries only A − R.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bot.diagnosis.deleted import find_replacement
from bot.diagnosis.facts import QBOFacts, oldest_first
from bot.diagnosis.linked import STALE_BALANCE_WINDOW, PaymentSplit, after_run, split_payment
from bot.diagnosis.references import (
    is_cb_reference,
    is_recreated_for,
    normalise_reference,
    recreate_marker,
    same_reference,
)
from bot.formats import cents
from bot.models import Books, InvoiceNeed, RecordedKind, RecordedMoney
from cb.models import Payment as CBPayment
from qb.models import Invoice
from qb.models import Payment as QBPayment

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Place:
    """Where one application stands in QuickBooks now."""

    invoice: Invoice | None  # the original invoice, or a deleted one's replacement; None: none
    target_invoice_id: str | None  # where its need can go (None: a person picks)
    room: Decimal  # the target's open balance


def places(payment: CBPayment, facts: QBOFacts) -> list[Place]:
    """Where each application of ``payment`` stands, in the payment's order."""
    used: set[str] = set()
    out: list[Place] = []
    for app in payment.applications:
        inv = facts.invoices.get(app.qb_invoice_id)
        if inv is None:
            inv = find_replacement(payment, app, facts, used).invoice
        elif inv.is_voided:
            inv = None
        room = max(cents(inv.balance), ZERO) if inv is not None else ZERO
        target = inv.id if inv is not None and room > 0 else None
        out.append(Place(inv, target, room))
    return out


@dataclass
class _Ledger:
    """What R covers so far: of each application, and of the client's overpayment."""

    applied: list[Decimal]
    overpaid: Decimal
    recorded: list[Decimal] = field(default_factory=list)
    overpaid_recorded: Decimal = ZERO

    def __post_init__(self) -> None:
        self.recorded = [ZERO for _ in self.applied]

    def open(self, n: int) -> Decimal:
        return self.applied[n] - self.recorded[n]

    def take(self, n: int, amount: Decimal) -> Decimal:
        """Cover up to ``amount`` of application ``n``; returns what it covered."""
        got = max(min(amount, self.open(n)), ZERO)
        self.recorded[n] += got
        return got

    def take_overpaid(self, amount: Decimal) -> Decimal:
        got = max(min(amount, self.overpaid - self.overpaid_recorded), ZERO)
        self.overpaid_recorded += got
        return got


def own_payments(payment: CBPayment, facts: QBOFacts) -> list[QBPayment]:
    """QBO payments carrying this payment's reference (any spelling) or the bot's marker:
    among those read by the exact reference, the customer's payments in its window and the
    payments linking the payment's invoices or invoices carrying their numbers."""
    key = (
        "own_payments",
        payment.id,
        payment.reference,
        payment.customer.qb_customer_id,
        tuple((a.qb_invoice_id, a.invoice_number) for a in payment.applications),
    )
    found = facts.memo.get(key)
    if not isinstance(found, list):
        found = facts.memo[key] = _own_payments(payment, facts)
    return list(found)


def _own_payments(payment: CBPayment, facts: QBOFacts) -> list[QBPayment]:
    invoice_ids = {a.qb_invoice_id for a in payment.applications}
    for a in payment.applications:
        invoice_ids.update(
            i.id for i in facts.replacements_by_number.get(a.invoice_number, []) if i.id
        )
    rows = [
        *facts.existing_by_reference.get(payment.reference, []),
        *facts.payments_of(payment.customer.qb_customer_id),
        *(p for inv_id in sorted(invoice_ids) for p in facts.payments_linking(inv_id)),
    ]
    pool: dict[str, QBPayment] = {}
    reference = normalise_reference(payment.reference)  # is_own, the payment's side once
    marker = recreate_marker(payment.id)
    for p in rows:
        if (
            p.id
            and p.id not in pool
            and (
                (reference and normalise_reference(p.payment_ref_num) == reference)
                or marker in (p.private_note or "")
            )
        ):
            pool[p.id] = p
    return oldest_first(list(pool.values()))


def is_own(p: QBPayment, payment: CBPayment) -> bool:
    """Whether QBO payment ``p`` is this payment's own: its reference or the bot's marker."""
    return same_reference(p.payment_ref_num, payment.reference) or is_recreated_for(p, payment.id)


def _own_on_invoices(
    p: QBPayment, split: PaymentSplit, payment: CBPayment, where: list[Place], ledger: _Ledger
) -> tuple[RecordedMoney, Decimal]:
    """One of the payment's own QBO payments: all its money counts; the part on the
    applications' invoices covers them now. Returns its entry and the rest (money on no
    invoice of the payment), which ``_spread`` places once the hand payments are counted."""
    per_invoice: dict[str, Decimal] = {}
    left = dict(split.money_on)
    for n, place in enumerate(where):
        inv_id = place.invoice.id if place.invoice is not None else None
        if not inv_id or left.get(inv_id, ZERO) <= 0:
            continue
        got = ledger.take(n, left[inv_id])
        left[inv_id] -= got
        if got > 0:
            per_invoice[inv_id] = per_invoice.get(inv_id, ZERO) + got
    kind = RecordedKind.RECREATED if is_recreated_for(p, payment.id) else RecordedKind.SYNCED
    entry = RecordedMoney(
        qbo_payment_id=p.id or "",
        kind=kind,
        amount=split.money,
        invoice_amounts=per_invoice,
        reference=p.payment_ref_num,
        certain=True,
    )
    return entry, sum(left.values(), ZERO) + split.unapplied


def _spread(rest: Decimal, ledger: _Ledger) -> None:
    """An own payment's money on no invoice of the payment: the client's overpayment first,
    then whatever the applications still lack, in order (beyond that: recorded twice)."""
    rest -= ledger.take_overpaid(rest)
    for n in range(len(ledger.applied)):
        rest -= ledger.take(n, rest)


def _is_hand_candidate(p: QBPayment, payment: CBPayment) -> bool:
    """Another reference, not ConnectBooster's, the same customer, after the run's balance."""
    customer = payment.customer.qb_customer_id
    return (
        not is_own(p, payment)
        and not is_cb_reference(p.payment_ref_num)
        and (customer is None or p.customer_ref is None or p.customer_ref.value == customer)
        and after_run(p.created_at, p.txn_date, payment.paid_at)
    )


def _collision(
    inv: Invoice,
    applied: Decimal,
    payment: CBPayment,
    facts: QBOFacts,
    splits: dict[str, PaymentSplit],
) -> Decimal:
    """How much of the invoice's shortfall a hand payment may explain: the application less
    the balance, less the credit applied after the run and the payment's own money on it."""
    inv_id = inv.id or ""
    short = applied - max(cents(inv.balance), ZERO)
    for p in facts.payments_linking(inv_id):
        split = splits.setdefault(p.id or "", split_payment(p))
        if is_own(p, payment):
            short -= split.money_on.get(inv_id, ZERO)
        elif after_run(p.created_at, p.txn_date, payment.paid_at):
            short -= split.credit(inv_id)
    return max(short, ZERO)


def _hand_on_invoices(
    payment: CBPayment, facts: QBOFacts, where: list[Place], ledger: _Ledger
) -> list[tuple[QBPayment, PaymentSplit, dict[str, Decimal]]]:
    """The hand payments judged the same money (see the module docstring), oldest first,
    each with what it counts per invoice."""
    splits: dict[str, PaymentSplit] = {}
    taken: dict[str, dict[str, Decimal]] = {}  # payment id -> invoice id -> counted
    found: dict[str, QBPayment] = {}
    collision: dict[str, Decimal] = {}
    for n, (app, place) in enumerate(zip(payment.applications, where, strict=True)):
        inv = place.invoice
        if inv is None or not inv.id:
            continue
        inv_id = inv.id
        if inv_id not in collision:
            collision[inv_id] = _collision(inv, cents(app.amount), payment, facts, splits)
        for p in facts.payments_linking(inv_id):
            if not p.id or not _is_hand_candidate(p, payment):
                continue
            split = splits.setdefault(p.id, split_payment(p))
            done = taken.get(p.id, {}).get(inv_id, ZERO)
            money = split.money_on.get(inv_id, ZERO) - done
            got = ledger.take(n, min(money, collision[inv_id]))
            if got <= 0:
                continue
            collision[inv_id] -= got
            found[p.id] = p
            per = taken.setdefault(p.id, {})
            per[inv_id] = per.get(inv_id, ZERO) + got
    return [(p, splits[p.id or ""], taken[p.id or ""]) for p in oldest_first(list(found.values()))]


def _hand_entry(
    p: QBPayment, split: PaymentSplit, per: dict[str, Decimal], ledger: _Ledger
) -> RecordedMoney:
    """A hand payment's entry: what it counts on the invoices, and what it leaves unapplied
    toward the client's overpayment; certain when all its money counts."""
    counted = sum(per.values(), ZERO) + ledger.take_overpaid(split.unapplied)
    return RecordedMoney(
        qbo_payment_id=p.id or "",
        kind=RecordedKind.BY_HAND,
        amount=counted,
        invoice_amounts=per,
        reference=p.payment_ref_num,
        certain=cents(counted) == cents(split.money),
    )


def account(payment: CBPayment, facts: QBOFacts) -> Books:
    """The books of ``payment`` from the facts (pure; see the module docstring)."""
    applied = [cents(a.amount) for a in payment.applications]
    amount = cents(payment.amount)
    ledger = _Ledger(applied, max(amount - sum(applied, ZERO), ZERO))
    where = places(payment, facts)
    own = [
        _own_on_invoices(p, split_payment(p), payment, where, ledger)
        for p in own_payments(payment, facts)
    ]
    hands = _hand_on_invoices(payment, facts, where, ledger)
    for _, rest in own:
        _spread(rest, ledger)
    recorded = [entry for entry, _ in own]
    recorded += [_hand_entry(p, split, per, ledger) for p, split, per in hands]
    needs = tuple(
        InvoiceNeed(
            invoice_id=app.qb_invoice_id,
            invoice_number=app.invoice_number,
            applied=applied[n],
            recorded=ledger.recorded[n],
            target_invoice_id=place.target_invoice_id,
            room=place.room,
        )
        for n, (app, place) in enumerate(zip(payment.applications, where, strict=True))
    )
    return Books(
        amount=amount,
        currency=payment.currency,
        recorded=tuple(recorded),
        needs=needs,
        overpaid=ledger.overpaid,
    )


__all__ = [
    "STALE_BALANCE_WINDOW",
    "Place",
    "account",
    "is_own",
    "normalise_reference",
    "own_payments",
    "places",
    "same_reference",
]
