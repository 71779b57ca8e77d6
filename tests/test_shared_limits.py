"""QuickBooks' per-company limits kept by every replica together (``qb.shared_limits``): two
QBO clients with their own HTTP sessions and their own Redis connections hammer the QBO
stand-in; together they stay inside its in-flight cap and its sliding window. The limits and
the window are scaled down through constructor arguments (the stand-in's the same way)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web

from qb.client import QBOClient
from qb.shared_limits import GRANT, RedisLimits, limits_key
from tests.qbo_fixtures import FAST, REALM, QBOEnv, start_qbo
from tests.redis_server import free_port

IN_FLIGHT = 3
PER_WINDOW = 8
WINDOW = 0.4
REQUESTS = 16  # per client


def most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of ``times`` inside one ``window`` (half-open), sliding."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.fixture
async def arrivals() -> list[float]:
    return []


@pytest.fixture
async def env(arrivals: list[float]) -> AsyncIterator[QBOEnv]:
    @web.middleware
    async def note(request: web.Request, handler: Callable[[web.Request], Any]) -> Any:
        if "/v3/company/" in request.path:
            arrivals.append(time.monotonic())
        return await handler(request)

    async with start_qbo(middlewares=[note]) as e:
        e.sandbox.limit_in_flight = IN_FLIGHT
        e.sandbox.limit_per_window = PER_WINDOW
        e.sandbox.window_seconds = WINDOW
        e.sandbox.latency = 0.02  # requests overlap
        yield e


class Replica:
    """One process's QBO client: its own HTTP session and Redis connection."""

    def __init__(self, env: QBOEnv, redis_url: str, prefix: str, *, shared: bool) -> None:
        self.session = aiohttp.ClientSession()
        self.redis = aioredis.Redis.from_url(redis_url)
        self.limits = (
            RedisLimits(
                self.redis,
                limits_key(prefix, REALM),
                max_in_flight=IN_FLIGHT,
                per_window=PER_WINDOW,
                batch_per_window=2,
                window_seconds=WINDOW,
            )
            if shared
            else None
        )
        self.client = QBOClient(
            self.session,
            realm_id=REALM,
            base_url=env.base_url,
            auth=env.auth,
            environment="sandbox",
            max_in_flight=IN_FLIGHT,
            per_minute=PER_WINDOW,
            rate_window_seconds=WINDOW,
            shared_limits=self.limits,
            max_retries=20,
            throttle_wait=FAST["throttle_wait"],
            backoff_base=FAST["backoff_base"],
            backoff_cap=FAST["backoff_cap"],
        )

    async def hammer(self, n: int) -> None:
        await asyncio.gather(*(self.client.company_info() for _ in range(n)))

    async def close(self) -> None:
        await self.client.aclose()
        await self.session.close()
        await self.redis.aclose()


async def run_two(env: QBOEnv, redis_url: str, prefix: str, *, shared: bool) -> list[Replica]:
    await env.auth.access_token()  # connected before the clock starts
    replicas = [Replica(env, redis_url, prefix, shared=shared) for _ in range(2)]
    try:
        await asyncio.gather(*(r.hammer(REQUESTS) for r in replicas))
    finally:
        for r in replicas:
            await r.close()
    return replicas


async def test_two_replicas_together_stay_inside_the_limits(
    env: QBOEnv,
    arrivals: list[float],
    redis_url: str,
    redis_prefix: str,
    redis_client: aioredis.Redis,
) -> None:
    replicas = await run_two(env, redis_url, redis_prefix, shared=True)
    stats = env.sandbox.stats
    assert stats.throttled == 0  # the stand-in never saw either limit exceeded
    assert len(arrivals) == 2 * REQUESTS
    assert stats.max_in_flight <= IN_FLIGHT
    assert most_in_any_window(arrivals, WINDOW) <= PER_WINDOW
    assert all(r.client.stats.requests == REQUESTS for r in replicas)
    assert sum(r.limits.waits for r in replicas if r.limits) > 0  # they did wait for each other
    # every hold was handed back (nothing left in flight)
    assert await redis_client.zcard(limits_key(redis_prefix, REALM) + ":inflight") == 0


async def test_without_the_shared_limits_the_same_load_is_throttled(
    env: QBOEnv, arrivals: list[float], redis_url: str, redis_prefix: str
) -> None:
    """The control: each process inside its own limits, together over QBO's."""
    await run_two(env, redis_url, redis_prefix, shared=False)
    assert env.sandbox.stats.throttled > 0


async def test_a_dead_holder_does_not_keep_its_slots(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    key = limits_key(redis_prefix, REALM)
    keys = [f"{key}:inflight", f"{key}:window", f"{key}:batch"]
    for n in range(2):  # a process takes both slots and dies without handing them back
        granted = await redis_client.eval(GRANT, 3, *keys, f"dead:{n}", 2, 500, 0, 60_000, 300)
        assert int(granted[0]) == 1
    alive = RedisLimits(redis_client, key, max_in_flight=2, lease_seconds=0.3, poll_seconds=0.02)
    started = time.monotonic()
    async with alive.slot():
        waited = time.monotonic() - started
    await alive.aclose()
    assert alive.waits > 0 and waited >= 0.2  # it waited for the leases to lapse


async def test_batch_calls_have_their_own_window(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    key = limits_key(redis_prefix, REALM)
    a, b = (
        RedisLimits(
            redis_client,
            key,
            max_in_flight=10,
            per_window=100,
            batch_per_window=2,
            window_seconds=0.3,
        )
        for _ in range(2)
    )
    batches: list[float] = []
    reads: list[float] = []

    async def call(limits: RedisLimits, batch: bool) -> None:
        async with limits.slot(batch=batch):
            (batches if batch else reads).append(time.monotonic())

    started = time.monotonic()
    await asyncio.gather(
        *(call(x, True) for x in (a, b, a, b, a)), *(call(x, False) for x in (a, b) * 5)
    )
    await a.aclose()
    await b.aclose()
    assert most_in_any_window(batches, 0.3) <= 2
    assert max(reads) - started < 0.3  # plain calls never waited for the batch window


async def test_redis_out_of_reach_does_not_stop_quickbooks_calls(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gone = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    limits = RedisLimits(gone, "fp:qbo:limits:{1}")
    try:
        with caplog.at_level(logging.WARNING, logger="qb.shared_limits"):
            for _ in range(3):
                async with limits.slot():
                    pass
    finally:
        await limits.aclose()
        await gone.aclose()
    warned = [r for r in caplog.records if r.name == "qb.shared_limits"]
    assert len(warned) == 1 and "this process keeps its own" in warned[0].getMessage()
