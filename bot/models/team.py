"""What the team keeps about a failure beside its record: who owns it, and its snooze.

Neither is a status (``bot.lifecycle`` alone changes those): they live in their own Redis
keys (``bot.store.team``) so taking a failure never races a remedy saving the record, and are
read when the card, the list, the digest or the App Home is drawn (:class:`TeamView`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel

from bot.models.failure import FailureRecord


class SnoozeKind(StrEnum):
    """Until when a snooze lasts."""

    UNTIL = "until"  # a date and time (the start of a day in BOOKS_TIMEZONE)
    NEXT_SYNC = "next_sync"  # ConnectBooster's next sync attempt of the payment


class Snooze(BaseModel):
    """A failure set aside by ``by`` for ``reason``: until ``until``, or until ConnectBooster
    tries to sync the payment again (its ``attempts`` grow past ``attempts``)."""

    kind: SnoozeKind
    by: str
    reason: str
    at: AwareDatetime
    until: AwareDatetime | None = None
    attempts: int = 0

    def due(self, now: datetime, attempts: int) -> bool:
        """Has it woken (its date passed, or a newer sync attempt happened)?"""
        if self.kind == SnoozeKind.UNTIL:
            return self.until is not None and now >= self.until
        return attempts > self.attempts


class TeamView(BaseModel):
    """The team's facts about one failure, as the card and the lists show them."""

    owner: str | None = None
    snooze: Snooze | None = None


@dataclass(frozen=True)
class TeamRow:
    """One failure with its owner and snooze, as ``mine``, the snoozed section, the
    reminders and the App Home show it."""

    record: FailureRecord
    owner: str | None
    snooze: Snooze | None
