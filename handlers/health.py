"""Health for orchestrators, served on ``PORT`` in both modes (HTTP and Socket Mode).

- ``GET /livez``: 200 while the process serves; it asks nothing else, so an orchestrator
  restarts the bot only when the process itself is stuck or gone.
- ``GET /readyz``: 200 when every part is ready, else 503. The JSON body says each part's
  state and lists the ones not ready, e.g. ``{"ok": false, "not_ready": ["redis"],
  "redis": "not answering", "poll": "ok", "socket_mode": "connected"}``. The parts:

  - ``redis``: Redis answers a PING;
  - ``socket_mode`` (Socket Mode only): the WebSocket to Slack is up;
  - ``poll`` (where a poller runs): this process finished a poll cycle without error — it
    polled, or found another process holding the poller lease — within
    :data:`POLL_STALE_INTERVALS` poll intervals; before its first cycle, measured from
    when the poller started.

- ``GET /healthz``: the same as ``/readyz``, its older name, kept for compatibility.
- ``GET /metrics``: Prometheus text; on ``PORT``, or alone on ``METRICS_PORT`` when set
  (:func:`metrics_app`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from redis.exceptions import RedisError

from bot.commands.stats import refresh_gauges
from bot.runtime.metrics import CONTENT_TYPE_LATEST
from bot.runtime.services import Services
from bot.store import StoreError

ConnectionCheck = Callable[[], Awaitable[bool]]
"""Whether a connection the bot needs is up (the Socket Mode WebSocket)."""

POLL_STALE_INTERVALS = 3
"""The poll part is not ready once this many poll intervals passed without a good cycle."""

PING_WITHIN = 2.0
"""Seconds Redis has to answer the readiness PING (probes give up soon after)."""

READY = "ok"


@dataclass
class Readiness:
    """Each part's state (:data:`READY` or why not) and the parts not ready."""

    parts: dict[str, str] = field(default_factory=dict)

    @property
    def not_ready(self) -> list[str]:
        return [name for name, state in self.parts.items() if state != READY]

    @property
    def ok(self) -> bool:
        return not self.not_ready

    def body(self) -> dict[str, object]:
        return {"ok": self.ok, "not_ready": self.not_ready, **self.parts}


async def readiness(
    services: Services, socket_connected: ConnectionCheck | None = None
) -> Readiness:
    """Ask every part (see the module docstring)."""
    ready = Readiness()
    try:
        await asyncio.wait_for(services.store.ping(), PING_WITHIN)
        ready.parts["redis"] = READY
    except (StoreError, RedisError, OSError, TimeoutError):
        ready.parts["redis"] = "not answering"
    if socket_connected is not None:
        ready.parts["socket_mode"] = READY if await socket_connected() else "not connected"
    poll = poll_state(services)
    if poll is not None:
        ready.parts["poll"] = poll
    return ready


def poll_state(services: Services) -> str | None:
    """The poll part's state; ``None`` where no poller runs."""
    started, last = services.poller_started_at, services.last_poll_ok_at
    since = last if last is not None else started
    if since is None:
        return None
    interval = services.settings.poll_interval_seconds
    age = (services.clock() - since).total_seconds()
    if age <= POLL_STALE_INTERVALS * interval:
        return READY
    window = f"more than {POLL_STALE_INTERVALS} poll intervals of {interval}s"
    if last is None:
        return f"no poll cycle succeeded in the {age:.0f}s since the poller started ({window})"
    return f"the last good poll cycle ended {age:.0f}s ago ({window})"


def add_health_routes(
    webapp: web.Application, services: Services, *, socket_connected: ConnectionCheck | None = None
) -> None:
    """``/livez``, ``/readyz`` and ``/healthz`` on ``webapp``."""

    async def livez(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(_request: web.Request) -> web.Response:
        ready = await readiness(services, socket_connected)
        return web.json_response(ready.body(), status=200 if ready.ok else 503)

    webapp.router.add_get("/livez", livez)
    webapp.router.add_get("/readyz", readyz)
    webapp.router.add_get("/healthz", readyz)


def add_metrics_route(webapp: web.Application, services: Services) -> None:
    """``/metrics`` on ``webapp``: the open-failure gauges refreshed, then every metric."""

    async def metrics(_request: web.Request) -> web.Response:
        await refresh_gauges(services)
        return web.Response(
            body=services.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    webapp.router.add_get("/metrics", metrics)


def metrics_app(services: Services) -> web.Application:
    """``/metrics`` alone, for ``METRICS_PORT``."""
    webapp = web.Application()
    add_metrics_route(webapp, services)
    return webapp
