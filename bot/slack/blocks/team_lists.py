"""Pure builders for the team's lists: ``/failed-payments mine``, the snoozed section under
a list page, the owner/snooze note on a list row, and the answer to a team command."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.models import FailureSummary, TeamRow
from bot.slack.blocks.common import (
    Block,
    context,
    escape,
    fallback,
    fmt_age,
    header,
    link,
    money,
    plural,
    section,
    truncate,
    user_ref,
)
from bot.slack.blocks.team import snooze_words


def row_note(owner: str | None, snoozed: bool) -> str:
    """What a list row adds: " · owner @x", " · :zzz: snoozed" (or nothing)."""
    note = f" · owner {user_ref(owner)}" if owner else " · unowned"
    return note + (" · :zzz: snoozed" if snoozed else "")


def team_row_text(row: TeamRow, now: datetime) -> str:
    rec = row.record
    p = rec.payment
    ref = f"*{escape(p.reference)}*"
    if rec.slack is not None and rec.slack.permalink:
        ref = link(rec.slack.permalink, ref)
    line = (
        f"{ref} · {escape(truncate(p.customer.name, 80))} · *{money(p.amount, p.currency)}* · "
        f"{escape(rec.cause.label)} · {fmt_age(now - rec.first_seen_at)} old"
    )
    if row.owner:
        line += f" · owner {user_ref(row.owner)}"
    if row.snooze is not None:
        why = escape(truncate(row.snooze.reason, 150))
        line += f"\n:zzz: snoozed {snooze_words(row.snooze)} — {why}"
    return line


def _rows_section(rows: Sequence[TeamRow], now: datetime) -> list[Block]:
    """Rows packed into sections of at most 3,000 characters."""
    out: list[Block] = []
    current = ""
    for r in rows:
        text = team_row_text(r, now)
        if current and len(current) + len(text) + 2 > 2900:
            out.append(section(current))
            current = ""
        current = f"{current}\n\n{text}" if current else text
    if current:
        out.append(section(current))
    return out


def snoozed_section(rows: Sequence[TeamRow], total: int, now: datetime) -> list[Block]:
    """The snoozed failures, apart from the open list (nothing when none is snoozed)."""
    if total == 0:
        return []
    blocks: list[Block] = [
        section(f"*:zzz: Snoozed ({total:,})* — not counted above, left out of reminders")
    ]
    blocks.extend(_rows_section(rows, now))
    if total > len(rows):
        blocks.append(context(f"… and {plural(total - len(rows), 'more snoozed failure')}"))
    return blocks


def mine_message(rows: Sequence[TeamRow], total: int, now: datetime) -> tuple[str, list[Block]]:
    """``/failed-payments mine``: the open failures the asker owns, oldest first."""
    blocks: list[Block] = [header("Failed payments you own")]
    if total == 0:
        blocks.append(
            section("You own no open failed payment. Press *Take it* on a card to own one.")
        )
        return fallback("You own no open failed payments"), blocks
    blocks.append(section(f"*{plural(total, 'open failure')}* owned by you, oldest first"))
    blocks.extend(_rows_section(rows, now))
    if total > len(rows):
        blocks.append(context(f"… and {total - len(rows):,} more not shown"))
    return fallback(f"You own {total} open failed payments"), blocks


def team_answer(ok: bool, message: str) -> tuple[str, list[Block]]:
    """The answer to ``assign``, ``snooze`` or ``unsnooze``."""
    icon = ":white_check_mark:" if ok else ":warning:"
    return fallback(message), [section(f"{icon} {message}")]


MAX_REMINDER_ROWS = 30


def reminder_message(
    rows: Sequence[tuple[FailureSummary, str | None]], after_days: int, now: datetime
) -> tuple[str, list[Block]]:
    """The working-day reminder: failures open longer than ``after_days``, in the order
    given (unowned first), at most ``MAX_REMINDER_ROWS``, the rest counted."""
    total = len(rows)
    unowned = sum(1 for _, owner in rows if owner is None)
    title = f"{plural(total, 'failed payment')} waiting more than {plural(after_days, 'day')}"
    blocks: list[Block] = [
        header(truncate(title, 150)),
        section(
            f"*{unowned:,} unowned* — press *Take it* on a card, or "
            "`/failed-payments assign CB… @person`."
            if unowned
            else "Each has an owner."
        ),
    ]
    lines = []
    for s, owner in rows[:MAX_REMINDER_ROWS]:
        ref = (
            link(s.permalink, f"*{escape(s.reference)}*")
            if s.permalink
            else f"*{escape(s.reference)}*"
        )
        who = f"owner {user_ref(owner)}" if owner else "*unowned*"
        lines.append(
            f"{ref} · {escape(truncate(s.customer, 60))} · {money(s.amount)} · "
            f"{fmt_age(now - s.first_seen_at)} old · {who}"
        )
    current = ""
    for line in lines:
        if current and len(current) + len(line) + 1 > 2900:
            blocks.append(section(current))
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        blocks.append(section(current))
    if total > MAX_REMINDER_ROWS:
        more = total - MAX_REMINDER_ROWS
        blocks.append(context(f"{more:,} more — use `/failed-payments list older:{after_days}d`"))
    blocks.append(context("Snoozed failures are left out. `/failed-payments mine` lists yours."))
    return fallback(f"{title}: {unowned} unowned"), blocks
