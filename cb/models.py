"""ConnectBooster payments and sync states, as the contract in docs/connectbooster-api.md
describes them. Money is ``Decimal``; times are timezone-aware."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_serializer


class SyncStatus(StrEnum):
    PENDING = "pending"
    SYNCED = "synced"
    FAILED = "failed"
    DISMISSED = "dismissed"


class CBModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def money_str(value: Decimal) -> str:
    """Money on the wire: a decimal string with two places."""
    return f"{value.quantize(Decimal('0.01'))}"


class Customer(CBModel):
    id: str
    name: str
    qb_customer_id: str | None = None


class Application(CBModel):
    """The part of a payment applied to one invoice (amounts come from QuickBooks)."""

    invoice_number: str
    qb_invoice_id: str
    amount: Decimal

    @field_serializer("amount")
    def _amount(self, v: Decimal) -> str:
        return money_str(v)


class SyncError(CBModel):
    """What QuickBooks answered on the last sync attempt (its Fault code and text)."""

    code: str | None = None
    message: str = ""


class SyncState(CBModel):
    status: SyncStatus
    attempts: int = 0
    last_attempt_at: AwareDatetime | None = None
    qb_payment_id: str | None = None
    error: SyncError | None = None


class Payment(CBModel):
    id: str
    reference: str
    customer: Customer
    amount: Decimal
    currency: str = "USD"
    method: str | None = None
    paid_at: AwareDatetime
    applications: list[Application] = Field(default_factory=list)
    sync: SyncState
    updated_at: AwareDatetime

    @field_serializer("amount")
    def _amount(self, v: Decimal) -> str:
        return money_str(v)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body the contract describes (decimal strings, RFC 3339 times)."""
        return self.model_dump(mode="json")


class PaymentPage(CBModel):
    items: list[Payment]
    next_cursor: str | None = None


class SyncStats(CBModel):
    since: datetime
    total: int
    synced: int = 0
    pending: int = 0
    failed: int = 0
    dismissed: int = 0

    @property
    def failure_rate(self) -> Decimal:
        """Failed over all payments paid in the window; zero when there were none."""
        if self.total <= 0:
            return Decimal(0)
        return Decimal(self.failed) / Decimal(self.total)
