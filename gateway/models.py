"""Gateway transactions as the Query API describes them (``<transaction>`` with flat fields
and one ``<action>`` per event). Money is ``Decimal``; times are timezone-aware (UTC).

A transaction's story is read from its actions: the sale (or capture), the settlement
(``settle``, or a non-zero ``batch_id``), and reversals (``refund``, ``void``, ``return``,
``credit``) — each counted only when ``success`` is 1.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ZERO = Decimal("0.00")


class Condition(StrEnum):
    """A transaction's ``condition`` (its state at the gateway)."""

    PENDING = "pending"
    PENDING_SETTLEMENT = "pendingsettlement"
    IN_PROGRESS = "in_progress"
    ABANDONED = "abandoned"
    FAILED = "failed"
    CANCELED = "canceled"
    COMPLETE = "complete"
    UNKNOWN = "unknown"


SALE_ACTIONS = frozenset({"sale", "capture"})
REVERSAL_ACTIONS = frozenset({"refund", "void", "return", "credit"})
SETTLING = frozenset({Condition.PENDING_SETTLEMENT, Condition.COMPLETE})


class GatewayModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Action(GatewayModel):
    """One event on a transaction."""

    action_type: str
    amount: Decimal = ZERO
    date: AwareDatetime
    success: bool = True
    source: str = ""
    username: str = ""
    response_text: str = ""
    response_code: str = ""
    batch_id: str = ""
    requested_amount: Decimal | None = None

    @property
    def settled(self) -> bool:
        return self.action_type == "settle" or self.batch_id not in ("", "0")


class Transaction(GatewayModel):
    """One gateway transaction and its actions, oldest first."""

    transaction_id: str
    transaction_type: str = ""
    condition: str = Condition.UNKNOWN.value
    order_id: str = ""
    order_description: str = ""
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    email: str = ""
    customerid: str = ""
    currency: str = "USD"
    actions: list[Action] = Field(default_factory=list)

    @property
    def sale(self) -> Action | None:
        """The successful sale (or capture) that took the money, if any."""
        for a in self.actions:
            if a.action_type in SALE_ACTIONS and a.success:
                return a
        return None

    @property
    def amount(self) -> Decimal:
        sale = self.sale
        return sale.amount if sale is not None else ZERO

    @property
    def paid_at(self) -> datetime | None:
        sale = self.sale
        return sale.date if sale is not None else None

    @property
    def modified_at(self) -> datetime | None:
        """The last action's time: what ``start_date``/``end_date`` filter on."""
        return max((a.date for a in self.actions), default=None)

    @property
    def settled_at(self) -> datetime | None:
        for a in self.actions:
            if a.success and a.settled:
                return a.date
        return None

    @property
    def settling(self) -> bool:
        """A sale the gateway took or settled (``pendingsettlement`` or ``complete``)."""
        return self.sale is not None and self.condition in SETTLING

    @property
    def reversals(self) -> list[Action]:
        """Successful refunds, voids, returns and credits, oldest first."""
        return [a for a in self.actions if a.action_type in REVERSAL_ACTIONS and a.success]

    @property
    def reversed_amount(self) -> Decimal:
        """How much of the sale went back (a void, or a canceled sale, is all of it)."""
        if self.condition == Condition.CANCELED or any(
            a.action_type == "void" for a in self.reversals
        ):
            return self.amount
        total = sum((a.amount for a in self.reversals), ZERO)
        return min(total, self.amount)

    @property
    def usernames(self) -> set[str]:
        return {a.username for a in self.actions if a.username}

    def made_by(self, usernames: frozenset[str] | set[str]) -> bool:
        """Whether the sale was made by one of ``usernames`` (empty: every sale counts)."""
        if not usernames:
            return True
        sale = self.sale
        names = {sale.username} if sale is not None else self.usernames
        return bool({n.lower() for n in names} & {u.lower() for u in usernames})
