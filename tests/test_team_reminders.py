"""The working-day reminder, driven by a test clock (``Services.clock``, and the Slack
stand-in's clock for message times): once a working day at ``REMINDER_HOUR`` in
``BOOKS_TIMEZONE``, failures open longer than ``REMINDER_AFTER_DAYS`` — unowned first, then
oldest, then largest — as a reply under the day's first failure message; snoozed ones left
out; never twice a day, none at weekends or when nothing waits; the poller loop runs it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.models import FailureRecord, Snooze, SnoozeKind
from bot.poll.cycle import poll_once, run_poller
from bot.team.schedule import run_schedule
from tests.harness import ALERT_CHANNEL, FAILED_CHANNEL, FINANCE_USER, World, world

THURSDAY_10 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


class Clock:
    """One test clock for the bot and the Slack stand-in."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def epoch(self) -> float:
        return self.at.timestamp()


@pytest.fixture
async def w(redis_url: str, redis_prefix: str, redis_client: aioredis.Redis) -> AsyncIterator[Any]:
    overrides = {"reminder_hour": 9, "reminder_after_days": 3, "books_timezone": "America/New_York"}
    async with world(redis_url, redis_prefix, "all-causes", bot_overrides=overrides) as built:
        yield built


async def _seeded(w: World, clock: Clock) -> dict[str, FailureRecord]:
    """The scenario's failures posted by a poll cycle (as in production: with the metadata
    that finds the day's first failure message); four of them aged, the rest made young."""
    w.services.clock = clock
    w.slack.clock = clock.epoch
    w.slack.rate_limit_enabled = False
    await poll_once(w.services, post_interval=0, check_alerts=False)
    ages = {"paid-manually": 5, "credit-memo": 9, "voided": 4, "deleted": 1}
    recs: dict[str, FailureRecord] = {}
    for pid, cause in w.scenario.expected.items():
        rec = await w.services.store.get_failure(pid)
        if rec is None:
            continue
        rec.first_seen_at = clock.at - timedelta(days=ages.get(cause, 0), hours=1)
        await w.services.store.put_failure(rec)
        if cause in ages and cause not in recs:
            recs[cause] = rec
    return recs


def reminders(w: World) -> list[Any]:
    return [m for m in w.slack.all_messages(FAILED_CHANNEL) if "waiting more than" in m.text]


async def test_once_a_working_day_unowned_first_snoozed_left_out_in_the_days_thread(
    w: World,
) -> None:
    clock = Clock(THURSDAY_10.replace(hour=13, minute=59))  # 08:59 in New York
    recs = await _seeded(w, clock)
    store = w.services.store
    assert await store.take_owner(recs["credit-memo"].payment_id, FINANCE_USER) is None
    await store.put_snooze(
        recs["voided"].payment_id,
        Snooze(kind=SnoozeKind.NEXT_SYNC, by=FINANCE_USER, reason="r", at=clock.at),
    )
    await run_schedule(w.services)
    assert reminders(w) == []  # before the hour

    clock.at = THURSDAY_10.replace(hour=14)  # 09:00 in New York
    await run_schedule(w.services)
    [msg] = reminders(w)
    first = min(m.ts for m in w.slack.messages(FAILED_CHANNEL) if m.metadata)
    assert msg.thread_ts == first  # under the day's first failure message
    body = str(msg.blocks)
    assert "2 failed payments waiting more than 3 days" in msg.text
    assert "1 unowned" in body
    paid, memo = recs["paid-manually"].payment.reference, recs["credit-memo"].payment.reference
    assert body.index(paid) < body.index(memo)  # unowned first, though younger
    assert recs["voided"].payment.reference not in body  # snoozed
    assert recs["deleted"].payment.reference not in body  # 1 day: not yet
    assert f"owner <@{FINANCE_USER}>" in body

    clock.at += timedelta(hours=3)
    await run_schedule(w.services)
    assert len(reminders(w)) == 1  # never twice a day


async def test_none_at_the_weekend_nor_when_nothing_waits(w: World) -> None:
    clock = Clock(datetime(2026, 12, 5, 15, 0, tzinfo=UTC))  # Saturday
    await _seeded(w, clock)
    await run_schedule(w.services)
    assert reminders(w) == []
    clock.at = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # Monday: the stored ages are the
    for pid in await w.services.store.open_ids():  # same, so make everything young
        rec = await w.services.store.get_failure(pid)
        assert rec is not None
        rec.first_seen_at = clock.at - timedelta(hours=2)
        await w.services.store.put_failure(rec)
    await run_schedule(w.services)
    assert reminders(w) == []
    assert await w.services.store.once_value("reminder:2026-12-07") == "none"


async def test_with_no_failure_posted_today_it_goes_to_the_top_of_the_channel(
    w: World,
) -> None:
    clock = Clock(THURSDAY_10)
    await _seeded(w, clock)
    clock.at = THURSDAY_10 + timedelta(days=1, hours=5)  # Friday 10:00 in New York
    await run_schedule(w.services)
    [msg] = reminders(w)
    assert msg.thread_ts is None


async def test_the_poller_loop_sends_it(w: World) -> None:
    clock = Clock(THURSDAY_10 + timedelta(hours=5))
    await _seeded(w, clock)
    cycles = 0

    async def sleep(_: float) -> None:
        nonlocal cycles
        cycles += 1
        if cycles >= 2:
            raise asyncio.CancelledError
        await asyncio.sleep(0)

    with pytest.raises(asyncio.CancelledError):
        await run_poller(w.services, sleep=sleep, post_interval=0)
    assert len(reminders(w)) == 1
    assert not w.slack.all_messages(ALERT_CHANNEL) or all(
        "waiting more than" not in m.text for m in w.slack.all_messages(ALERT_CHANNEL)
    )


def test_the_reminder_finds_the_messages_the_poller_marks() -> None:
    from bot.poll.posting import EVENT_DIGEST, EVENT_FAILURE
    from bot.team import reminders

    assert (reminders.EVENT_FAILURE, reminders.EVENT_DIGEST) == (EVENT_FAILURE, EVENT_DIGEST)
