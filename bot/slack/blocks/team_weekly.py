"""The weekly summary message (pure): failures found, fixed (by remedy and by whom), still
open, and the failure rate of each of the last 8 weeks — all read from one
``WeeklyData``, the same object the chart (``bot.team.chart``) is drawn from."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bot.formats import fmt_rate
from bot.slack.blocks.common import (
    Block,
    context,
    escape,
    fallback,
    fields_section,
    header,
    plural,
    section,
    user_ref,
)
from bot.slack.blocks.labels import RESOLVED_HOW
from bot.team.weekly_data import OUTSIDE_SLACK, WeeklyData

MAX_LINES = 15


def _day(d: date) -> str:
    return f"{d.day} {d:%b}"


def _rate(rate: Decimal, failures: int, payments: int) -> str:
    """A week's rate with what it counts; no payments counted with failures found means the
    payments were not counted (no ConnectBooster contract), not a rate of 0%."""
    if payments == 0 and failures:
        return f"not known ({failures:,} failed; payments are counted by ConnectBooster's contract)"
    return f"{fmt_rate(rate)} ({failures:,} of {plural(payments, 'payment')})"


def weekly_message(data: WeeklyData) -> tuple[str, list[Block]]:
    """The summary of the week ``data.start`` .. ``data.end``."""
    week = data.weeks[-1]
    title = f"Failed payments, week of {_day(data.start)} to {_day(data.end)} {data.end:%Y}"
    blocks: list[Block] = [
        header(title),
        fields_section(
            [
                f"*Found*\n{data.found:,}",
                f"*Fixed*\n{data.fixed:,}",
                f"*Still open*\n{data.still_open:,}",
                f"*Failure rate*\n{_rate(week.rate, week.failures, week.payments)}",
            ]
        ),
    ]
    if data.fixed_by_remedy:
        lines = [
            f"• {escape(RESOLVED_HOW.get(how, how))}: {n:,}"
            for how, n in sorted(data.fixed_by_remedy.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        blocks.append(section("*Fixed, by how*\n" + "\n".join(lines[:MAX_LINES])))
    if data.fixed_by_person:
        lines = [
            f"• {user_ref(who) if who != OUTSIDE_SLACK else 'ConnectBooster or the portal'}: {n:,}"
            for who, n in sorted(data.fixed_by_person.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        blocks.append(section("*Fixed, by whom*\n" + "\n".join(lines[:MAX_LINES])))
    rates = [f"• {_day(w.start)}: {_rate(w.rate, w.failures, w.payments)}" for w in data.weeks]
    blocks.append(section("*Failure rate per week*\n" + "\n".join(rates)))
    blocks.append(
        context(
            "The chart below draws the daily failure rate and the open backlog of the same "
            f"{len(data.days)} days. Days in the books' time zone; through {fmt_date_day(data)}."
        )
    )
    text = (
        f"{title}: {data.found} found, {data.fixed} fixed, {data.still_open} still open, "
        f"failure rate {fmt_rate(week.rate)}"
    )
    return fallback(text), blocks


def fmt_date_day(data: WeeklyData) -> str:
    """The summary's last day, e.g. "6 Dec 2026"."""
    return f"{_day(data.end)} {data.end:%Y}"
