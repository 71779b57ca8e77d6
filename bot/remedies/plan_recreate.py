"""The plan of *Recreate payment in QuickBooks* (pure): exactly the money QuickBooks lacks.

For a ConnectBooster payment of amount A of which QuickBooks already records R (the record's
``Books``), the recreated payment carries exactly A − R:

1. **Refused** when nothing is unrecorded (R = A: Dismiss Syncing is the remedy), when
   QuickBooks records more than A (recorded twice: the payments are named), when
   ConnectBooster synced the payment or queued it for another sync meanwhile, when the
   customer has no QuickBooks id or is inactive, or when the currencies do not fit (the
   customer's currency differs from the payment's; a single-currency company and a foreign
   payment; no exchange rate for a foreign one).
2. **Placed**: each invoice application's unrecorded part (``InvoiceNeed.need``) goes to its
   target invoice (the original, or its replacement) up to the target's open balance
   (``room``); the client's real overpayment (``Books.overpaid``) stays unapplied credit.
   Whatever has nowhere to go — a need without a target, or more than its target's room —
   goes where the user picked (``params["target"]``: an open invoice of the customer, up to
   its open balance, or ``KEEP_AS_CREDIT``); until then the plan awaits a pick
   (``RemedyPlan.pick``). A shortfall is never silently turned into credit.
3. **Written** in this order: ``cb_dismiss`` (dismiss syncing first, so a sync landing in
   between cannot record the payment twice; left out when syncing is dismissed already),
   then ``qbo_create_payment`` with the exact body: ``CustomerRef``, ``TotalAmt`` = A − R,
   ``TxnDate`` = the payment's local date in ``BOOKS_TIMEZONE``, ``PaymentRefNum``,
   ``DepositToAccountRef``, a ``PrivateNote`` naming the ConnectBooster payment and the Slack
   user with the marker ``[fp:<payment id>]``, the ``Line`` list, and in a multi-currency
   company ``CurrencyRef`` and ``ExchangeRate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.diagnosis.facts import QBOFacts
from bot.diagnosis.references import recreate_marker
from bot.formats import cents, iso_date, money
from bot.models import Books, PlannedWrite, RemedyPlan, WriteKind
from bot.models.plans import requester_phrase
from bot.remedies.plan_common import (
    PORTAL_DISMISS_NOTE,
    STEP_QBO_CREATE,
    ZERO,
    Frame,
    positive_needs,
    recorded_list,
)
from bot.slack.ids import KEEP_AS_CREDIT
from cb.models import SyncStatus


@dataclass
class Placement:
    """Where A − R goes: amounts per invoice id (in order), credit, and what is unplaced."""

    lines: dict[str, Decimal] = field(default_factory=dict)
    credit: Decimal = ZERO  # unapplied credit (the real overpayment, or as picked)
    picked_credit: Decimal = ZERO  # the part of ``credit`` the user chose to keep as credit
    unplaced: Decimal = ZERO  # money with nowhere to go yet
    unplaced_why: list[str] = field(default_factory=list)
    room: dict[str, Decimal] = field(default_factory=dict)  # what each target has left

    @property
    def total(self) -> Decimal:
        return sum(self.lines.values(), ZERO) + self.credit

    def put(self, invoice_id: str, amount: Decimal) -> None:
        self.lines[invoice_id] = self.lines.get(invoice_id, ZERO) + amount
        self.room[invoice_id] = self.room.get(invoice_id, ZERO) - amount


def invoice_label(facts: QBOFacts, invoice_id: str) -> str:
    """``invoice 1002`` (its number when the facts know it, else its QuickBooks id)."""
    inv = facts.find_invoice(invoice_id)
    return f"invoice {inv.doc_number if inv is not None and inv.doc_number else invoice_id}"


def pick_needed(books: Books) -> bool:
    """Whether recreating needs a person to pick where part of the money goes: some
    unrecorded part of an application has no target, or more than its target's room."""
    return place(books, QBOFacts()).unplaced > 0


def place(books: Books, facts: QBOFacts) -> Placement:
    """A − R over the needs' targets within their room and the real overpayment; the rest
    is ``unplaced`` (see the module docstring, step 2)."""
    out = Placement()
    budget = cents(books.unrecorded)
    for need in positive_needs(books):
        want = min(cents(need.need), budget)
        if want <= 0:
            break
        budget -= want
        target = need.target_invoice_id
        if target is None:
            out.unplaced += want
            out.unplaced_why.append(
                f"{_m(books, want)} for invoice {need.invoice_number}, "
                "which has no invoice in QuickBooks to take it"
            )
            continue
        room = out.room.setdefault(target, max(cents(need.room), ZERO))
        take = min(want, room)
        if take > 0:
            out.put(target, take)
        if want > take:
            out.unplaced += want - take
            out.unplaced_why.append(
                f"{_m(books, want - take)} for invoice {need.invoice_number}: "
                f"{invoice_label(facts, target)} has only {_m(books, room)} open"
            )
    overpaid = min(budget, max(cents(books.overpaid), ZERO))
    out.credit += overpaid
    if budget > overpaid:
        out.unplaced += budget - overpaid
        out.unplaced_why.append(f"{_m(books, budget - overpaid)} applied to no invoice")
    return out


def _m(books: Books, amount: Decimal) -> str:
    return money(amount, books.currency)


def plan_recreate(f: Frame, facts: QBOFacts, params: dict[str, Any]) -> RemedyPlan:
    """The plan of Recreate payment in QuickBooks (see the module docstring)."""
    refusal = f.books_refusal() or _refusal(f, facts)
    if refusal is not None:
        return f.refuse(refusal)
    assert f.books is not None
    currency, refusal = _currency(f, facts)
    if refusal is not None:
        return f.refuse(refusal)
    placed = place(f.books, facts)
    if placed.unplaced > 0:
        target = params.get("target")
        if not target:
            words = _pick_words(f, placed)
            return f.plan(pick=words, notes=(f"To recreate it, {words}.",))
        refusal = _take_pick(f, facts, placed, str(target))
        if refusal is not None:
            return f.refuse(refusal)
    if cents(f.recorded + placed.total) != f.amount:  # never more, never less
        return f.refuse(
            f"the plan would leave QuickBooks recording "
            f"{f.money(f.recorded + placed.total)} instead of "
            f"{f.money(f.amount)}; record it by hand"
        )
    writes: list[PlannedWrite] = []
    notes: list[str] = []
    if f.portal_only:
        notes.append(PORTAL_DISMISS_NOTE)
    elif f.payment.sync.status == SyncStatus.DISMISSED:
        notes.append("Syncing is dismissed in ConnectBooster already.")
    else:
        writes.append(f.dismiss_write())
    writes.append(_create_write(f, facts, placed, currency))
    if f.recorded > 0:
        notes.append(
            f"QuickBooks already records {f.money(f.recorded)} of the "
            f"{f.money(f.amount)} ({recorded_list(f.books.recorded, f.currency)}); "
            f"the new payment carries only the other {f.money(placed.total)}."
        )
    return f.plan(tuple(writes), recorded_after=f.recorded + placed.total, notes=tuple(notes))


def _refusal(f: Frame, facts: QBOFacts) -> str | None:
    """Why Recreate must not run on these facts, or None."""
    assert f.books is not None
    status = f.status_refusal(allow_dismissed=True)
    if status is not None:
        return status
    if f.payment.sync.status == SyncStatus.PENDING:
        return (
            f"ConnectBooster has queued {f.payment.reference} for another sync "
            "meanwhile (someone pressed Resync): nothing is created while that sync may "
            "record it. Press *Re-check* after it ran"
        )
    unrecorded = cents(f.books.unrecorded)
    if unrecorded == 0:
        return (
            f"QuickBooks already records all {f.money(f.amount)} of this payment "
            f"({recorded_list(f.books.recorded, f.currency)}): recreating it would "
            "record it twice. Press *Dismiss Syncing* instead"
        )
    if unrecorded < 0:
        return f.twice_refusal()
    cust = f.payment.customer.qb_customer_id
    if not cust:
        return (
            "ConnectBooster does not know this customer's QuickBooks id, so the payment "
            "has to be recorded in QuickBooks by hand"
        )
    if cust in facts.inactive_customer_ids:
        return (
            f"customer {f.payment.customer.name} is inactive in QuickBooks, which takes no "
            "payment for it: press *Reactivate customer* first"
        )
    return None


def _pick_words(f: Frame, placed: Placement) -> str:
    return (
        f"pick where {f.money(placed.unplaced)} goes ("
        + "; ".join(placed.unplaced_why)
        + f"): an open invoice of {f.payment.customer.name}, or keep it as credit"
    )


def _take_pick(f: Frame, facts: QBOFacts, placed: Placement, target: str) -> str | None:
    """Put the unplaced money where the user picked; a refusal when it does not fit."""
    amount = placed.unplaced
    if target == KEEP_AS_CREDIT:
        placed.credit += amount
        placed.picked_credit += amount
        placed.unplaced = ZERO
        return None
    inv = facts.find_invoice(target)
    if inv is None or inv.is_deleted:
        return (
            f"invoice {target} is not an open invoice of {f.payment.customer.name} in "
            "QuickBooks any more: pick another one, or keep it as credit"
        )
    owner = inv.customer_ref.value if inv.customer_ref is not None else None
    if owner is not None and owner != f.payment.customer.qb_customer_id:
        return f"{invoice_label(facts, target)} belongs to another customer: pick another one"
    room = placed.room.setdefault(target, max(cents(inv.balance), ZERO))
    if room < amount:
        return (
            f"{invoice_label(facts, target)} has only {f.money(room)} open, less than the "
            f"{f.money(amount)} to place: pick an invoice with room for it, or keep it "
            "as credit"
        )
    placed.put(target, amount)
    placed.unplaced = ZERO
    return None


def _currency(f: Frame, facts: QBOFacts) -> tuple[dict[str, Any], str | None]:
    """``CurrencyRef`` and ``ExchangeRate`` for the body (empty in a single-currency
    company), or a refusal when the currencies do not fit. The customer's currency is the
    context's, else the one of the customer in the facts, else the home currency."""
    ctx, paid_in = f.ctx, f.currency.upper()
    home = ctx.home_currency.upper()
    if not ctx.multi_currency:
        if paid_in != home:
            return {}, (
                f"the payment is in {paid_in}, but the QuickBooks company works in "
                f"{home} only: record it by hand"
            )
        return {}, None
    cust = facts.customers.get(f.payment.customer.qb_customer_id or "")
    known = cust.currency_ref.value if cust is not None and cust.currency_ref else None
    customer = (ctx.customer_currency or known or home).upper()
    if customer != paid_in:
        return {}, (
            f"customer {f.payment.customer.name} works in {customer} in QuickBooks "
            f"but paid in {paid_in}: QuickBooks cannot record it on that customer. "
            "Record it by hand"
        )
    if paid_in == home:
        return {"CurrencyRef": {"value": paid_in}, "ExchangeRate": Decimal(1)}, None
    if ctx.exchange_rate is None or ctx.exchange_rate <= 0:
        return {}, (
            f"QuickBooks gives no exchange rate for {paid_in} on that day: record it by hand"
        )
    return {"CurrencyRef": {"value": paid_in}, "ExchangeRate": ctx.exchange_rate}, None


def _create_write(
    f: Frame, facts: QBOFacts, placed: Placement, currency: dict[str, Any]
) -> PlannedWrite:
    p = f.payment
    txn_date = p.paid_at.astimezone(f.ctx.books_tz).date()
    note = (
        f"Recreated from ConnectBooster payment {p.id} ({p.reference}) by the "
        f"failed-payments bot {requester_phrase(f.ctx.user)}. {recreate_marker(p.id)}"
    )
    body: dict[str, Any] = {
        "CustomerRef": {"value": p.customer.qb_customer_id, "name": p.customer.name},
        "TotalAmt": cents(placed.total),
        "TxnDate": txn_date.isoformat(),
        "PaymentRefNum": p.reference,
        "PrivateNote": note,
        "Line": [
            {"Amount": cents(amount), "LinkedTxn": [{"TxnId": inv_id, "TxnType": "Invoice"}]}
            for inv_id, amount in placed.lines.items()
        ],
    }
    if f.ctx.deposit_account_id:
        body["DepositToAccountRef"] = {"value": f.ctx.deposit_account_id}
    body.update(currency)
    parts = [f"to {invoice_label(facts, i)} ({f.money(a)})" for i, a in placed.lines.items()]
    if placed.credit > 0:
        why = (
            "kept as credit, as picked"
            if placed.picked_credit == placed.credit
            else "the client's overpayment"
        )
        parts.append(f"{f.money(placed.credit)} as credit on {p.customer.name} ({why})")
    reads = (
        f"Create payment {p.reference} in QuickBooks: {f.money(placed.total)} "
        f"{', '.join(parts)}, dated {iso_date(txn_date)}"
    )
    if "ExchangeRate" in currency and currency["CurrencyRef"]["value"] != f.ctx.home_currency:
        reads += f", at {currency['ExchangeRate']} {f.ctx.home_currency} per {f.currency}"
    return PlannedWrite(
        step=STEP_QBO_CREATE,
        kind=WriteKind.QBO_CREATE_PAYMENT,
        target_id=None,
        body=body,
        reads_as=reads,
    )


__all__ = [
    "Placement",
    "invoice_label",
    "pick_needed",
    "place",
    "plan_recreate",
]
