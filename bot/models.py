"""The bot's domain: why a payment failed (``Diagnosis``), what can be done about it
(``RemedyKind``) and what the bot keeps about each failure (``FailureRecord``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cb.models import Payment as CBPayment


def utcnow() -> datetime:
    """Now, with a time zone (UTC)."""
    return datetime.now(UTC)


class Cause(StrEnum):
    """Why QuickBooks rejected the receipt for one invoice. Values are the short names
    users type in filters (``cause:credit-memo``)."""

    PAID_MANUALLY = "paid-manually"
    CREDIT_MEMO = "credit-memo"
    RECREATED = "recreated"
    DELETED = "deleted"
    VOIDED = "voided"
    AMOUNT_CHANGED = "amount-changed"
    ALREADY_IN_QBO = "already-in-qbo"
    UNKNOWN = "unknown"
    NONE = "none"  # this invoice is fine; another one on the payment is the cause

    @property
    def label(self) -> str:
        return CAUSE_LABELS[self]


CAUSE_LABELS: dict[Cause, str] = {
    Cause.PAID_MANUALLY: "Paid manually in QuickBooks",
    Cause.CREDIT_MEMO: "Credit memo applied",
    Cause.RECREATED: "Invoice deleted and recreated",
    Cause.DELETED: "Invoice deleted",
    Cause.VOIDED: "Invoice voided",
    Cause.AMOUNT_CHANGED: "Invoice amount changed",
    Cause.ALREADY_IN_QBO: "Already in QuickBooks",
    Cause.UNKNOWN: "Cause unknown",
    Cause.NONE: "No problem found",
}


class Certainty(StrEnum):
    CERTAIN = "certain"  # QBO's records prove it
    LIKELY = "likely"  # a number or amount match only


class RemedyKind(StrEnum):
    """The one-click remedies, in the words of ConnectBooster's article."""

    DISMISS_SYNC = "dismiss_sync"
    DELETE_HISTORY = "delete_history"
    UNAPPLY_CREDIT_MEMO = "unapply_credit_memo"
    RECREATE_PAYMENT = "recreate_payment"
    RECHECK = "recheck"


class EvidenceObject(BaseModel):
    """One QBO object a finding rests on, with a link a bookkeeper can open."""

    type: str  # Invoice, Payment, CreditMemo, ...
    id: str
    number: str | None = None  # DocNumber or PaymentRefNum
    amount: Decimal | None = None
    balance: Decimal | None = None
    date: str | None = None  # TxnDate, ISO
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    deleted: bool = False
    url: str | None = None
    note: str | None = None  # what this object shows, in words


class Finding(BaseModel):
    """What happened to one invoice the payment applies to."""

    invoice_id: str
    invoice_number: str
    applied: Decimal  # what the ConnectBooster payment applies to it
    cause: Cause
    certainty: Certainty = Certainty.CERTAIN
    summary: str  # one sentence
    evidence: list[EvidenceObject] = Field(default_factory=list)
    # ids the remedies act on
    credit_memo_payment_id: str | None = None  # the $0 payment applying a credit memo
    credit_memo_id: str | None = None
    credit_memo_amount: Decimal | None = None
    replacement_invoice_id: str | None = None
    replacement_candidates: list[str] = Field(default_factory=list)


class Diagnosis(BaseModel):
    """Why QuickBooks rejected one ConnectBooster payment, and what to do about it."""

    payment_id: str
    reference: str
    cause: Cause  # the dominant cause over all findings
    certainty: Certainty
    findings: list[Finding]
    remedies: list[RemedyKind]  # ordered: the first is the recommended one
    summary: str  # one sentence a finance person understands
    next_step: str  # what to do, in plain words
    sync_error_code: str | None = None
    sync_error_message: str | None = None
    existing_qbo_payment_id: str | None = None  # a QBO payment already carrying the reference
    diagnosed_at: AwareDatetime = Field(default_factory=utcnow)

    @property
    def recommended(self) -> RemedyKind | None:
        return self.remedies[0] if self.remedies else None


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
