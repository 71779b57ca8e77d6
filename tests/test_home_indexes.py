"""The App Home's figures through the indexes (``bot.team.home``): by cause and age from
the running totals by cause and first-seen day and hour, and the unowned active failures
from the ``queue`` index — equal, after any mix of saves, takes, releases, snoozes, wakes
and resolutions, to the same figures computed from every open failure one by one."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from bot.models import Cause, FailureStatus, Resolution, Snooze, SnoozeKind
from bot.slack.blocks.home import AGE_BUCKETS
from bot.store import Store
from bot.team.home import by_cause_and_age
from tests.test_listing import NOW, record

CAUSES = list(Cause)
USERS = ["U1", "U2"]


@pytest.fixture
def store(redis_client: aioredis.Redis, redis_prefix: str) -> Store:
    return Store(redis_client, redis_prefix)


def bucket(age: timedelta) -> int:
    """The App Home's age bucket, by its definition: the first limit the age is under."""
    for i, (limit, _) in enumerate(AGE_BUCKETS):
        if limit is not None and age < timedelta(days=limit):
            return i
    return len(AGE_BUCKETS) - 1


async def one_by_one(store: Store, now: datetime) -> tuple[dict[Cause, list[int]], list[str]]:
    """The figures from every open failure's summary, owner and snooze (the old way)."""
    summaries = await store.open_summaries()
    counts: dict[Cause, list[int]] = {}
    for s in summaries:
        counts.setdefault(s.cause, [0] * len(AGE_BUCKETS))[bucket(now - s.first_seen_at)] += 1
    snoozed = set(await store.snoozed_ids())
    owners = await store.owners_of([s.payment_id for s in summaries])
    unowned = sorted(
        (s for s in summaries if s.payment_id not in snoozed and s.payment_id not in owners),
        key=lambda s: (s.first_seen_at.timestamp(), s.payment_id),
    )
    return counts, [s.payment_id for s in unowned]


def seen_at(rnd: random.Random) -> datetime:
    """A first-seen time: on an age bucket's edge, a microsecond either side, or anywhere."""
    limit = timedelta(days=rnd.choice([1, 3, 7]))
    return rnd.choice(
        [
            NOW - limit,
            NOW - limit + timedelta(microseconds=1),
            NOW - limit - timedelta(microseconds=1),
            NOW - timedelta(minutes=rnd.randrange(0, 14 * 24 * 60)),
        ]
    )


async def test_the_home_figures_equal_the_count_one_by_one(store: Store) -> None:
    rnd = random.Random(19)
    ids: list[str] = []
    for i in range(160):
        rec = record(i, cause=rnd.choice(CAUSES), amount=f"{rnd.randrange(1, 99999)}.{i % 100:02d}")
        rec.first_seen_at = seen_at(rnd)
        await store.put_failure(rec)
        ids.append(rec.payment_id)
    for step in range(400):
        pid = rnd.choice(ids)
        action = rnd.randrange(6)
        if action == 0:
            await store.take_owner(pid, rnd.choice(USERS))
        elif action == 1:
            await store.set_owner(pid, None)
        elif action == 2:
            await store.put_snooze(
                pid, Snooze(kind=SnoozeKind.NEXT_SYNC, by="U1", reason="later", at=NOW)
            )
        elif action == 3:
            await store.drop_snooze(pid)
        elif action == 4:  # saved again (a remedy's save), maybe later seen, maybe resolved
            [rec] = await store.get_failures([pid])
            if rnd.random() < 0.3:
                rec.status = FailureStatus.RESOLVED
                rec.resolution = Resolution(how="synced", by=None, at=NOW)
            else:
                rec.status = FailureStatus.OPEN
                rec.first_seen_at = seen_at(rnd)
            await store.put_failure(rec)
        if step % 50 == 49:
            want_counts, want_unowned = await one_by_one(store, NOW)
            assert await by_cause_and_age(store, NOW) == want_counts
            count, oldest = await store.unowned_waiting(12)
            assert (count, oldest) == (len(want_unowned), want_unowned[:12])


async def test_an_empty_store_and_a_limit_of_nothing(store: Store) -> None:
    assert await by_cause_and_age(store, NOW) == {}
    assert await store.unowned_waiting(5) == (0, [])
    await store.put_failure(record(1))
    assert await store.unowned_waiting(0) == (1, [])
    assert await store.unowned_waiting(5) == (1, ["pmt_1"])
    totals = (await store.open_totals("all"))["*"]
    assert (totals.count, totals.amount) == (1, Decimal("100.00"))
