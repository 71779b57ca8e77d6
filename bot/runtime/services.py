"""What the bot's domain functions work with: settings, state and the clients (QuickBooks,
Slack, and the ConnectBooster contract and/or the payment gateway, each optional).

``app.py`` builds one ``Services`` for the process (one aiohttp session per upstream
service, one Redis client) and closes it at shutdown; handlers and the poller receive it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bot.models import utcnow
from bot.runtime.metrics import Metrics
from bot.runtime.settings import Settings
from bot.store import Store
from cb.client import CBClient
from cb.errors import CBError
from gateway.client import GatewayClient
from qb.client import QBOClient

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RemedyTimings:
    """How long a remedy's lease, run and report markers last (seconds). The defaults are
    production's; a test that needs a dead holder's lease to expire quickly gives its
    ``Services`` shorter ones."""

    lease_ttl: float = 120.0
    """A remedy's lease lives this long without a renewal; a running remedy renews it every
    third of this in the background, and stops before its next write once it is lost."""
    remedy_timeout: float = 90.0
    """A remedy running longer is stopped and reported as timed out (shorter than the lease,
    so a remedy never outlives the lease it started under even if renewals stall)."""
    resume_poll: float = 0.5
    """Between looks at a lease held by a crashed process, when resuming its remedy."""
    report_marker_ttl: float = 30 * 86400.0
    """The "this attempt was reported" markers are kept this long."""


class NoContract(CBError):
    """The ConnectBooster contract is not set up (``CB_BASE_URL``/``CB_API_KEY`` unset): what
    it would do is done in the ConnectBooster portal by a person."""

    default_code = "not_configured"


class ShuttingDown(Exception):
    """The bot is stopping and takes no new work; try again in a moment."""


@dataclass
class Services:
    """The process's clients and state, shared by every handler and background job."""

    settings: Settings
    redis: aioredis.Redis
    store: Store
    qbo: QBOClient
    cb: CBClient | None
    """The ConnectBooster contract's client (``None``: the contract is not set up)."""
    slack: AsyncWebClient
    metrics: Metrics = field(default_factory=Metrics)
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)
    clock: Callable[[], datetime] = utcnow
    instance: str = "bot"
    remedy_timings: RemedyTimings = field(default_factory=RemedyTimings)
    gateway: GatewayClient | None = None
    """The payment gateway's Query API client (``None``: the gateway is not a source)."""
    accepting: bool = True
    poller_started_at: datetime | None = None
    """When this process's poller loop started (``None``: no poller runs here)."""
    last_poll_ok_at: datetime | None = None
    """When this process last finished a poll cycle without error (it polled, or found another
    process holding the poller lease); ``/readyz`` reads it."""
    poll_now: asyncio.Event = field(default_factory=asyncio.Event)
    """Set to have the poller run a cycle now instead of sleeping out its interval
    (:meth:`wake_poller`)."""
    poll_now_reason: str | None = None
    _inflight: set[asyncio.Task[Any]] = field(default_factory=set)
    _background: list[asyncio.Task[Any]] = field(default_factory=list)

    def contract(self) -> CBClient:
        """The ConnectBooster contract's client; :class:`NoContract` when it is not set up."""
        if self.cb is None:
            raise NoContract(
                message="the ConnectBooster contract is not set up (gateway mode): "
                "use the ConnectBooster portal"
            )
        return self.cb

    def run_work(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run work that must finish even during shutdown (a remedy); refused once stopping."""
        if not self.accepting:
            coro.close()
            raise ShuttingDown("the bot is restarting; try again in a moment")
        task = asyncio.ensure_future(coro)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return task

    async def guarded(self, coro: Awaitable[T]) -> T:
        """Await work as in-flight work: shutdown waits for it."""
        return await self.run_work(_as_coroutine(coro))

    def wake_poller(self, reason: str) -> None:
        """Ask this process's poller for a cycle now (e.g. ConnectBooster e-mailed "Sync
        Failed"); a cycle running meanwhile is followed by one more."""
        self.poll_now_reason = reason
        self.poll_now.set()

    def start_background(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """Start a job that shutdown cancels (the poller)."""
        self._background.append(asyncio.create_task(coro, name=name))

    async def drain(self, grace: float = 30.0) -> None:
        """Stop taking work, cancel background jobs, and wait for in-flight work to finish."""
        self.accepting = False
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._inflight:
            log.info("waiting for %d remedies in flight", len(self._inflight))
            _done, pending = await asyncio.wait(self._inflight, timeout=grace)
            if pending:
                log.warning(
                    "%d remedies still running at shutdown; they resume at start-up", len(pending)
                )

    async def aclose(self) -> None:
        """Close every session and the Redis client (after the QuickBooks client hands back
        its shared slots)."""
        await self.qbo.aclose()
        for s in self.sessions:
            await s.close()
        await self.redis.aclose()


async def _as_coroutine(aw: Awaitable[T]) -> T:
    return await aw
