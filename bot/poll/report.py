"""What one poll cycle did (``PollReport``): filled in by the cycle and the steps it calls
(posting, digest, failed-again, sweep), read by ``/failed-payments recheck``, the tests and the
benchmarks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class PollReport:
    """What one poll cycle did. ``skipped`` says why it did nothing (another holder)."""

    started_at: datetime
    finished_at: datetime | None = None
    skipped: str | None = None
    new: list[str] = field(default_factory=list)  # posted (or adopted) this cycle
    updated: list[str] = field(default_factory=list)  # failed again: message redrawn
    resolved: list[str] = field(default_factory=list)  # resolved outside Slack
    still_open: int = 0  # open failures after the cycle
    adopted: list[str] = field(default_factory=list)  # found already posted after a crash
    state_lost: bool = False  # Redis lost the state; this cycle recovered from Slack
    expired: list[str] = field(default_factory=list)  # resolved failures past retention
    digest_ts: str | None = None
    first_post_seconds: float | None = None  # from the cycle's start to the first message
    top_level_posts: int = 0
    thread_posts: int = 0
    alert: Any = None  # bot.alerts.watch.AlertReport when an alert went out
    alert_error: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "updated": len(self.updated),
            "resolved": len(self.resolved),
            "still_open": self.still_open,
        }
