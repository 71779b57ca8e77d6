"""The team's pure Block Kit builders: the card's owner line and buttons, the reassign and
snooze modals, the reminder and ``mine`` messages, the Home tab for an outsider — all within
Slack's limits (the stand-in's validators) whatever the data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.models import FailureStatus, FailureSummary, Snooze, SnoozeKind, TeamRow, TeamView
from bot.slack.blocks import failure_message
from bot.slack.blocks.home import HomeData, home_view, outsider_home
from bot.slack.blocks.team import reassign_modal, snooze_modal, team_buttons, team_line
from bot.slack.blocks.team_lists import (
    MAX_REMINDER_ROWS,
    mine_message,
    reminder_message,
    row_note,
    snoozed_section,
)
from bot.slack.ids import ViewId
from sandbox.slack import validate_blocks, validate_view
from sandbox.slack.validation import validate_home_view
from tests.test_blocks import make_record

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def _team_row(blocks: list[dict]) -> list[str]:
    return [
        e["action_id"]
        for b in blocks
        if b["type"] == "actions" and b.get("block_id", "").startswith("fp_team:")
        for e in b["elements"]
    ]


def test_the_card_shows_the_owner_and_the_snooze_and_the_buttons_follow() -> None:
    rec = make_record()
    snooze = Snooze(
        kind=SnoozeKind.UNTIL,
        by="U0B",
        reason="waiting for <the bank> & co",
        at=NOW,
        until=NOW + timedelta(days=2),
    )
    _, blocks = failure_message(rec, team=TeamView(owner="U0A", snooze=snooze))
    assert validate_blocks(blocks) == []
    text = json.dumps(blocks)
    assert "Owner: <@U0A>" in text and "*Snoozed* until <!date^" in text
    assert "&lt;the bank&gt; &amp; co" in text  # the reason is escaped
    assert _team_row(blocks) == ["fp_release", "fp_reassign", "fp_unsnooze"]
    _, plain = failure_message(rec)
    assert _team_row(plain) == ["fp_take", "fp_reassign", "fp_snooze"]
    assert "Owner:" not in json.dumps(plain)


def test_no_team_buttons_while_a_remedy_runs_or_once_resolved() -> None:
    for status in (FailureStatus.IN_PROGRESS, FailureStatus.RESOLVED):
        assert team_buttons(make_record(status=status), TeamView()) is None
    assert team_line(TeamView()) is None
    assert team_buttons(make_record(status=FailureStatus.WAITING_SYNC), TeamView()) is not None


def test_the_modals_are_valid_and_carry_the_payment() -> None:
    rec = make_record()
    view = reassign_modal(rec, owner="U0A", channel="C1")
    assert validate_view(view) == [] and view["callback_id"] == ViewId.REASSIGN
    assert json.loads(view["private_metadata"])["p"] == rec.payment_id
    view = snooze_modal(rec, channel=None, today="2026-12-04")
    assert validate_view(view) == [] and view["callback_id"] == ViewId.SNOOZE
    kinds = [b for b in view["blocks"] if b.get("block_id") == "fp_snooze_kind"]
    assert [o["value"] for o in kinds[0]["element"]["options"]] == ["until", "next_sync"]


def _summary(i: int) -> FailureSummary:
    return FailureSummary(
        payment_id=f"p{i}",
        reference=f"CB{10000 + i}",
        customer="Northwind & Sons " * 10,
        amount=Decimal("1234.50"),
        cause=make_record().cause,
        status=FailureStatus.OPEN,
        paid_at=NOW - timedelta(days=9),
        first_seen_at=NOW - timedelta(days=5, hours=i),
        permalink="https://x.test/" + "p" * 400,
    )


def test_the_reminder_caps_its_rows_and_counts_the_rest() -> None:
    rows = [(_summary(i), None if i % 2 else "U0A") for i in range(500)]
    text, blocks = reminder_message(rows, 3, NOW)
    assert validate_blocks(blocks) == [] and len(blocks) <= 50
    body = json.dumps(blocks, ensure_ascii=False)
    assert f"{500 - MAX_REMINDER_ROWS} more — use `/failed-payments list older:3d`" in body
    assert "500 failed payments waiting more than 3 days" in text and "250 unowned" in text


def test_mine_and_the_snoozed_section_and_the_row_note() -> None:
    rec = make_record()
    snooze = Snooze(kind=SnoozeKind.NEXT_SYNC, by="U0A", reason="r" * 300, at=NOW)
    rows = [TeamRow(rec, "U0A", snooze)] * 40
    _, blocks = mine_message(rows[:30], 40, NOW)
    assert validate_blocks(blocks) == []
    assert "10 more not shown" in json.dumps(blocks)
    _, empty = mine_message([], 0, NOW)
    assert "You own no open failed payment" in json.dumps(empty)
    section = snoozed_section(rows[:10], 1234, NOW)
    assert validate_blocks(section) == [] and "Snoozed (1,234)" in json.dumps(section)
    assert snoozed_section([], 0, NOW) == []
    assert row_note("U0A", True) == " · owner <@U0A> · :zzz: snoozed"
    assert row_note(None, False) == " · unowned"


def test_the_home_tab_for_an_outsider_and_with_nothing_open() -> None:
    view = outsider_home("<@U0A> or <@U0B>")
    assert validate_home_view(view) == [] and "may see and act" in json.dumps(view)
    view = home_view(HomeData(now=NOW))
    assert validate_home_view(view) == []
    assert "unavailable" in json.dumps(view)  # no 30-day rate read
