"""The gateway's transactions, from the same world as the ConnectBooster stand-in.

Every payment made in the ConnectBooster portal (``CBPortal.payments``, and those deleted
from its history: the money was still taken) is a gateway sale made by ConnectBooster's
gateway user, settled ``settle_after`` later (once that time has come by the ledger's clock).
Refunds, voids and returns are added with :meth:`GatewayLedger.reverse`; sales that are not
ConnectBooster's (a terminal at the front desk, another portal) with
:meth:`GatewayLedger.add_transaction`.

What ConnectBooster writes into ``order_id`` is not documented; ``order_style`` chooses:
``"invoices"`` (the invoice numbers, as another portal on the same gateway does) or
``"none"`` (nothing: the bot must match by customer, amount and date).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from cb.models import Payment
from gateway.models import Action, Condition, Transaction
from sandbox.cb.portal import CBPortal

CB_USERNAME = "connectbooster"
OrderStyle = Literal["invoices", "none"]


def transaction_id_for(payment_id: str) -> str:
    """A stable 10-digit gateway transaction id for a portal payment."""
    digest = int(hashlib.sha256(payment_id.encode()).hexdigest()[:12], 16)
    return str(1_000_000_000 + digest % 9_000_000_000)


class GatewayLedger:
    """The gateway's transactions: the portal's payments as sales, plus what was added."""

    def __init__(
        self,
        portal: CBPortal | None = None,
        *,
        cb_username: str = CB_USERNAME,
        settle_after: timedelta = timedelta(hours=2),
        order_style: OrderStyle = "invoices",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.portal = portal
        self.cb_username = cb_username
        self.settle_after = settle_after
        self.order_style: OrderStyle = order_style
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.extra: dict[str, Transaction] = {}
        self.reversals: dict[str, list[Action]] = {}  # transaction id → its reversals
        self.payer: dict[str, dict[str, str]] = {}  # portal payment id → name/e-mail fields

    # ------------------------------------------------------------ building the world

    def add_transaction(self, t: Transaction) -> Transaction:
        """A transaction that is not a portal payment (another user's sale, say)."""
        self.extra[t.transaction_id] = t
        return t

    def reverse(
        self,
        payment_id_or_txn: str,
        kind: Literal["refund", "void", "return"],
        at: datetime,
        amount: Decimal | None = None,
    ) -> str:
        """Refund, void or return a sale (all of it unless ``amount``); its transaction id."""
        tid = self.txn_id(payment_id_or_txn)
        sale = self._sale_amount(tid)
        self.reversals.setdefault(tid, []).append(
            Action(
                action_type=kind,
                amount=sale if amount is None else amount,
                date=at,
                username=self.cb_username,
                response_text="SUCCESS",
                response_code="100",
            )
        )
        return tid

    def txn_id(self, payment_id_or_txn: str) -> str:
        if payment_id_or_txn in self.extra:
            return payment_id_or_txn
        return transaction_id_for(payment_id_or_txn)

    def _sale_amount(self, tid: str) -> Decimal:
        for t in self.transactions():
            if t.transaction_id == tid:
                return t.amount
        raise KeyError(tid)

    # ------------------------------------------------------------ what the gateway holds

    def portal_payments(self) -> Iterable[Payment]:
        if self.portal is None:
            return []
        return [*self.portal.payments.values(), *self.portal.deleted.values()]

    def transactions(self) -> list[Transaction]:
        """Every transaction as the gateway shows it now."""
        now = self.clock()
        out = [self._from_payment(p, now) for p in self.portal_payments()]
        out.extend(self._with_reversals(t) for t in self.extra.values())
        return [t for t in out if t.actions and t.actions[0].date <= now]

    def _from_payment(self, p: Payment, now: datetime) -> Transaction:
        tid = transaction_id_for(p.id)
        sale = Action(
            action_type="sale",
            amount=p.amount,
            date=p.paid_at,
            username=self.cb_username,
            source="api",
            response_text="SUCCESS",
            response_code="100",
        )
        actions = [sale]
        settle_at = p.paid_at + self.settle_after
        if settle_at <= now:
            actions.append(
                Action(action_type="settle", amount=p.amount, date=settle_at, batch_id="7001")
            )
        numbers = [a.invoice_number for a in p.applications]
        payer = {"company": p.customer.name, **self.payer.get(p.id, {})}
        base = Transaction(
            transaction_id=tid,
            transaction_type="ck" if p.method == "ach" else "cc",
            condition=Condition.COMPLETE if len(actions) > 1 else Condition.PENDING_SETTLEMENT,
            order_id=",".join(numbers) if self.order_style == "invoices" else "",
            order_description=(
                f"Invoice {', '.join(numbers)}" if self.order_style == "invoices" else "Payment"
            ),
            currency=p.currency,
            actions=actions,
            **payer,
        )
        return self._with_reversals(base)

    def _with_reversals(self, t: Transaction) -> Transaction:
        extra = [a for a in self.reversals.get(t.transaction_id, []) if a.date <= self.clock()]
        if not extra:
            return t
        actions = sorted([*t.actions, *extra], key=lambda a: a.date)
        condition = t.condition
        if any(a.action_type == "void" for a in extra):
            condition = Condition.CANCELED
        return t.model_copy(update={"actions": actions, "condition": condition})
