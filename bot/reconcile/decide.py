"""One reconciliation, decided (pure): each transaction's verdict, its customer, its receipt
and, for a failed transfer, the invoices it paid (``bot.reconcile.allocate``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from bot.reconcile.allocate import (
    Allocation,
    balance_then,
    by_pattern,
    by_subset,
    invoice_numbers,
)
from bot.reconcile.fetch import BooksView
from bot.reconcile.receipts import Sale, assign_receipts
from bot.reconcile.verdicts import Reconciled, Verdict, before_qbo, with_receipt
from gateway.models import Transaction
from qb.models import Invoice


@dataclass(frozen=True)
class Rules:
    """What the reconciliation is configured with (from the gateway settings)."""

    grace: timedelta
    usernames: frozenset[str] = frozenset()
    pattern: re.Pattern[str] | None = None


def needs_books(txns: Sequence[Transaction], now: datetime, rules: Rules) -> list[Transaction]:
    """The transactions QuickBooks must be read for (the others are decided already)."""
    return [t for t in txns if before_qbo(t, now, rules.grace, rules.usernames) is None]


def reconcile(
    txns: Sequence[Transaction], view: BooksView, now: datetime, rules: Rules
) -> list[Reconciled]:
    """Every transaction's verdict, in the order given."""
    early: dict[str, Verdict] = {}
    sales: list[Sale] = []
    for t in txns:
        v = before_qbo(t, now, rules.grace, rules.usernames)
        if v is not None:
            early[t.transaction_id] = v
        else:
            sales.append(Sale(t, view.customers.match(t)))
    receipts = assign_receipts(sales, view.payments)
    matches = {s.txn.transaction_id: s.customer for s in sales}
    out: list[Reconciled] = []
    for t in txns:
        tid = t.transaction_id
        if tid in early:
            out.append(Reconciled(t, early[tid], view.customers.match(t)))
            continue
        receipt = receipts.get(tid)
        verdict = with_receipt(t, receipt)
        failed = verdict is Verdict.FAILED
        allocation = allocate(t, view, matches[tid].one, rules) if failed else None
        out.append(Reconciled(t, verdict, matches[tid], receipt, allocation))
    return out


def allocate(t: Transaction, view: BooksView, customer_id: str | None, rules: Rules) -> Allocation:
    """The invoices a failed transfer paid: the pattern's, else a likely subset, else ask."""
    paid = t.paid_at
    assert paid is not None
    mine = view.invoices_by_customer.get(customer_id or "", [])
    named = [
        i for n in invoice_numbers(t, rules.pattern) for i in view.invoices_by_number.get(n, [])
    ]
    balances = {
        str(inv.id): balance_then(inv, view.applied, paid) for inv in [*mine, *named] if inv.id
    }
    found = by_pattern(t, rules.pattern, view.invoices_by_number, customer_id, balances)
    if found is not None:
        return found
    if customer_id is None:
        return Allocation("ask")
    open_then = [
        (inv, balances[inv.id])
        for inv in sorted(view.invoices_by_customer.get(customer_id, []), key=_age)
        if inv.id
        and (inv.txn_date is None or inv.txn_date <= paid.date())
        and (inv.created_at is None or inv.created_at <= paid)
        and not inv.is_voided
    ]
    return by_subset(t.amount, [(i, b) for i, b in open_then if b > Decimal(0)])


def _age(inv: Invoice) -> tuple[str, str]:
    return (inv.txn_date.isoformat() if inv.txn_date else "", inv.id or "")
