"""The team's ``/failed-payments`` words run: ``mine``, ``assign``, ``snooze``,
``unsnooze`` (parsed by ``bot.commands.parse_team``), and what ``list`` adds of the team.
Each answers the reply to show the asker (text and blocks)."""

from __future__ import annotations

from bot.commands.parse import ListFilters
from bot.commands.parse_team import (
    AssignCommand,
    MineCommand,
    SnoozeCommand,
    TeamCommand,
    UnsnoozeCommand,
)
from bot.models import FailureSummary
from bot.runtime.services import Services
from bot.slack.blocks.common import Block
from bot.slack.blocks.team_lists import mine_message, row_note, snoozed_section, team_answer
from bot.team import listing, ownership
from bot.team import snooze as snoozing

NO_REASON = "(no reason given)"


async def run_team_command(
    services: Services, cmd: TeamCommand, user: str
) -> tuple[str, list[Block]]:
    """Run one team command for ``user`` (a finance user: the gate checked)."""
    if isinstance(cmd, MineCommand):
        rows, total = await listing.mine(services.store, user)
        return mine_message(rows, total, services.clock())
    if isinstance(cmd, AssignCommand):
        result = await ownership.reassign(services, cmd.target, user, cmd.user)
    elif isinstance(cmd, SnoozeCommand):
        reason = cmd.reason or NO_REASON
        result = await snoozing.snooze(services, cmd.target, user, until=cmd.until, reason=reason)
    elif isinstance(cmd, UnsnoozeCommand):
        result = await snoozing.unsnooze(services, cmd.target, user)
    return team_answer(result.ok, result.message)


async def list_additions(
    services: Services, rows: list[FailureSummary], filters: ListFilters | None = None
) -> tuple[dict[str, str], list[Block]]:
    """For a list page: a note per row (its owner) and the section to add under the page:
    the snoozed failures passing the same ``filters``, left out of the page's rows."""
    notes = await listing.row_notes(services.store, [r.payment_id for r in rows])
    now = services.clock()
    shown, total = await listing.snoozed_apart(services.store, filters, now)
    return (
        {pid: row_note(owner, snoozed) for pid, (owner, snoozed) in notes.items()},
        snoozed_section(shown, total, now),
    )
