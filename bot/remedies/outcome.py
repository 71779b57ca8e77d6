"""What a remedy run answers, and how a remedy's steps stop it.

``RemedyOutcome`` (with its ``RemedyResult``) is what ``run_remedy`` returns to the listener.
A remedy's steps raise ``RemedyRefused`` (nothing was written: the remedy does not fit the
payment) or ``RemedyFailed`` (a step did not do what it should), and end with a
``RemedyDone`` that says how the failure record stands afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.errors import ExplainedError
from bot.models import FailureRecord, FailureStatus, RemedyKind, Resolution


class RemedyResult(StrEnum):
    """How a click ended, from the clicker's point of view."""

    OK = "ok"
    FAILED = "failed"  # a step failed; the message says what was done and what to do next
    REFUSED = "refused"  # nothing was written: the remedy does not fit the payment
    BUSY = "busy"  # someone else's remedy holds the payment's lease
    STALE = "stale"  # the button was drawn before another remedy ran
    ALREADY_RESOLVED = "already_resolved"
    NOT_FOUND = "not_found"  # the bot has no failure record for this payment
    CHANGED = "changed"  # the facts changed since the button was drawn: nothing was written


@dataclass
class RemedyOutcome:
    """What ``run_remedy`` did. ``message`` is mrkdwn for the user who clicked (ephemeral)."""

    kind: RemedyKind
    payment_id: str
    result: RemedyResult
    message: str
    record: FailureRecord | None = None
    holder: str | None = None  # who holds the lease, for BUSY

    @property
    def ok(self) -> bool:
        return self.result == RemedyResult.OK


class RemedyRefused(ExplainedError):
    """The remedy does not fit the payment; nothing was written."""


class RemedyFailed(ExplainedError):
    """A step did not do what it should; the text says so in plain words."""


@dataclass
class RemedyDone:
    """How a remedy's steps left the failure: ``status`` (resolved, or waiting for
    ConnectBooster's sync), the ``message`` for the clicker, and how it was resolved."""

    status: FailureStatus
    message: str
    resolution: Resolution | None = None
