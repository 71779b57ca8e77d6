"""The weekly summary's numbers, computed once (pure) and read by both the message and the
chart, so the two cannot disagree: :class:`WeeklyData` from the failures' life spans
(:class:`Span`) and ConnectBooster's payment counts per day.

Days are calendar days in ``BOOKS_TIMEZONE``. The summary covers the 7 days before the day it
is sent; its history the ``WEEKS`` weeks before that. A day's failure rate is the failures
among the payments paid that day (failures from the bot's records, payments from
ConnectBooster); the open backlog is how many failures were open at the day's end.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

WEEKS = 8
DAYS = WEEKS * 7
OUTSIDE_SLACK = ""
"""``fixed_by_person`` key of failures nobody clicked (ConnectBooster synced them)."""


@dataclass(frozen=True)
class Span:
    """One failure's life as the summary needs it."""

    paid_at: datetime
    first_seen_at: datetime
    resolved_at: datetime | None = None
    how: str | None = None
    by: str | None = None


@dataclass(frozen=True)
class Day:
    """One day: failures among the payments paid that day, and the backlog at its end."""

    day: date
    failures: int
    payments: int
    backlog: int

    @property
    def rate(self) -> Decimal:
        return Decimal(self.failures) / Decimal(self.payments) if self.payments else Decimal(0)


@dataclass(frozen=True)
class Week:
    """Seven days summed: the week's failure rate."""

    start: date
    failures: int
    payments: int

    @property
    def rate(self) -> Decimal:
        return Decimal(self.failures) / Decimal(self.payments) if self.payments else Decimal(0)


@dataclass(frozen=True)
class WeeklyData:
    """Everything the weekly summary says and draws."""

    start: date  # the first day of the summarised week
    end: date  # its last day
    found: int
    fixed_by_remedy: dict[str, int]
    fixed_by_person: dict[str, int]
    still_open: int
    days: list[Day]  # DAYS of them, oldest first, the last one ``end``
    weeks: list[Week]  # WEEKS of them, oldest first, the last one the summarised week

    @property
    def fixed(self) -> int:
        return sum(self.fixed_by_remedy.values())


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """``day``'s start and the next day's start in ``tz``."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def history_days(sent_on: date) -> list[date]:
    """The ``DAYS`` days before ``sent_on``, oldest first."""
    return [sent_on - timedelta(days=DAYS - i) for i in range(DAYS)]


def compute(
    spans: list[Span], payments_per_day: dict[date, int], sent_on: date, tz: ZoneInfo
) -> WeeklyData:
    """The summary sent on ``sent_on`` (pure; see the module doc)."""
    days = history_days(sent_on)
    failed_on = Counter(s.paid_at.astimezone(tz).date() for s in spans)
    rows: list[Day] = []
    for d in days:
        _, d_end = day_bounds(d, tz)
        backlog = sum(
            1
            for s in spans
            if s.first_seen_at < d_end and (s.resolved_at is None or s.resolved_at >= d_end)
        )
        rows.append(Day(d, failed_on.get(d, 0), payments_per_day.get(d, 0), backlog))
    weeks = [
        Week(
            rows[i].day,
            sum(r.failures for r in rows[i : i + 7]),
            sum(r.payments for r in rows[i : i + 7]),
        )
        for i in range(0, DAYS, 7)
    ]
    start, end = days[-7], days[-1]
    w_start, _ = day_bounds(start, tz)
    _, w_end = day_bounds(end, tz)
    fixed = [s for s in spans if s.resolved_at is not None and w_start <= s.resolved_at < w_end]
    return WeeklyData(
        start=start,
        end=end,
        found=sum(1 for s in spans if w_start <= s.first_seen_at < w_end),
        fixed_by_remedy=dict(Counter(s.how or "unknown" for s in fixed)),
        fixed_by_person=dict(Counter(s.by or OUTSIDE_SLACK for s in fixed)),
        still_open=sum(1 for s in spans if s.resolved_at is None or s.resolved_at >= w_end),
        days=rows,
        weeks=weeks,
    )
