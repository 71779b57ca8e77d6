"""``bot.commands.parse_team``: the team's words of ``/failed-payments`` (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.commands.parse import CommandError, ListCommand, ShowCommand, parse_command
from bot.commands.parse_team import (
    AssignCommand,
    MineCommand,
    SnoozeCommand,
    UnsnoozeCommand,
    parse_any,
    parse_user,
)


def test_mine_and_its_alias() -> None:
    assert parse_any("mine") == MineCommand()
    assert parse_any("MY") == MineCommand()


def test_assign_takes_a_mention_as_slack_sends_it() -> None:
    assert parse_any("assign CB10234 <@U0JANE123|jane>") == AssignCommand("CB10234", "U0JANE123")
    assert parse_any("reassign CB10234 <@U0JANE123>") == AssignCommand("CB10234", "U0JANE123")
    assert parse_any("assign cb10234 U0JANE123") == AssignCommand("cb10234", "U0JANE123")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("assign CB10234", "a reference and a person"),
        ("assign CB10234 @jane", "pick the person from Slack's list"),
        ("assign CB10234 jane", "is not a person"),
        ("assign CB10234 <@U0JANE123> extra", "a reference and a person"),
        ("mine please", "`mine` takes nothing after it"),
        ("snooze", "needs a CB reference and a date"),
        ("snooze CB10234 2026-12-05", "needs `until`"),
        ("snooze CB10234 until tomorrow", "wants a date like `2026-12-05` or the word `sync`"),
        ("snooze CB10234 until 2026-13-40", "wants a date"),
        ("unsnooze", "`unsnooze` needs a CB reference"),
        ("unsnooze CB1 CB2", "takes one reference"),
        ("snooze CB10234 until sync " + "x" * 400, "keep it under 300"),
    ],
)
def test_mistakes_are_named(text: str, words: str) -> None:
    with pytest.raises(CommandError) as err:
        parse_any(text)
    assert words in err.value.message


def test_snooze_until_a_date_or_the_next_sync_with_a_reason() -> None:
    assert parse_any("snooze CB10234 until 2026-12-05") == SnoozeCommand(
        "CB10234", date(2026, 12, 5), ""
    )
    assert parse_any('snooze CB10234 until 2026-12-05 waiting for "the bank"') == SnoozeCommand(
        "CB10234", date(2026, 12, 5), "waiting for the bank"
    )
    assert parse_any("snooze CB10234 until sync resync queued") == SnoozeCommand(
        "CB10234", None, "resync queued"
    )
    assert parse_any("snooze CB10234 UNTIL next-sync") == SnoozeCommand("CB10234", None, "")
    assert parse_any("unsnooze CB10234") == UnsnoozeCommand("CB10234")


def test_other_words_go_to_the_existing_parser() -> None:
    assert parse_any("") == ListCommand()
    assert parse_any("show CB10234") == ShowCommand("CB10234")
    assert parse_any("cause:credit-memo") == parse_command("cause:credit-memo")


def test_a_near_miss_suggests_the_team_words() -> None:
    with pytest.raises(CommandError) as err:
        parse_any("mien")
    assert "did you mean `mine`" in err.value.message
    with pytest.raises(CommandError) as err:
        parse_any("snoze CB1 until sync")
    assert "did you mean `snooze`" in err.value.message


def test_parse_user() -> None:
    assert parse_user("<@W0ABCDEF|x>") == "W0ABCDEF"
    assert parse_user("@U0ABCDEFG") == "U0ABCDEFG"
    with pytest.raises(CommandError):
        parse_user("<#C0CHANNEL|general>")
