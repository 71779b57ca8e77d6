"""The books equation's terms for one ConnectBooster payment (computed by
``bot.diagnosis.books.account``): what QuickBooks already records of it (``RecordedMoney``, R),
what each invoice application still needs (``InvoiceNeed``) and the client's real overpayment.

For a payment of amount A, after any remedy QuickBooks records exactly A for it — never more;
Dismiss Syncing and Delete are offered only when R = A to the cent (``Books.reconciled``).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class RecordedKind(StrEnum):
    """Why a QuickBooks payment counts as (part of) this ConnectBooster payment's money."""

    SYNCED = "synced"  # carries this payment's reference (ConnectBooster's sync, or by hand)
    RECREATED = "recreated"  # the bot's own recreated payment (its private-note marker)
    BY_HAND = "by_hand"  # another reference, judged the same money


class RecordedMoney(BaseModel):
    """One QuickBooks payment counted as (part of) this ConnectBooster payment's money."""

    model_config = ConfigDict(frozen=True)

    qbo_payment_id: str
    kind: RecordedKind
    amount: Decimal  # the part of it counted for this payment (its money lines, not credit)
    # QBO invoice id -> the part on it (a replacement's id for a recreated invoice); the part
    # on no invoice of the payment (unapplied money) is in ``amount`` only
    invoice_amounts: dict[str, Decimal] = Field(default_factory=dict)
    reference: str | None = None
    certain: bool = True  # the reference matches, or the amounts reconcile to the cent


class InvoiceNeed(BaseModel):
    """What one application of the payment to an invoice still needs recorded in QuickBooks."""

    model_config = ConfigDict(frozen=True)

    invoice_id: str  # the invoice the ConnectBooster payment applies to
    invoice_number: str
    applied: Decimal  # what the ConnectBooster payment applies to it
    recorded: Decimal = Decimal(0)  # the part already recorded in QuickBooks
    target_invoice_id: str | None = None  # where the rest can go; None: a person picks
    room: Decimal = Decimal(0)  # the open balance the target has for it

    @property
    def need(self) -> Decimal:
        """The part of this application QuickBooks does not record yet."""
        return self.applied - self.recorded


class Books(BaseModel):
    """What QuickBooks records of one ConnectBooster payment, and what it still lacks."""

    model_config = ConfigDict(frozen=True)

    amount: Decimal  # A
    currency: str = "USD"
    recorded: tuple[RecordedMoney, ...] = ()
    needs: tuple[InvoiceNeed, ...] = ()
    overpaid: Decimal = Decimal(0)  # A − Σ applied: the client's real overpayment

    @property
    def recorded_total(self) -> Decimal:
        """R: the money QuickBooks already records for this payment."""
        return sum((r.amount for r in self.recorded), Decimal(0))

    @property
    def unrecorded(self) -> Decimal:
        """A − R (negative when QuickBooks records more than A: recorded twice)."""
        return self.amount - self.recorded_total

    @property
    def reconciled(self) -> bool:
        """R = A to the cent: only then may Dismiss Syncing or Delete be offered."""
        return self.unrecorded.quantize(Decimal("0.01")) == 0

    @property
    def unrecorded_overpayment(self) -> Decimal:
        """The part of A − R that belongs to no invoice: the client's overpayment not yet
        recorded (``account`` fills the needs so that Σ need + this = A − R while R ≤ A;
        zero when QuickBooks records more than A)."""
        rest = self.unrecorded - sum((n.need for n in self.needs if n.need > 0), Decimal(0))
        return max(rest, Decimal(0))
