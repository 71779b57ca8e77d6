"""Staying inside QuickBooks Online's limits: ``RateLimiter`` (in-flight cap and a sliding
per-minute window, in one process), ``Limits`` (every limit one request passes: batch calls'
own window, the process's limiter, and a ``SharedGate`` shared by every replica through
Redis, ``qb.shared_limits``) and the ``ClientStats`` counters a benchmark or ``check`` reads."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class ClientStats:
    """Counters a benchmark or ``check`` reads."""

    requests: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    throttled: int = 0
    refreshes: int = 0
    errors: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


class RateLimiter:
    """At most ``max_in_flight`` concurrent requests and ``per_window`` starts in any
    ``window_seconds`` (sliding)."""

    def __init__(
        self,
        max_in_flight: int,
        per_window: int,
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sem = asyncio.Semaphore(max_in_flight)
        self._per_window = per_window
        self._window = window_seconds
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._clock = clock
        self._sleep = sleep

    async def _take_slot(self) -> None:
        async with self._lock:  # FIFO: waiters are served in order
            while True:
                now = self._clock()
                while self._starts and self._starts[0] <= now - self._window:
                    self._starts.popleft()
                if len(self._starts) < self._per_window:
                    self._starts.append(now)
                    return
                await self._sleep(self._starts[0] + self._window - now + 0.001)

    async def __aenter__(self) -> None:
        await self._sem.acquire()
        try:
            await self._take_slot()
        except BaseException:
            self._sem.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._sem.release()


class SharedGate(Protocol):
    """Limits shared with other processes (``qb.shared_limits.RedisLimits``): a slot is
    held from before a request is sent until its answer is read."""

    def slot(self, *, batch: bool) -> AbstractAsyncContextManager[None]: ...

    async def aclose(self) -> None: ...


class Limits:
    """Every limit one request passes, in order: the batch window (batch calls only), the
    in-process ``RateLimiter``, then the ``shared`` gate (every replica's requests to the
    company), when there is one."""

    def __init__(
        self,
        *,
        max_in_flight: int,
        per_window: int,
        batch_per_window: int,
        window_seconds: float,
        shared: SharedGate | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        stats: ClientStats | None = None,
    ) -> None:
        self.stats = stats if stats is not None else ClientStats()
        self.local = RateLimiter(max_in_flight, per_window, window_seconds, sleep=sleep)
        self.batch = RateLimiter(max_in_flight, batch_per_window, window_seconds, sleep=sleep)
        self.shared = shared

    @asynccontextmanager
    async def slot(self, *, batch: bool = False) -> AsyncIterator[None]:
        """Hold a place for one request (a ``/batch`` call when ``batch``), counted in
        ``stats`` while it runs."""
        stats = self.stats
        shared = self.shared.slot(batch=batch) if self.shared else nullcontext()
        async with self.batch if batch else nullcontext(), self.local, shared:
            stats.requests += 1
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            try:
                yield
            finally:
                stats.in_flight -= 1

    async def aclose(self) -> None:
        """Let the shared gate hand back what it still holds."""
        if self.shared is not None:
            await self.shared.aclose()
