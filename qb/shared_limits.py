"""QuickBooks Online's limits, kept by every replica together through Redis.

QBO limits each company (realm), whoever calls: at most 10 requests in flight, 500 a minute,
and 40 batch calls a minute. Each process's ``RateLimiter`` keeps its own traffic inside
them; :class:`RedisLimits` keeps the sum of every process's traffic inside them too. Per
company it keeps three sorted sets under one key prefix (one Redis Cluster hash slot):

- ``…:inflight`` — one member per request in flight, scored by the time its hold expires
  (``lease_seconds`` after it was granted). A process that dies mid-request does not leak
  its slots: an expired hold is dropped at the next grant.
- ``…:window`` and ``…:batch`` — a sliding-window log: one member per request of the last
  ``window_seconds`` (``…:batch``: batch calls only), scored by its time.

A grant is one Lua script (atomic, one round trip, times from Redis's own clock so replicas'
clocks need not agree): drop expired holds and entries that left the window; refuse when
the in-flight set or a window is full (answering how long to wait), else add the request
to each. A refused request waits (the window: until its oldest entry leaves; in flight: a
short poll) and asks again.

The release runs in the background, so a request costs one Redis round trip on its way:
it drops the hold and moves the request's window entries to the time it *ended*. The
request reached QuickBooks somewhere between its grant and its end, so counting it from
its end keeps any ``window_seconds`` of arrivals at QuickBooks within the limit, however
long each request took on the wire. Both are conservative: a late release only holds a
slot a little longer.

Redis out of reach does not stop QuickBooks calls: the grant is skipped (the process's own
limiter still holds) and a warning is logged, at most once a minute.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

GRANT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local member, window, lease = ARGV[1], tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, 'in_flight', tostring(tonumber(first[2]) - now)}
end
local function wait_for(key, limit)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return tonumber(oldest[2]) + window - now
  end
  return nil
end
local wait = wait_for(KEYS[2], tonumber(ARGV[3]))
if wait then return {0, 'window', tostring(wait)} end
local batch = tonumber(ARGV[4])
if batch > 0 then
  wait = wait_for(KEYS[3], batch)
  if wait then return {0, 'batch', tostring(wait)} end
  redis.call('ZADD', KEYS[3], now, member)
  redis.call('PEXPIRE', KEYS[3], math.ceil(window + lease))
end
redis.call('ZADD', KEYS[2], now, member)
redis.call('PEXPIRE', KEYS[2], math.ceil(window + lease))
redis.call('ZADD', KEYS[1], now + lease, member)
redis.call('PEXPIRE', KEYS[1], math.ceil(lease))
return {1, 'granted', '0'}
"""
"""KEYS: in-flight, window, batch window. ARGV: member, max in flight, per window, batch
per window (0: not a batch call), window and lease in milliseconds."""

RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], now, ARGV[1])
if ARGV[2] == '1' then redis.call('ZADD', KEYS[3], now, ARGV[1]) end
return 1
"""
"""KEYS: in-flight, window, batch window. ARGV: member, "1" for a batch call."""

WARN_EVERY = 60.0
"""Seconds between two warnings that Redis is out of reach."""


def limits_key(prefix: str, realm_id: str) -> str:
    """The key prefix of one company's shared limits (braces: one Redis Cluster slot)."""
    return f"{prefix}qbo:limits:{{{realm_id}}}"


class RedisLimits:
    """QBO's per-company limits across processes (see the module docstring); implements
    ``qb.limits.SharedGate``. Tests scale the limits and the window down."""

    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        *,
        max_in_flight: int = 10,
        per_window: int = 500,
        batch_per_window: int = 40,
        window_seconds: float = 60.0,
        lease_seconds: float = 90.0,
        poll_seconds: float = 0.05,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.keys = [f"{key}:inflight", f"{key}:window", f"{key}:batch"]
        self.max_in_flight = max_in_flight
        self.per_window = per_window
        self.batch_per_window = batch_per_window
        self.window_ms = window_seconds * 1000
        self.lease_ms = lease_seconds * 1000
        self.poll_seconds = poll_seconds
        self.waits = 0
        """How many times a request was told to wait (for ``check`` and benchmarks)."""
        self._grant = redis.register_script(GRANT)
        self._release = redis.register_script(RELEASE)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._holder = uuid.uuid4().hex[:12]
        self._count = 0
        self._pending: set[asyncio.Task[None]] = set()
        self._warned_at = -WARN_EVERY

    def _member(self) -> str:
        self._count += 1
        return f"{self._holder}:{self._count}"

    async def _ask(self, member: str, batch: bool) -> tuple[bool, str, float]:
        answer: Any = await self._grant(
            keys=self.keys,
            args=[
                member,
                self.max_in_flight,
                self.per_window,
                self.batch_per_window if batch else 0,
                self.window_ms,
                self.lease_ms,
            ],
        )
        ok, why, wait_ms = answer
        why = why.decode() if isinstance(why, bytes) else str(why)
        return bool(int(ok)), why, float(wait_ms)

    def _pause(self, why: str, wait_ms: float) -> float:
        if why == "in_flight":  # a slot frees when a request ends: look again soon
            return min(self.poll_seconds, max(wait_ms / 1000, 0.001)) * self._rng.uniform(0.5, 1)
        return wait_ms / 1000 + self._rng.uniform(0.001, 0.005)

    async def _acquire(self, member: str, batch: bool) -> bool:
        """Wait for a grant; False when Redis is out of reach (no slot held)."""
        while True:
            try:
                ok, why, wait_ms = await self._ask(member, batch)
            except (RedisError, OSError) as exc:
                now = time.monotonic()
                if now - self._warned_at >= WARN_EVERY:
                    self._warned_at = now
                    log.warning(
                        "QuickBooks limits shared by replicas not kept (Redis: %s); "
                        "this process keeps its own",
                        type(exc).__name__,
                    )
                return False
            if ok:
                return True
            self.waits += 1
            await self._sleep(self._pause(why, wait_ms))

    async def _hand_back(self, member: str, batch: bool) -> None:
        try:
            await self._release(keys=self.keys, args=[member, "1" if batch else "0"])
        except (RedisError, OSError) as exc:  # the hold expires with its lease
            log.debug("shared QuickBooks slot not handed back: %s", type(exc).__name__)

    @asynccontextmanager
    async def slot(self, *, batch: bool = False) -> AsyncIterator[None]:
        """Hold one of the company's request slots (and a batch one when ``batch``) from
        the grant until the block ends; the release goes in the background."""
        member = self._member()
        held = await self._acquire(member, batch)
        try:
            yield
        finally:
            if held:
                task = asyncio.get_running_loop().create_task(self._hand_back(member, batch))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)

    async def aclose(self) -> None:
        """Wait for the releases still on their way (before the Redis client closes)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)


__all__ = ["GRANT", "RELEASE", "WARN_EVERY", "RedisLimits", "limits_key"]
