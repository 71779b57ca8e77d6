"""What every remedy plan shares: the ``PlanContext`` it is made in, the plan's frame (payment,
A, R and currency, from the record's ``Books``), refusals, the ConnectBooster writes and the
words for money and places that the plans' lines and refusals use.

Pure: no I/O, nothing but the record, the facts and the context. ``bot.remedies.plan`` (the
entry point, ``plan_remedy``) and the planners of each remedy (``plan_recreate``,
``plan_unapply``) build on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.formats import cents, money
from bot.models import (
    Books,
    FailureRecord,
    InvoiceNeed,
    PlannedWrite,
    RecordedMoney,
    RemedyKind,
    RemedyPlan,
    WriteKind,
)
from cb.models import SyncStatus

ZERO = Decimal("0.00")

GATEWAY_PREFIX = "gw-"
"""The id prefix of a failure found by the gateway reconciliation (``bot.reconcile``)."""
PORTAL_DISMISS_NOTE = (
    "Dismiss syncing of it in the ConnectBooster portal too, so ConnectBooster's sync does "
    "not record it again (the bot cannot reach the portal)."
)
PORTAL_RETRY_NOTE = "ConnectBooster's next sync run retries it (the bot cannot reach the portal)."
STEP_CB_DISMISS = "cb_dismiss"
STEP_CB_DELETE = "cb_delete"
STEP_CB_RESYNC = "cb_resync"
STEP_QBO_CREATE = "qbo_create_payment"
STEP_QBO_UNAPPLY = "qbo_unapply"  # + ":<$0 payment id>"
STEP_QBO_REACTIVATE = "qbo_reactivate_customer"


@dataclass(frozen=True)
class PlanContext:
    """What a plan needs besides the record and the facts (read fresh by ``fresh_plan``)."""

    books_tz: ZoneInfo  # BOOKS_TIMEZONE: TxnDate is the local date of the payment there
    deposit_account_id: str | None  # Undeposited Funds (or QBO_DEPOSIT_ACCOUNT_ID)
    home_currency: str = "USD"
    multi_currency: bool = False
    customer_currency: str | None = None  # the QuickBooks customer's currency
    exchange_rate: Decimal | None = None  # home per foreign unit, when the currencies differ
    user: str = ""  # the Slack user the plan is for (named in the private note)


class Frame:
    """One plan's fixed parts: the record, its books, and how to finish the plan."""

    def __init__(self, kind: RemedyKind, rec: FailureRecord, ctx: PlanContext) -> None:
        self.kind = kind
        self.rec = rec
        self.ctx = ctx
        self.payment = rec.payment
        self.books: Books | None = rec.diagnosis.books if rec.diagnosis else None

    @property
    def amount(self) -> Decimal:
        """A: the ConnectBooster payment's amount."""
        return cents(self.payment.amount)

    @property
    def recorded(self) -> Decimal:
        """R: what QuickBooks records for the payment now (0 without books)."""
        return cents(self.books.recorded_total) if self.books is not None else ZERO

    @property
    def currency(self) -> str:
        return self.payment.currency

    def money(self, amount: Decimal) -> str:
        """``amount`` in the payment's currency, as people read it."""
        return money(amount, self.currency)

    def plan(
        self,
        writes: tuple[PlannedWrite, ...] = (),
        *,
        recorded_after: Decimal | None = None,
        refusal: str | None = None,
        notes: tuple[str, ...] = (),
        pick: str | None = None,
    ) -> RemedyPlan:
        """The plan of this frame; ``recorded_after`` defaults to R (nothing recorded)."""
        return RemedyPlan(
            kind=self.kind,
            payment_id=self.payment.id,
            reference=self.payment.reference,
            amount=self.amount,
            currency=self.currency,
            recorded_before=self.recorded,
            recorded_after=self.recorded if recorded_after is None else cents(recorded_after),
            writes=writes if refusal is None else (),
            refusal=refusal,
            notes=notes,
            pick=pick if refusal is None else None,
            requested_by=self.ctx.user,
        )

    def refuse(self, why: str) -> RemedyPlan:
        """A refused plan: nothing is written, ``why`` says so in a sentence."""
        return self.plan(refusal=why)

    @property
    def portal_only(self) -> bool:
        """Found at the gateway (``gw-…``): the bot cannot reach ConnectBooster for this
        payment; what ConnectBooster would do is done in its portal by a person."""
        return self.payment.id.startswith(GATEWAY_PREFIX)

    def cb_writes(self, *writes: PlannedWrite) -> tuple[PlannedWrite, ...]:
        """``writes`` (ConnectBooster calls), or none for a payment found at the gateway."""
        return () if self.portal_only else writes

    def cb_write(self, step: str, kind: WriteKind, reads_as: str) -> PlannedWrite:
        """A ConnectBooster call on this payment."""
        return PlannedWrite(step=step, kind=kind, target_id=self.payment.id, reads_as=reads_as)

    def dismiss_write(self) -> PlannedWrite:
        return self.cb_write(
            STEP_CB_DISMISS,
            WriteKind.CB_DISMISS,
            f"Dismiss syncing of {self.payment.reference} in ConnectBooster",
        )

    def resync_write(self) -> PlannedWrite:
        return self.cb_write(
            STEP_CB_RESYNC,
            WriteKind.CB_RESYNC,
            f"Ask ConnectBooster to sync {self.payment.reference} again: its sync records "
            f"{self.money(self.amount)} in QuickBooks",
        )

    def status_refusal(self, *, allow_dismissed: bool) -> str | None:
        """Why ConnectBooster's state of the payment (re-read at click time) rules this
        remedy out, or None."""
        status = self.payment.sync.status
        if status == SyncStatus.SYNCED:
            qb_id = self.payment.sync.qb_payment_id
            where = f" as payment {qb_id}" if qb_id else ""
            return (
                f"ConnectBooster has synced {self.payment.reference} to QuickBooks{where} "
                "meanwhile: nothing is left to fix. Press *Re-check*"
            )
        if status == SyncStatus.DISMISSED and not allow_dismissed:
            return (
                f"Syncing of {self.payment.reference} is dismissed in ConnectBooster "
                "already, so ConnectBooster will not send it again. Press *Re-check*"
            )
        return None

    def books_refusal(self) -> str | None:
        """A refusal when the record has no books to plan from."""
        if self.books is None:
            return "there is no up-to-date diagnosis of this payment to plan from: press *Re-check*"
        return None

    def twice_refusal(self) -> str:
        """R > A: QuickBooks records more than was paid; names the payments."""
        assert self.books is not None
        extra = self.recorded - self.amount
        return (
            f"QuickBooks records {self.money(self.recorded)} for this payment, "
            f"{self.money(extra)} more than the {self.money(self.amount)} paid — it is "
            f"recorded twice: {recorded_list(self.books.recorded, self.currency)}. Delete "
            "the extra payment in QuickBooks, then press *Re-check*"
        )


def recorded_list(recorded: tuple[RecordedMoney, ...], currency: str) -> str:
    """``payment 41 (CB10234, synced, $1,000.00), payment 52 (by hand, $250.00)``."""
    parts = []
    for r in recorded:
        ref = f"{r.reference}, " if r.reference else ""
        kind = r.kind.value.replace("_", " ")
        parts.append(f"payment {r.qbo_payment_id} ({ref}{kind}, {money(r.amount, currency)})")
    return ", ".join(parts) if parts else "no payment"


def unrecorded_where(books: Books) -> str:
    """Where the unrecorded money of ``books`` belongs: ``$250.00 on invoice 1002 and
    $100.00 of the client's overpayment``."""
    cur = books.currency
    parts = [
        f"{money(n.need, cur)} on invoice {n.invoice_number}"
        for n in books.needs
        if cents(n.need) > 0
    ]
    rest = cents(books.unrecorded) - sum(
        (cents(n.need) for n in books.needs if cents(n.need) > 0), ZERO
    )
    if rest > 0:
        parts.append(f"{money(rest, cur)} of the client's overpayment")
    if not parts:
        return "on no particular invoice"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def positive_needs(books: Books) -> list[InvoiceNeed]:
    """The invoice applications that still need money recorded, in the payment's order."""
    return [n for n in books.needs if cents(n.need) > 0]


__all__ = [
    "STEP_CB_DELETE",
    "STEP_CB_DISMISS",
    "STEP_CB_RESYNC",
    "STEP_QBO_CREATE",
    "STEP_QBO_REACTIVATE",
    "STEP_QBO_UNAPPLY",
    "ZERO",
    "Frame",
    "PlanContext",
    "positive_needs",
    "recorded_list",
    "unrecorded_where",
]
