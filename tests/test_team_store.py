"""``bot.store.team`` on a real Redis: of many processes taking one failure at once exactly
one owns it (one Lua step); reassigning and releasing keep the per-person sets in step; the
snooze index finds what is due."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from bot.models import Snooze, SnoozeKind
from bot.store import Store

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


@pytest.fixture
def store(redis_client: aioredis.Redis, redis_prefix: str) -> Store:
    return Store(redis_client, redis_prefix)


async def test_of_fifty_concurrent_takers_exactly_one_owns_it(
    redis_url: str, redis_prefix: str, store: Store
) -> None:
    clients = [aioredis.from_url(redis_url) for _ in range(5)]  # five "processes"
    try:
        users = [f"U{i:03d}" for i in range(50)]
        answers = await asyncio.gather(
            *(Store(clients[i % 5], redis_prefix).take_owner("p1", u) for i, u in enumerate(users))
        )
    finally:
        for c in clients:
            await c.aclose()
    winners = [u for u, a in zip(users, answers, strict=True) if a is None]
    assert len(winners) == 1
    assert {a for a in answers if a is not None} == set(winners)  # losers told who has it
    assert await store.owner_of("p1") == winners[0]
    mine = [u for u in users if await store.owned_by(u)]
    assert mine == winners


async def test_reassign_and_release_keep_the_sets_in_step(store: Store) -> None:
    assert await store.take_owner("p1", "UA") is None
    assert await store.take_owner("p1", "UA") == "UA"  # already theirs
    assert await store.set_owner("p1", "UB") == "UA"
    assert await store.owned_by("UA") == [] and await store.owned_by("UB") == ["p1"]
    assert await store.release_owner("p1", "UA") == "UB"  # not theirs: nothing changes
    assert await store.owner_of("p1") == "UB"
    assert await store.release_owner("p1", "UB") == "UB"
    assert await store.owner_of("p1") is None and await store.owned_by("UB") == []
    assert await store.release_owner("p1", "UB") is None
    await asyncio.gather(*(store.set_owner("p2", f"U{i}") for i in range(20)))
    owner = await store.owner_of("p2")
    holders = [f"U{i}" for i in range(20) if await store.owned_by(f"U{i}")]
    assert holders == [owner]  # concurrent reassignments: one owner, one set holds it


async def test_the_snooze_index(store: Store) -> None:
    until = Snooze(
        kind=SnoozeKind.UNTIL, by="UA", reason="r", at=NOW, until=NOW + timedelta(days=1)
    )
    sync = Snooze(kind=SnoozeKind.NEXT_SYNC, by="UA", reason="r", at=NOW, attempts=2)
    await store.put_snooze("p1", until)
    await store.put_snooze("p2", sync)
    assert await store.snoozed_ids() == ["p1", "p2"]  # soonest first, the sync one last
    assert await store.snoozes_due_or_sync(NOW) == ["p2"]
    assert await store.snoozes_due_or_sync(NOW + timedelta(days=1)) == ["p1", "p2"]
    assert not sync.due(NOW, 2) and sync.due(NOW, 3)
    assert await store.drop_snooze("p1") == until
    assert await store.drop_snooze("p1") is None
    assert await store.snoozed_count() == 1
    view = await store.team_view("p2")
    assert view.snooze == sync and view.owner is None
