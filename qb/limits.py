"""Staying inside QuickBooks Online's limits in one process: ``RateLimiter`` (in-flight cap and
a sliding per-minute window) and the ``ClientStats`` counters a benchmark or ``check`` reads."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


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
