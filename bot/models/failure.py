"""What the bot keeps about each failed payment (``FailureRecord``): its status and
resolution (moved by ``bot.lifecycle`` alone), its Slack message, the remedy journal, the plans
its card shows, its history; and the audit line and list row derived from it."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bot.models.causes import Cause, RemedyKind, utcnow
from bot.models.diagnosis import Diagnosis
from bot.models.plans import RemedyPlan
from cb.models import Payment as CBPayment


class FailureStatus(StrEnum):
    """Where a failure stands. Only ``bot.lifecycle`` moves a record from one to another."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"  # a remedy holds the lease
    WAITING_SYNC = "waiting_sync"  # fixed in QBO, waiting for ConnectBooster's next sync
    RESOLVED = "resolved"


class ResolutionHow(StrEnum):
    """How a failure came to be resolved. The values are what records already stored in
    Redis hold, so they load unchanged."""

    SYNCED = "synced"  # ConnectBooster's sync recorded the payment in QuickBooks
    DISMISSED = "dismissed"  # syncing dismissed (in Slack or in the portal)
    DELETED = "deleted"  # removed from ConnectBooster's payment history
    RECREATED = "recreated"  # the bot created the payment in QuickBooks
    UNAPPLIED = "unapplied"  # a credit memo un-applied from Slack, then synced
    RECEIPT_DELETED = "receipt-deleted"  # a refunded payment's receipt deleted in QuickBooks
    PORTAL = "portal"  # done in the ConnectBooster portal by a person (gateway mode)


class Resolution(BaseModel):
    how: ResolutionHow
    by: str | None = None  # Slack user id, or None when resolved outside Slack
    at: AwareDatetime = Field(default_factory=utcnow)
    detail: str | None = None


class SlackRef(BaseModel):
    channel: str
    ts: str
    thread_ts: str | None = None  # the digest thread it was posted in
    permalink: str | None = None


class StepState(StrEnum):
    """Where one journaled step of a remedy stands."""

    STARTED = "started"  # recorded before its external write; its outcome may be unknown
    DONE = "done"
    FAILED = "failed"  # refused for sure: nothing was written, a new attempt redoes it


class JournalOutcome(StrEnum):
    """How a journaled remedy ended (``None`` on the journal while it runs)."""

    OK = "ok"
    FAILED = "failed"
    REFUSED = "refused"  # the remedy did not fit the payment; nothing was written


class RemedyStep(BaseModel):
    """One step of a remedy, recorded before its external write (crash safety)."""

    name: str  # e.g. "qbo_create_payment", "cb_dismiss"
    state: StepState = StepState.STARTED
    request_id: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    at: AwareDatetime = Field(default_factory=utcnow)


class RemedyJournal(BaseModel):
    """A remedy in flight or finished: start-up resumes or reports unfinished ones."""

    kind: RemedyKind
    user: str
    attempt: int = 1
    started_at: AwareDatetime = Field(default_factory=utcnow)
    finished_at: AwareDatetime | None = None
    outcome: JournalOutcome | None = None
    error: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    plan: RemedyPlan | None = None  # the plan this journal writes, step by step (its order)
    steps: list[RemedyStep] = Field(default_factory=list)

    def step(self, name: str) -> RemedyStep | None:
        return next((s for s in self.steps if s.name == name), None)


class HistoryEntry(BaseModel):
    at: AwareDatetime = Field(default_factory=utcnow)
    who: str | None = None
    what: str


class FailureRecord(BaseModel):
    """Everything the bot keeps about one failed ConnectBooster payment.

    ``status`` and ``resolution`` are set by ``bot.lifecycle`` alone, which checks each move,
    notes it in ``history``, saves the record and redraws its Slack message."""

    model_config = ConfigDict(validate_assignment=False)

    payment_id: str
    payment: CBPayment
    diagnosis: Diagnosis | None = None
    status: FailureStatus = FailureStatus.OPEN
    resolution: Resolution | None = None
    slack: SlackRef | None = None
    remedy: RemedyJournal | None = None  # the latest remedy
    remedy_attempts: int = 0
    plans: dict[RemedyKind, RemedyPlan] = Field(default_factory=dict)  # what the card offers
    history: list[HistoryEntry] = Field(default_factory=list)
    first_seen_at: AwareDatetime = Field(default_factory=utcnow)
    updated_at: AwareDatetime = Field(default_factory=utcnow)

    @property
    def cause(self) -> Cause:
        return self.diagnosis.cause if self.diagnosis else Cause.UNKNOWN

    @property
    def is_open(self) -> bool:
        return self.status != FailureStatus.RESOLVED

    def note(self, what: str, who: str | None = None) -> None:
        self.history.append(HistoryEntry(what=what, who=who))
        self.updated_at = utcnow()


class AuditEntry(BaseModel):
    """One line of the audit stream: who did what, when, with what result."""

    at: AwareDatetime = Field(default_factory=utcnow)
    user: str
    action: str
    payment_id: str
    reference: str | None = None
    result: str  # ok | failed | refused
    detail: str | None = None


class FailureSummary(BaseModel):
    """The compact row ``/failed-payments list`` needs, kept in one Redis hash."""

    payment_id: str
    reference: str
    customer: str
    amount: Decimal
    cause: Cause
    status: FailureStatus
    paid_at: AwareDatetime
    first_seen_at: AwareDatetime
    permalink: str | None = None

    @classmethod
    def of(cls, rec: FailureRecord) -> FailureSummary:
        return cls(
            payment_id=rec.payment_id,
            reference=rec.payment.reference,
            customer=rec.payment.customer.name,
            amount=rec.payment.amount,
            cause=rec.cause,
            status=rec.status,
            paid_at=rec.payment.paid_at,
            first_seen_at=rec.first_seen_at,
            permalink=rec.slack.permalink if rec.slack else None,
        )
