"""Which invoices a gateway sale paid, when the gateway does not say.

In order:

1. ``GATEWAY_INVOICE_PATTERN`` finds invoice numbers in ``order_id`` / ``order_description``
   (its first group) and QuickBooks has them → those invoices, ``certain``.
2. Otherwise the customer's invoices open at the payment's time whose balances then add up
   to the amount to the cent (a bounded subset-sum: at most ``MAX_INVOICES`` candidates, the
   oldest first, and subsets of at most ``MAX_SUBSET``) → ``likely``; when more than one subset
   fits, none is chosen.
3. Otherwise nothing: the Recreate modal asks which invoices (``ask``).

Everything here is pure; the balances at the payment's time come from the caller
(:func:`balance_then`: today's balance plus what was applied to the invoice after it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import combinations

from gateway.models import Transaction
from qb.models import Invoice
from qb.models import Payment as QBPayment

MAX_INVOICES = 16
MAX_SUBSET = 4
STALE = timedelta(hours=1)
"""A payment recorded up to an hour before the sale still counts as "after" (a stale
balance), as the diagnosis reads it."""


GONE_ID = "0"
"""The invoice id of a named invoice QuickBooks no longer has before the sale (deleted, or
deleted and recreated): QBO ids are positive, so this one is never readable and the diagnosis
treats it as deleted, finding a replacement by its number."""


@dataclass(frozen=True)
class Part:
    """One invoice a sale paid: its number, QBO id (``GONE_ID``: gone) and the amount."""

    number: str
    invoice_id: str
    amount: Decimal


@dataclass(frozen=True)
class Allocation:
    """The invoices a sale paid, and how they were found (``pattern``, ``likely``, ``ask``)."""

    how: str
    parts: tuple[Part, ...] = ()
    numbers: tuple[str, ...] = ()


def invoice_numbers(t: Transaction, pattern: re.Pattern[str] | None) -> list[str]:
    """The invoice numbers ``pattern``'s first group finds in the order fields, in order."""
    if pattern is None:
        return []
    found: list[str] = []
    for text in (t.order_id, t.order_description):
        for m in pattern.finditer(text or ""):
            if m.group(1) and m.group(1) not in found:
                found.append(m.group(1))
    return found


AppliedIndex = dict[str, list[tuple[datetime, Decimal]]]
"""Invoice id → (when, amount) of every payment line applied to it."""


def applied_index(payments: Iterable[QBPayment]) -> AppliedIndex:
    """What each invoice had applied to it, and when (read once per reconciliation)."""
    out: AppliedIndex = {}
    for p in payments:
        created = p.created_at
        if created is None:
            continue
        for line in p.line:
            for lt in line.linked_txn:
                if lt.txn_type == "Invoice":
                    out.setdefault(lt.txn_id, []).append((created, line.amount))
    return out


def balance_then(inv: Invoice, applied: AppliedIndex, at: datetime) -> Decimal:
    """``inv``'s balance when the sale was made: today's, plus every amount a payment
    recorded after ``at`` (less the stale window) applied to it."""
    after = sum((a for when, a in applied.get(inv.id or "", []) if when >= at - STALE), Decimal(0))
    return min(inv.total_amt, inv.balance + after)


def by_pattern(
    t: Transaction,
    pattern: re.Pattern[str] | None,
    by_number: dict[str, list[Invoice]],
    customer_id: str | None,
    balances: dict[str, Decimal],
) -> Allocation | None:
    """Rule 1: the invoices the pattern names. Each but the last takes its balance then (up
    to what is left); the last takes the rest, so the parts add up to the sale. A number
    QuickBooks has no invoice for from before the sale is ``GONE_ID``; one carried by several
    of the customer's invoices is not guessed (``None`` for the whole sale)."""
    numbers = invoice_numbers(t, pattern)
    paid = t.paid_at
    if not numbers or paid is None:
        return None
    named: list[tuple[str, str, Decimal | None]] = []
    for n in numbers:
        invs = [
            i
            for i in by_number.get(n, [])
            if i.id
            and (customer_id is None or (i.customer_ref and i.customer_ref.value == customer_id))
            and (i.created_at is None or i.created_at <= paid)
        ]
        if len(invs) > 1:
            return None
        if not invs:
            named.append((n, GONE_ID, None))
            continue
        inv = invs[0]
        cap = None if inv.is_voided else balances.get(str(inv.id), inv.total_amt)
        named.append((n, str(inv.id), cap))
    left = t.amount
    parts: list[Part] = []
    for k, (n, iid, cap) in enumerate(named):
        rest = len(named) - k
        share = left if rest == 1 else min(left, cap if cap is not None else left / rest)
        share = share.quantize(Decimal("0.01"))
        parts.append(Part(n, iid, share))
        left -= share
    return Allocation("pattern", tuple(parts), tuple(numbers))


def by_subset(amount: Decimal, open_then: list[tuple[Invoice, Decimal]]) -> Allocation:
    """Rule 2: the one subset of open invoices whose balances add up to ``amount``."""
    cands = [(i, b) for i, b in open_then if i.id and b > 0][:MAX_INVOICES]
    fits: list[tuple[tuple[Invoice, Decimal], ...]] = []
    for size in range(1, min(MAX_SUBSET, len(cands)) + 1):
        for combo in combinations(cands, size):
            if sum((b for _i, b in combo), Decimal(0)) == amount:
                fits.append(combo)
                if len(fits) > 1:
                    return Allocation("ask")
        if fits:
            break  # the smallest subset that fits, when it is the only one of its size
    if len(fits) != 1:
        return Allocation("ask")
    parts = tuple(Part(i.doc_number or "", str(i.id), b) for i, b in fits[0])
    return Allocation("likely", parts, tuple(p.number for p in parts))
