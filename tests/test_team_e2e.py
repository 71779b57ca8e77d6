"""The team's buttons end to end: signed clicks and modal submissions through the Slack
stand-in, the bot wired as in production, a real Redis. Take it, two people taking at once,
an outsider refused, Reassign (only to a finance user), Release, Snooze and its wake-up by the
poller after a restart, Unsnooze."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.models import FailureRecord
from bot.poll.cycle import poll_once
from bot.slack.ids import (
    REASSIGN_ACTION,
    REASSIGN_BLOCK,
    SNOOZE_DATE_ACTION,
    SNOOZE_DATE_BLOCK,
    SNOOZE_KIND_ACTION,
    SNOOZE_KIND_BLOCK,
    SNOOZE_REASON_ACTION,
    SNOOZE_REASON_BLOCK,
    ActionId,
    ViewId,
)
from tests.harness import FINANCE_USER, FINANCE_USER_2, OUTSIDER, World, world
from tests.test_remedies_e2e import eventually, seed


@pytest.fixture
async def w(redis_url: str, redis_prefix: str, redis_client: aioredis.Redis) -> Any:
    async with world(redis_url, redis_prefix, "all-causes") as built:
        yield built


async def _one(w: World) -> FailureRecord:
    return (await seed(w, ["paid-manually"]))["paid-manually"]


async def team_click(w: World, rec: FailureRecord, action: ActionId, user: str) -> Any:
    assert rec.slack is not None
    resp = await w.slack.click(
        w.bot.events_url,
        message_ts=rec.slack.ts,
        channel=rec.slack.channel,
        action_id=action.value,
        user_id=user,
    )
    assert resp.status == 200, resp.body
    return resp


def card_text(w: World, rec: FailureRecord) -> str:
    assert rec.slack is not None
    msg = w.slack.message(rec.slack.channel, rec.slack.ts)
    assert msg is not None
    return json.dumps(msg.blocks)


def team_buttons(w: World, rec: FailureRecord) -> list[str]:
    assert rec.slack is not None
    msg = w.slack.message(rec.slack.channel, rec.slack.ts)
    assert msg is not None
    return [
        str(el.get("action_id"))
        for bid, el in msg.action_elements()
        if str(bid or "").startswith("fp_team:")
    ]


async def opened_view(w: World, callback: ViewId, before: set[str]) -> str:
    def found() -> list[str]:
        return [
            i
            for i, v in w.slack.views.items()
            if i not in before and v.view.get("callback_id") == callback.value
        ]

    await w.slack.wait_until(lambda: bool(found()))
    return found()[0]


async def test_take_it_shows_the_owner_audits_and_offers_release(w: World) -> None:
    rec = await _one(w)
    assert team_buttons(w, rec) == ["fp_take", "fp_reassign", "fp_snooze"]
    await team_click(w, rec, ActionId.TAKE, FINANCE_USER)
    await eventually(lambda: _owner_is(w, rec, FINANCE_USER))
    await w.slack.wait_until(lambda: f"Owner: <@{FINANCE_USER}>" in card_text(w, rec))
    assert team_buttons(w, rec) == ["fp_release", "fp_reassign", "fp_snooze"]
    audit = await w.services.store.audit_entries(10, refused=False)
    assert any(a.action == "take" and a.user == FINANCE_USER for a in audit)
    assert rec.payment_id in await w.services.store.owned_by(FINANCE_USER)


async def _owner_is(w: World, rec: FailureRecord, user: str | None) -> bool:
    return await w.services.store.owner_of(rec.payment_id) == user


async def test_an_outsider_is_refused_and_nothing_changes(w: World) -> None:
    rec = await _one(w)
    await team_click(w, rec, ActionId.TAKE, OUTSIDER)
    await w.slack.wait_until(lambda: bool(w.slack.ephemeral(OUTSIDER)))
    told = w.slack.ephemeral(OUTSIDER)[-1].text
    assert "You can't do that" in told and f"<@{FINANCE_USER}>" in told
    assert await w.services.store.owner_of(rec.payment_id) is None
    assert "fp_take" in team_buttons(w, rec)
    refused = await w.services.store.audit_entries(10)
    assert any(a.user == OUTSIDER and a.result == "refused" for a in refused)


async def test_two_people_taking_at_once_leaves_exactly_one_owner(w: World) -> None:
    rec = await _one(w)
    await asyncio.gather(
        team_click(w, rec, ActionId.TAKE, FINANCE_USER),
        team_click(w, rec, ActionId.TAKE, FINANCE_USER_2),
    )

    def loser_told() -> bool:
        return any(
            "already owned by" in e.text
            for u in (FINANCE_USER, FINANCE_USER_2)
            for e in w.slack.ephemeral(u)
        )

    await w.slack.wait_until(loser_told)
    owner = await w.services.store.owner_of(rec.payment_id)
    assert owner in (FINANCE_USER, FINANCE_USER_2)
    loser = FINANCE_USER_2 if owner == FINANCE_USER else FINANCE_USER
    assert f"already owned by <@{owner}>" in w.slack.ephemeral(loser)[-1].text
    assert not w.slack.ephemeral(owner)
    assert await w.services.store.owned_by(loser) == []
    takes = [
        a for a in await w.services.store.audit_entries(10, refused=False) if a.action == "take"
    ]
    assert [a.user for a in takes] == [owner]


async def test_reassign_only_to_a_finance_user_then_release(w: World) -> None:
    rec = await _one(w)
    await team_click(w, rec, ActionId.TAKE, FINANCE_USER)
    await eventually(lambda: _owner_is(w, rec, FINANCE_USER))
    before = set(w.slack.views)
    await team_click(w, rec, ActionId.REASSIGN, FINANCE_USER)
    vid = await opened_view(w, ViewId.REASSIGN, before)
    pick = {"type": "users_select", "selected_user": OUTSIDER}
    resp = await w.slack.submit_view(
        w.bot.events_url, vid, {REASSIGN_BLOCK: {REASSIGN_ACTION: pick}}, FINANCE_USER
    )
    answer = resp.json()
    assert answer["response_action"] == "errors"
    assert "Only finance users" in answer["errors"][REASSIGN_BLOCK]
    assert await w.services.store.owner_of(rec.payment_id) == FINANCE_USER

    pick = {"type": "users_select", "selected_user": FINANCE_USER_2}
    resp = await w.slack.submit_view(
        w.bot.events_url, vid, {REASSIGN_BLOCK: {REASSIGN_ACTION: pick}}, FINANCE_USER
    )
    assert resp.status == 200 and not resp.body.strip()
    await eventually(lambda: _owner_is(w, rec, FINANCE_USER_2))
    await w.slack.wait_until(lambda: f"Owner: <@{FINANCE_USER_2}>" in card_text(w, rec))
    assert await w.services.store.owned_by(FINANCE_USER) == []

    await team_click(w, rec, ActionId.RELEASE, FINANCE_USER)  # not theirs any more
    await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER)))
    assert "use *Reassign*" in w.slack.ephemeral(FINANCE_USER)[-1].text
    await team_click(w, rec, ActionId.RELEASE, FINANCE_USER_2)
    await eventually(lambda: _owner_is(w, rec, None))
    await w.slack.wait_until(lambda: "fp_take" in team_buttons(w, rec))
    actions = [a.action for a in await w.services.store.audit_entries(10, refused=False)]
    assert {"take", "reassign", "release"} <= set(actions)


async def _snooze_by_modal(w: World, rec: FailureRecord, values: dict[str, Any]) -> Any:
    before = set(w.slack.views)
    await team_click(w, rec, ActionId.SNOOZE, FINANCE_USER)
    vid = await opened_view(w, ViewId.SNOOZE, before)
    return vid, await w.slack.submit_view(w.bot.events_url, vid, values, FINANCE_USER)


def _snooze_values(kind: str, day: str | None, reason: str) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": kind}, "value": kind}
    return {
        SNOOZE_KIND_BLOCK: {
            SNOOZE_KIND_ACTION: {"type": "radio_buttons", "selected_option": option}
        },
        SNOOZE_DATE_BLOCK: {SNOOZE_DATE_ACTION: {"type": "datepicker", "selected_date": day}},
        SNOOZE_REASON_BLOCK: {SNOOZE_REASON_ACTION: {"type": "plain_text_input", "value": reason}},
    }


async def test_snooze_until_a_date_wakes_after_a_restart(w: World) -> None:
    now = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    w.services.clock = lambda: now
    rec = await _one(w)
    _, resp = await _snooze_by_modal(w, rec, _snooze_values("until", "2026-12-01", "bank"))
    assert resp.json()["response_action"] == "errors"  # today is not after today
    _, resp = await _snooze_by_modal(w, rec, _snooze_values("until", "2026-12-05", "bank"))
    assert resp.status == 200 and not resp.body.strip()
    await w.slack.wait_until(lambda: "Snoozed* until" in card_text(w, rec))
    assert "fp_unsnooze" in team_buttons(w, rec)
    assert "bank" in card_text(w, rec)

    await w.stop_bot(w.bot)  # a restart: the snooze is in Redis, nowhere else
    bot = await w.start_bot()
    bot.services.clock = lambda: now + timedelta(days=2)
    await poll_once(bot.services)
    assert await bot.services.store.snooze_of(rec.payment_id) is not None  # not due yet
    bot.services.clock = lambda: datetime(2026, 12, 5, 0, 0, 1, tzinfo=UTC)
    await poll_once(bot.services)
    assert await bot.services.store.snooze_of(rec.payment_id) is None
    assert await bot.services.store.snoozed_ids() == []
    assert "Snoozed" not in card_text(w, rec)
    assert "fp_snooze" in team_buttons(w, rec)
    actions = [a.action for a in await bot.services.store.audit_entries(10, refused=False)]
    assert "snooze" in actions and "wake" in actions


async def test_snooze_until_the_next_sync_wakes_when_connectbooster_tries_again(
    w: World,
) -> None:
    rec = await _one(w)
    _, resp = await _snooze_by_modal(w, rec, _snooze_values("next_sync", None, "resynced"))
    assert resp.status == 200
    await w.slack.wait_until(lambda: "next sync" in card_text(w, rec))
    await poll_once(w.services)
    assert await w.services.store.snooze_of(rec.payment_id) is not None
    stored = await w.services.store.get_failure(rec.payment_id)
    assert stored is not None
    stored.payment.sync.attempts += 1  # what the poller saves when the sync failed again
    await w.services.store.put_failure(stored)
    await poll_once(w.services)
    assert await w.services.store.snooze_of(rec.payment_id) is None


async def test_unsnooze_by_button(w: World) -> None:
    rec = await _one(w)
    await _snooze_by_modal(w, rec, _snooze_values("next_sync", None, "later"))
    await w.slack.wait_until(lambda: "fp_unsnooze" in team_buttons(w, rec))
    await team_click(w, rec, ActionId.UNSNOOZE, FINANCE_USER_2)
    await w.slack.wait_until(lambda: "fp_snooze" in team_buttons(w, rec))
    assert await w.services.store.snooze_of(rec.payment_id) is None
