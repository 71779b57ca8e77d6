"""``bot.store.pool.FreshAfterFailurePool`` on a real Redis server of the test's own: one
connection failing closes the idle ones, so that after Redis is back every command runs on
a new connection; nothing is retried."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.store.pool import FreshAfterFailurePool, redis_from_url
from tests.test_reliability_redis import DurableRedis


@pytest.fixture
def server() -> Iterator[DurableRedis]:
    s = DurableRedis().start()
    try:
        yield s
    finally:
        s.stop()
        shutil.rmtree(s.workdir, ignore_errors=True)


async def test_one_failed_connection_closes_the_idle_ones(server: DurableRedis) -> None:
    client = redis_from_url(server.url)
    pool = client.connection_pool
    assert isinstance(pool, FreshAfterFailurePool)
    try:
        # four connections at once (BLPOP holds each until its timeout), then idle
        await asyncio.gather(*(client.blpop([f"k{i}"], timeout=0.05) for i in range(4)))
        idle = list(pool._available_connections)
        assert len(idle) >= 4 and all(c.is_connected for c in idle)
        server.stop()
        with pytest.raises(RedisConnectionError):
            await client.set("x", "1")  # fails; its connection comes back disconnected
        assert not any(c.is_connected for c in pool._available_connections)
        server.start()
        # Redis back: every command at once answered, none on a connection to the old one
        got = await asyncio.gather(*(client.incr("n") for _ in range(8)))
        assert sorted(got) == list(range(1, 9))  # each ran once: nothing retried twice
    finally:
        await client.aclose()
