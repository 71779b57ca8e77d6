"""The team's work joined to the rest, end to end through the harness: the App Home is
republished for its recent viewers when a remedy finishes (not only at the next poll), a
remedy's save leaves the owner index right for ``mine``, and the burst digest names the
owner of each listed failure where one is known."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.models import FailureStatus, RemedyKind
from bot.poll.cycle import poll_once
from bot.slack.ids import ActionId
from tests.harness import FAILED_CHANNEL, FINANCE_USER, FINANCE_USER_2, World, world
from tests.test_commands import command, text_of
from tests.test_remedies_e2e import click, seed, until_status
from tests.test_team_e2e import team_click
from tests.test_team_home import home_text, open_home


@pytest.fixture
async def w(redis_url: str, redis_prefix: str, redis_client: aioredis.Redis) -> AsyncIterator[Any]:
    async with world(redis_url, redis_prefix, "all-causes") as built:
        if built.slack._base_url is None:
            built.slack.base_url = built.slack_url
        yield built


async def test_a_finished_remedy_refreshes_the_home_and_keeps_mine_right(w: World) -> None:
    recs = await seed(w, ["paid-manually", "credit-memo"])
    fixed, kept = recs["paid-manually"], recs["credit-memo"]
    await open_home(w, FINANCE_USER_2)
    for rec in (fixed, kept):
        await team_click(w, rec, ActionId.TAKE, FINANCE_USER_2)
    await w.slack.wait_until(lambda: "Yours* (2)" in home_text(w, FINANCE_USER_2))
    publishes = sum(1 for c in w.slack.calls if c.method == "views.publish")

    await click(w, fixed, RemedyKind.DISMISS_SYNC, FINANCE_USER)
    await until_status(w, fixed.payment_id, FailureStatus.RESOLVED)
    # no poll runs here: only the remedy's end can republish it
    await w.slack.wait_until(lambda: "Yours* (1)" in home_text(w, FINANCE_USER_2))
    assert sum(1 for c in w.slack.calls if c.method == "views.publish") > publishes
    mine = text_of(await command(w, "mine", user=FINANCE_USER_2))
    assert kept.payment.reference in mine and fixed.payment.reference not in mine
    assert "1 open failure" in mine


async def test_the_burst_digest_names_known_owners(redis_url: str, redis_prefix: str) -> None:
    async with world(redis_url, redis_prefix, "all-causes", bot_overrides={"digest_after": 3}) as w:
        w.slack.rate_limit_enabled = False
        store = w.services.store
        for pid in w.scenario.failed_ids:  # e.g. failures that open again keep their owner
            assert await store.take_owner(pid, FINANCE_USER_2) is None
        report = await poll_once(w.services, post_interval=0.0)
        [digest] = w.slack.messages(FAILED_CHANNEL)
        assert report.digest_ts == digest.ts
        _text, first_blocks = digest.versions[0]
        assert f"owner <@{FINANCE_USER_2}>" in json.dumps(first_blocks)  # as posted
        assert f"owner <@{FINANCE_USER_2}>" in json.dumps(digest.blocks)  # as redrawn
        assert (await store.open_totals("owner"))[FINANCE_USER_2].count == len(
            w.scenario.failed_ids
        )
