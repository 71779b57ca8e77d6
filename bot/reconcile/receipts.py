"""Finding the QuickBooks receipt ConnectBooster's sync made for a gateway sale (pure).

A sale's receipt is a QBO payment that either carries the bot's recreated-payment marker for
it (``[fp:gw-<transaction id>]``), or has a ConnectBooster reference (``CB…`` in any
spelling), the sale's amount to the cent, a date from a day before the sale to
``RECEIPT_DAYS`` after it, and the sale's customer when the customer is known. Each receipt
answers for one sale: sales whose customer is known choose first, then the ambiguous ones
(among their candidates), then those without a customer; within each, the pairs nearest in
date are matched first across all the sales (a client paying the same amount every month
keeps each receipt with its own month's sale), the older sale first on a tie.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from bot.diagnosis.references import is_cb_reference, recreate_marker
from bot.reconcile.customers import CustomerMatch
from gateway.models import Transaction
from qb.models import Payment as QBPayment

RECEIPT_DAYS = 10
GATEWAY_ID_PREFIX = "gw-"


def payment_id_for(transaction_id: str) -> str:
    """The bot's payment id of a gateway sale (``gw-<transaction id>``)."""
    return f"{GATEWAY_ID_PREFIX}{transaction_id}"


@dataclass(frozen=True)
class Sale:
    """A sale to find a receipt for, with the customers it names."""

    txn: Transaction
    customer: CustomerMatch


def is_receipt_candidate(p: QBPayment) -> bool:
    """A QBO payment that may be a sale's receipt: ConnectBooster's or the bot's."""
    return is_cb_reference(p.payment_ref_num) or "[fp:gw-" in (p.private_note or "")


def assign_receipts(sales: list[Sale], payments: Iterable[QBPayment]) -> dict[str, QBPayment]:
    """Transaction id → its receipt, for the sales that have one (see the module docstring)."""
    pool = [p for p in payments if p.id and is_receipt_candidate(p)]
    used: set[str] = set()
    out: dict[str, QBPayment] = {}
    for s in sales:  # the bot's own recreated receipts first: they name the sale
        marker = recreate_marker(payment_id_for(s.txn.transaction_id))
        for p in pool:
            if p.id not in used and marker in (p.private_note or ""):
                out[s.txn.transaction_id] = p
                used.add(str(p.id))
                break

    def tier(s: Sale) -> int:
        return 0 if s.customer.one else 1 if s.customer.ambiguous else 2

    left = [s for s in sales if s.txn.transaction_id not in out]
    for level in (0, 1, 2):
        pairs = sorted(
            (
                (gap, s.txn.paid_at, s.txn.transaction_id, str(p.id), p)
                for s in left
                if tier(s) == level
                for gap, p in _candidates(s, pool)
            ),
            key=lambda x: x[:4],
        )
        for _gap, _paid, tid, _pid, p in pairs:  # the nearest pairs first, across all sales
            if tid in out or p.id in used:
                continue
            out[tid] = p
            used.add(str(p.id))
    return out


def _candidates(s: Sale, pool: list[QBPayment]) -> list[tuple[int, QBPayment]]:
    """The receipts ``s`` may have, with their distance in days from the sale."""
    paid = s.txn.paid_at
    if paid is None:
        return []
    day = paid.date()
    lo, hi = day - timedelta(days=1), day + timedelta(days=RECEIPT_DAYS)
    ids = set(s.customer.ids)
    out: list[tuple[int, QBPayment]] = []
    for p in pool:
        if not is_cb_reference(p.payment_ref_num) or p.total_amt != s.txn.amount:
            continue
        if p.txn_date is None or not lo <= p.txn_date <= hi:
            continue
        cust = p.customer_ref.value if p.customer_ref else None
        if ids and cust not in ids:
            continue
        out.append((abs((p.txn_date - day).days), p))
    return out
