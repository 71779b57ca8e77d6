"""What each gateway sale means for the books (pure): the verdicts of one reconciliation.

For every transaction, from the gateway's story and the QuickBooks facts read in bulk:

- ``ignored``: not a sale ConnectBooster made (another gateway user, no successful sale, or a
  declined / abandoned one);
- ``waiting``: younger than ``TRANSFER_GRACE_MINUTES``, or not yet settling: not expected in
  QuickBooks yet;
- ``healthy``: its receipt is in QuickBooks (``bot.reconcile.receipts``);
- ``reversed``: refunded, voided or returned at the gateway and no receipt stands: the books
  are right;
- ``refunded``: refunded, voided or returned at the gateway while the receipt still stands
  (the new cause: the receipt must be voided or deleted);
- ``failed``: settled or settling, past the grace period, and no receipt: a failed transfer,
  diagnosed by the same rules as the contract's failures (a hand payment is "paid manually").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.reconcile.allocate import Allocation
from bot.reconcile.customers import CustomerMatch
from gateway.models import Condition, Transaction
from qb.models import Payment as QBPayment


class Verdict(StrEnum):
    IGNORED = "ignored"
    WAITING = "waiting"
    HEALTHY = "healthy"
    REVERSED = "reversed"
    REFUNDED = "refunded"
    FAILED = "failed"


FLAGGED = frozenset({Verdict.FAILED, Verdict.REFUNDED})
"""Verdicts that become a failure card."""
SETTLED = frozenset({Verdict.HEALTHY, Verdict.REVERSED, Verdict.IGNORED})
"""Verdicts after which the sale needs no more watching (until the gateway changes it)."""


@dataclass(frozen=True)
class Reconciled:
    """One transaction's verdict with what it rests on."""

    txn: Transaction
    verdict: Verdict
    customer: CustomerMatch
    receipt: QBPayment | None = None
    allocation: Allocation | None = None

    @property
    def transaction_id(self) -> str:
        return self.txn.transaction_id


def before_qbo(
    t: Transaction, now: datetime, grace: timedelta, usernames: frozenset[str]
) -> Verdict | None:
    """The verdict the gateway alone gives (``None``: QuickBooks must be read)."""
    if t.sale is None or not t.made_by(usernames):
        return Verdict.IGNORED
    if t.condition in (Condition.FAILED, Condition.ABANDONED):
        return Verdict.IGNORED
    reversed_ = bool(t.reversals) or t.condition == Condition.CANCELED
    if not reversed_ and (not t.settling or (t.paid_at or now) > now - grace):
        return Verdict.WAITING
    return None


def with_receipt(t: Transaction, receipt: QBPayment | None) -> Verdict:
    """The verdict once the receipt was looked for."""
    reversed_ = bool(t.reversals) or t.condition == Condition.CANCELED
    if reversed_:
        return (
            Verdict.REFUNDED
            if receipt is not None and receipt.total_amt > 0
            else (Verdict.REVERSED)
        )
    return Verdict.HEALTHY if receipt is not None else Verdict.FAILED
