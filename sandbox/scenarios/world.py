"""What a scenario built: the causes it made fail, and the :class:`World` it hands back.

The causes are ``bot.models.Cause`` values, written out here because the stand-ins do not
import the bot; :data:`FAULT_CODES` is the QBO fault code each cause's rejection carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from cb.models import Payment, SyncStatus
from sandbox.cb import CBSandbox
from sandbox.qbo import SandboxCompany

# Causes (bot.models.Cause values; the sandbox does not import the bot).
PAID_MANUALLY = "paid-manually"
CREDIT_MEMO = "credit-memo"
RECREATED = "recreated"
DELETED = "deleted"
VOIDED = "voided"
AMOUNT_CHANGED = "amount-changed"
ALREADY_IN_QBO = "already-in-qbo"
INACTIVE_CUSTOMER = "inactive-customer"
UNKNOWN = "unknown"
NONE = "none"

# The QBO fault code each cause's rejection carries.
FAULT_CODES = {
    PAID_MANUALLY: "6000",
    CREDIT_MEMO: "6000",
    RECREATED: "610",
    DELETED: "610",
    VOIDED: "6000",
    AMOUNT_CHANGED: "6000",
    ALREADY_IN_QBO: "6000",
    INACTIVE_CUSTOMER: "610",
    UNKNOWN: "610",
}

SCENARIOS = ("credit-memo", "all-causes", "bad-settings")


@dataclass
class World:
    """What a scenario built, and what the bot should find.

    ``expected`` maps each failed payment whose invoices share one cause to that cause
    (``bot.models.Cause`` values). A payment over several invoices with different causes is
    in ``expected_by_invoice`` instead: payment id → {QBO invoice id → cause} (``"none"`` for
    an invoice that is fine). ``expected_codes`` is the QBO fault code each failure carries.
    """

    name: str
    realm_id: str
    company: SandboxCompany
    cb: CBSandbox
    now: datetime
    auto_apply_credit: bool
    expected: dict[str, str] = field(default_factory=dict)
    expected_by_invoice: dict[str, dict[str, str]] = field(default_factory=dict)
    expected_codes: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # payment id → what happened, in words
    intended_failure_rate: tuple[Decimal, Decimal] = (Decimal(0), Decimal(1))
    synced_run: bool = True  # False: payments left pending, no sync has run yet

    @property
    def failed_ids(self) -> set[str]:
        """Every payment the scenario made fail."""
        return set(self.expected) | set(self.expected_by_invoice)

    def failure_rate(self) -> Decimal:
        """Failed over all payments in the ConnectBooster sandbox now."""
        total = len(self.cb.payments)
        if not total:
            return Decimal(0)
        failed = sum(1 for p in self.cb.payments.values() if p.sync.status == SyncStatus.FAILED)
        return Decimal(failed) / Decimal(total)

    def summary(self) -> str:
        """One line: what is in this world."""
        counts: dict[str, int] = {}
        for p in self.cb.payments.values():
            counts[p.sync.status.value] = counts.get(p.sync.status.value, 0) + 1
        parts = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        return (
            f"scenario {self.name!r}: {len(self.cb.payments)} payments ({parts}); "
            f"failure rate {self.failure_rate() * 100:.1f}%"
        )

    def expect_failure(self, p: Payment, cause: str, note: str) -> None:
        """Note that ``p`` fails for ``cause`` (its fault code follows), and why in words."""
        self.expected[p.id] = cause
        self.expected_codes[p.id] = FAULT_CODES[cause]
        self.notes[p.id] = note
