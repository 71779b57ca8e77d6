"""The bot's domain types, one module per concern, all importable from ``bot.models``:

- ``causes``: why a payment failed (``Cause``), how sure (``Certainty``), the remedies
  (``RemedyKind``), and ``utcnow``;
- ``books``: what QuickBooks already records of a payment (``Books``: R against A);
- ``diagnosis``: ``Finding`` per invoice and the payment's ``Diagnosis``;
- ``plans``: a remedy as its exact writes (``RemedyPlan``);
- ``failure``: what the bot keeps per failure (``FailureRecord``, its status, resolution,
  Slack message, remedy journal, history) and the audit line and list row;
- ``team``: who owns a failure and its snooze (``TeamView``, ``Snooze``), beside the record.
"""

from bot.models.books import Books, InvoiceNeed, RecordedKind, RecordedMoney
from bot.models.causes import CAUSE_LABELS, Cause, Certainty, RemedyKind, utcnow
from bot.models.diagnosis import CreditApplication, Diagnosis, EvidenceObject, Finding
from bot.models.failure import (
    AuditEntry,
    FailureRecord,
    FailureStatus,
    FailureSummary,
    HistoryEntry,
    JournalOutcome,
    RemedyJournal,
    RemedyStep,
    Resolution,
    ResolutionHow,
    SlackRef,
    StepState,
)
from bot.models.plans import PlannedWrite, RemedyPlan, WriteKind
from bot.models.team import Snooze, SnoozeKind, TeamRow, TeamView

__all__ = [
    "CAUSE_LABELS",
    "AuditEntry",
    "Books",
    "Cause",
    "Certainty",
    "CreditApplication",
    "Diagnosis",
    "EvidenceObject",
    "FailureRecord",
    "FailureStatus",
    "FailureSummary",
    "Finding",
    "HistoryEntry",
    "InvoiceNeed",
    "JournalOutcome",
    "PlannedWrite",
    "RecordedKind",
    "RecordedMoney",
    "RemedyJournal",
    "RemedyKind",
    "RemedyPlan",
    "RemedyStep",
    "Resolution",
    "ResolutionHow",
    "SlackRef",
    "Snooze",
    "SnoozeKind",
    "StepState",
    "TeamRow",
    "TeamView",
    "WriteKind",
    "utcnow",
]
