"""The team's words of ``/failed-payments`` end to end: signed slash commands through the
Slack stand-in, replies read back from its ``response_url``: ``mine``, ``assign``,
``snooze``/``unsnooze``, the owner on ``list`` and ``show`` rows, snoozed failures apart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from tests.harness import FINANCE_USER, FINANCE_USER_2, OUTSIDER, World, world
from tests.test_commands import command, text_of
from tests.test_remedies_e2e import seed


@pytest.fixture
async def w(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> AsyncIterator[World]:
    async with world(redis_url, redis_prefix, "all-causes") as w:
        if w.slack._base_url is None:
            w.slack.base_url = w.slack_url
        yield w


async def test_assign_mine_list_and_show_carry_the_owner(w: World) -> None:
    recs = await seed(w, ["paid-manually", "credit-memo"])
    ref = recs["paid-manually"].payment.reference
    other = recs["credit-memo"].payment.reference
    assert "You own no open failed payment" in text_of(await command(w, "mine"))

    told = text_of(await command(w, f"assign {ref} <@{OUTSIDER}|out>"))
    assert "is not a finance user" in told and "Nothing changed" in told
    assert await w.services.store.owner_of(recs["paid-manually"].payment_id) is None

    told = text_of(await command(w, f"assign {ref} <@{FINANCE_USER_2}|jane>"))
    assert f"now owned by <@{FINANCE_USER_2}>" in told
    mine = text_of(await command(w, "mine", user=FINANCE_USER_2))
    assert ref in mine and other not in mine
    assert "You own no open" in text_of(await command(w, "mine"))

    listed = text_of(await command(w, "list"))
    assert f"owner <@{FINANCE_USER_2}>" in listed and "unowned" in listed
    shown = text_of(await command(w, f"show {ref}"))
    assert f"Owner: <@{FINANCE_USER_2}>" in shown
    assert any(
        a.action == "reassign" and a.user == FINANCE_USER
        for a in await w.services.store.audit_entries(10, refused=False)
    )


async def test_snooze_and_unsnooze_by_command_and_the_list_shows_snoozed_apart(
    w: World,
) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    w.services.clock = lambda: now
    recs = await seed(w, ["paid-manually"])
    ref = recs["paid-manually"].payment.reference
    told = text_of(await command(w, f"snooze {ref} until 2026-11-30 late"))
    assert "Pick a day after today" in told
    told = text_of(await command(w, f"snooze {ref} until 2026-12-05 waiting for the bank"))
    assert f"{ref} is snoozed until 5 Dec 2026" in told
    listed = text_of(await command(w, "list"))
    assert "Snoozed (1)" in listed and "waiting for the bank" in listed
    assert ":zzz: snoozed" in listed
    assert "is awake again" in text_of(await command(w, f"unsnooze {ref}"))
    assert "is not snoozed" in text_of(await command(w, f"unsnooze {ref}"))
    assert "Snoozed (" not in text_of(await command(w, "list"))
    assert "No failed payment has the reference" in text_of(
        await command(w, "snooze CB999999 until sync")
    )


async def test_an_outsider_may_not_use_the_team_words(w: World) -> None:
    recs = await seed(w, ["paid-manually"])
    ref = recs["paid-manually"].payment.reference
    for text in ("mine", f"assign {ref} <@{OUTSIDER}>", f"snooze {ref} until sync"):
        told = text_of(await command(w, text, user=OUTSIDER))
        assert "You can't do that" in told
    assert await w.services.store.owner_of(recs["paid-manually"].payment_id) is None
    assert await w.services.store.snoozed_ids() == []


async def test_help_names_the_team_words_and_mistakes_are_explained(w: World) -> None:
    helped = text_of(await command(w, "help", user=OUTSIDER))
    assert "`mine`" in helped and "`assign CB10234 @jane`" in helped and "unsnooze" in helped
    told = text_of(await command(w, "assign CB10234 @jane"))
    assert "pick the person from Slack's list" in told


async def test_list_counts_only_the_failures_awake_and_shows_the_snoozed_apart(
    w: World,
) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    w.services.clock = lambda: now
    recs = await seed(w, ["paid-manually", "credit-memo"])
    ref = recs["paid-manually"].payment.reference
    awake = recs["credit-memo"].payment.reference
    assert "2 open failures" in text_of(await command(w, "list"))
    await command(w, f"snooze {ref} until 2026-12-05 waiting for the bank")
    listed = await command(w, "list")
    main, _, apart = text_of(listed).partition("Snoozed (1)")
    assert "1 open failure*" in main and awake in main and ref not in main
    assert ref in apart and awake not in apart
    filtered = text_of(await command(w, "list cause:paid-manually"))
    assert "No open failed payments" in filtered and "Snoozed (1)" in filtered
    await command(w, f"unsnooze {ref}")
    assert "2 open failures" in text_of(await command(w, "list"))
