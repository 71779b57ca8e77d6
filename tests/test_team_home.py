"""The App Home tab: published on ``app_home_opened`` (a signed event through the Slack
stand-in), the team's view for a finance user — by cause and age, theirs, unowned waiting
longest with the remedy buttons and Take it, snoozed, the 30-day rate — and who may act for
an outsider; refreshed after a change; within Block Kit's limits at 10,000 open failures
(the stand-in's ``views.publish`` validates every view as Slack does)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.models import FailureRecord, SlackRef, Snooze, SnoozeKind
from bot.slack.blocks.home import MAX_ROWS, home_view
from bot.slack.ids import ActionId
from bot.team.home import gather
from sandbox.slack.validation import validate_home_view
from tests.harness import FAILED_CHANNEL, FINANCE_USER, FINANCE_USER_2, OUTSIDER, World, world
from tests.test_remedies_e2e import eventually, seed
from tests.test_team_e2e import team_click


@pytest.fixture
async def w(redis_url: str, redis_prefix: str, redis_client: aioredis.Redis) -> AsyncIterator[Any]:
    async with world(redis_url, redis_prefix, "all-causes") as built:
        if built.slack._base_url is None:
            built.slack.base_url = built.slack_url
        yield built


def home_text(w: World, user: str) -> str:
    return json.dumps(w.slack.home_views.get(user, {}))


async def open_home(w: World, user: str) -> None:
    before = sum(1 for c in w.slack.calls if c.method == "views.publish")
    resp = await w.slack.open_home(w.bot.events_url, user_id=user)
    assert resp.status == 200, resp.body
    await w.slack.wait_until(
        lambda: sum(1 for c in w.slack.calls if c.method == "views.publish" and c.ok) > before
    )


async def test_a_finance_user_sees_the_teams_view_with_the_remedy_buttons(w: World) -> None:
    recs = await seed(w, ["paid-manually", "credit-memo"])
    await open_home(w, FINANCE_USER)
    view = w.slack.home_views[FINANCE_USER]
    assert view["type"] == "home" and validate_home_view(view) == []
    text = home_text(w, FINANCE_USER)
    assert "2 open failures" in text and "Open by cause" in text
    assert "Failure rate, last 30 days" in text and "unavailable" not in text
    assert "Yours* (0)" in text and "Unowned, waiting longest* (2)" in text
    ids = {
        el["action_id"] for b in view["blocks"] if b["type"] == "actions" for el in b["elements"]
    }
    assert {"fp_take", "fp_dismiss_sync", "fp_unapply_credit_memo"} <= ids
    ref = recs["paid-manually"].payment.reference
    assert ref in text


async def test_an_outsider_sees_who_may_act(w: World) -> None:
    await seed(w, ["paid-manually"])
    await open_home(w, OUTSIDER)
    text = home_text(w, OUTSIDER)
    assert f"<@{FINANCE_USER}>" in text and "may see and act" in text
    assert "CB" not in text  # no payment shown to an outsider


async def test_it_refreshes_after_a_change(w: World) -> None:
    recs = await seed(w, ["paid-manually"])
    await open_home(w, FINANCE_USER_2)
    assert "Yours* (0)" in home_text(w, FINANCE_USER_2)
    await team_click(w, recs["paid-manually"], ActionId.TAKE, FINANCE_USER_2)
    await w.slack.wait_until(lambda: "Yours* (1)" in home_text(w, FINANCE_USER_2))
    assert "Unowned, waiting longest* (0)" in home_text(w, FINANCE_USER_2)


async def test_within_block_kits_limits_at_10000_open_failures(w: World) -> None:
    """10,000 open failures (summary rows and records written straight to Redis), some owned
    and snoozed: the Home tab summarises and caps, and Slack's checks pass."""
    [template] = (await seed(w, ["credit-memo"])).values()
    store = w.services.store
    now = datetime.now(UTC)

    async def one(i: int) -> None:
        rec = FailureRecord.model_validate(template.model_dump())
        rec.payment_id = f"bulk{i:05d}"
        rec.payment.id = rec.payment_id
        rec.payment.reference = f"CB{900000 + i}"
        rec.payment.customer.name = "A customer with a long name " * 3
        rec.payment.amount = Decimal("1234567.89")
        rec.first_seen_at = now - timedelta(hours=i)
        rec.slack = SlackRef(
            channel="C0FAILED", ts=f"1.{i}", permalink="https://x.test/" + "p" * 300
        )
        await store.put_failure(rec)
        if i % 3 == 0:
            await store.take_owner(rec.payment_id, FINANCE_USER)
        if i % 7 == 1:
            await store.put_snooze(
                rec.payment_id,
                Snooze(kind=SnoozeKind.NEXT_SYNC, by=FINANCE_USER, reason="r" * 300, at=now),
            )

    for start in range(0, 10_000, 20):
        await asyncio.gather(*(one(i) for i in range(start, start + 20)))
    data = await gather(w.services, FINANCE_USER)
    assert data.open_total == 10_001 and data.mine_total == 3334
    assert data.snoozed_total == 1429
    view = home_view(data)
    assert validate_home_view(view) == [] and len(view["blocks"]) <= 100
    text = json.dumps(view, ensure_ascii=False)
    assert text.count("more — use `/failed-payments list`") == 3  # yours, unowned, snoozed
    assert sum(1 for b in view["blocks"] if b["type"] == "actions") <= 2 * MAX_ROWS
    await open_home(w, FINANCE_USER)  # and Slack (the stand-in, validating) takes it
    published = [c for c in w.slack.calls if c.method == "views.publish"]
    assert published[-1].ok


async def test_take_it_on_the_home_tab_and_the_loser_is_told_in_the_channel(w: World) -> None:
    recs = await seed(w, ["paid-manually", "credit-memo"])
    await open_home(w, FINANCE_USER_2)
    pid = recs["paid-manually"].payment_id
    value = json.dumps({"p": pid}, separators=(",", ":"))
    resp = await w.slack.home_click(
        w.bot.events_url, user_id=FINANCE_USER_2, action_id="fp_take", value=value
    )
    assert resp.status == 200
    await eventually(lambda: _owner(w, pid, FINANCE_USER_2))
    other = recs["credit-memo"].payment_id
    assert await w.services.store.take_owner(other, FINANCE_USER) is None  # meanwhile
    value = json.dumps({"p": other}, separators=(",", ":"))
    await w.slack.home_click(
        w.bot.events_url, user_id=FINANCE_USER_2, action_id="fp_take", value=value
    )
    await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER_2, FAILED_CHANNEL)))
    told = w.slack.ephemeral(FINANCE_USER_2, FAILED_CHANNEL)[-1].text
    assert f"already owned by <@{FINANCE_USER}>" in told


async def _owner(w: World, pid: str, user: str) -> bool:
    return await w.services.store.owner_of(pid) == user
