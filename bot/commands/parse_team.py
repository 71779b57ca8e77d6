"""Parsing the team's words of ``/failed-payments`` (pure: no I/O, no Slack): ``mine``,
``assign``, ``snooze`` and ``unsnooze``; every other text goes to ``parse.parse_command``.

Grammar (case-insensitive keywords)::

    /failed-payments mine
    /failed-payments assign <CB reference or payment id> <@person>
    /failed-payments snooze <ref> until <YYYY-MM-DD | sync> [reason ...]
    /failed-payments unsnooze <ref>

A person is a Slack mention (``<@U0123ABC|jane>`` as Slack sends it, or ``<@U0123ABC>``) or
a bare user id. A plain ``@jane`` typed without picking the person from Slack's list is
refused with how to mention them. ``until sync`` (also ``next-sync``) means until
ConnectBooster's next sync attempt of the payment. The date is checked against today by the
bot (``bot.team.snooze``), not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.commands.parse import (
    Command,
    CommandError,
    _code,
    _tokens,
    parse_command,
    parse_target,
)

TEAM_SUBCOMMANDS = ("mine", "assign", "snooze", "unsnooze")
_ALIASES = {"my": "mine", "reassign": "assign", "wake": "unsnooze"}
_MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,30})(?:\|[^>]*)?>$")
_USER_ID = re.compile(r"^@?([UW][A-Z0-9]{6,30})$")
_SYNC_WORDS = ("sync", "next-sync", "nextsync", "next_sync")
MAX_REASON = 300


@dataclass(frozen=True)
class MineCommand:
    """``mine``: the open failures the asker owns."""


@dataclass(frozen=True)
class AssignCommand:
    """``assign <ref> <@person>``."""

    target: str
    user: str


@dataclass(frozen=True)
class SnoozeCommand:
    """``snooze <ref> until <date|sync> [reason]``; ``until`` ``None`` means the next sync."""

    target: str
    until: date | None
    reason: str


@dataclass(frozen=True)
class UnsnoozeCommand:
    """``unsnooze <ref>``."""

    target: str


TeamCommand = MineCommand | AssignCommand | SnoozeCommand | UnsnoozeCommand
TEAM_COMMANDS = (MineCommand, AssignCommand, SnoozeCommand, UnsnoozeCommand)
AnyCommand = Command | TeamCommand


def parse_any(text: str | None) -> AnyCommand:
    """A team command when the text starts with one of ``TEAM_SUBCOMMANDS``, else what
    ``parse_command`` makes of it; ``CommandError`` names the mistake."""
    words = _tokens((text or "").strip()) if text and text.strip() else []
    head = _ALIASES.get(words[0].lower(), words[0].lower()) if words else ""
    if head not in TEAM_SUBCOMMANDS:
        return parse_command(text)
    rest = words[1:]
    if head == "mine":
        if rest:
            raise CommandError(f"`mine` takes nothing after it (got {_code(' '.join(rest))})")
        return MineCommand()
    if head == "assign":
        return _assign(rest)
    if head == "unsnooze":
        return UnsnoozeCommand(parse_target(rest) if rest else _need("unsnooze"))
    return _snooze(rest)


def _need(head: str) -> str:
    raise CommandError(f"`{head}` needs a CB reference, e.g. `{head} CB10234`")


def parse_user(word: str) -> str:
    """A Slack user id from a mention or a bare id; ``CommandError`` otherwise."""
    m = _MENTION.match(word) or _USER_ID.match(word)
    if m:
        return m.group(1)
    if word.startswith("@"):
        raise CommandError(
            f"I can't tell who {_code(word)} is: type `@` and pick the person from Slack's "
            "list, so the command carries their mention"
        )
    raise CommandError(f"{_code(word)} is not a person: mention them, e.g. `@jane`")


def _assign(rest: list[str]) -> AssignCommand:
    if len(rest) != 2:
        raise CommandError("`assign` takes a reference and a person, e.g. `assign CB10234 @jane`")
    return AssignCommand(parse_target(rest[:1]), parse_user(rest[1]))


def _snooze(rest: list[str]) -> SnoozeCommand:
    example = "e.g. `snooze CB10234 until 2026-12-05 waiting for the bank`"
    if not rest:
        raise CommandError(f"`snooze` needs a CB reference and a date, {example}")
    target = parse_target(rest[:1])
    if len(rest) < 3 or rest[1].lower() != "until":
        raise CommandError(f"`snooze` needs `until` and a date or `sync`, {example}")
    when = rest[2].lower()
    reason = " ".join(rest[3:]).strip()
    if len(reason) > MAX_REASON:
        raise CommandError(f"the reason is {len(reason)} characters; keep it under {MAX_REASON}")
    if when in _SYNC_WORDS:
        return SnoozeCommand(target, None, reason)
    try:
        day = date.fromisoformat(rest[2])
    except ValueError:
        raise CommandError(
            f"`until` wants a date like `2026-12-05` or the word `sync`, not {_code(rest[2])}"
        ) from None
    return SnoozeCommand(target, day, reason)
