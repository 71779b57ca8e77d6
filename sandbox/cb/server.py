"""The ConnectBooster stand-in's HTTP side: the contract under ``/v1``, the sandbox-only
routes, the failure knobs, and a periodic sync run.

Routes (:meth:`CBSandbox.make_app`):

- ``/v1/...``: the contract, behind ``Authorization: Bearer <api_key>``.
- ``POST /sandbox/sync-run``: run a sync now; answers the :class:`SyncRunReport`.
- ``GET /sandbox/state``: every payment with its sync state (for the demo's side panel).
- ``POST /sandbox/knobs``: set ``latency``, ``error_rate``, ``rate_limit``, ``rate_window``,
  ``outage`` from JSON.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import math
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from cb.models import Payment, SyncStatus
from sandbox.cb.portal import CBPortal
from sandbox.cb.sync import QBOCompanyLike, SyncRunner, SyncRunReport

log = logging.getLogger(__name__)
MAX_LIMIT = 500
DEFAULT_LIMIT = 100

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class CBSandbox(CBPortal):
    """ConnectBooster held in memory. See the package docstring for routes and knobs."""

    def __init__(
        self,
        *,
        api_key: str = "cb-sandbox-key",
        qbo_url: str | None = None,
        qbo_realm: str | None = None,
        qbo_access_token: Callable[[], str] | None = None,
        clock: Callable[[], datetime] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(
            qbo_url=qbo_url, qbo_realm=qbo_realm, qbo_access_token=qbo_access_token, clock=clock
        )
        self.api_key = api_key
        # knobs
        self.latency: float = 0.0
        self.error_rate: float = 0.0
        self.rate_limit: int | None = None
        self.rate_window: float = 1.0
        self.outage: bool = False
        self.sync_interval: float | None = None  # periodic sync runs in make_app's server
        # counters
        self.requests = 0
        self._rng = random.Random(seed)
        self._injected: deque[tuple[int, float | None]] = deque()
        self._hits: deque[float] = deque()
        self._wake: asyncio.Event | None = None
        self._sync = SyncRunner(self)

    def inject(self, status: int, count: int = 1, *, retry_after: float | None = None) -> None:
        """The next ``count`` /v1 requests (with a valid key) answer ``status``
        (429 carries ``Retry-After``)."""
        for _ in range(count):
            self._injected.append((status, retry_after))

    # ------------------------------------------------------------ sync runs

    async def sync_run(self, *, only: Iterable[str] | None = None) -> SyncRunReport:
        """One sync run against the QBO stand-in over HTTP (``qbo_url``/``qbo_realm``).

        Each pending or failed payment (oldest payment first) is posted as a QBO Payment;
        success marks it synced with the new ``qb_payment_id``, a QBO fault marks it failed
        with the fault's code and text. An authentication refusal, throttling, a 5xx or an
        unreachable QBO stops the run and leaves the remaining payments as they were."""
        return await self._sync.over_http(only=only)

    def sync_local(
        self,
        company: QBOCompanyLike,
        *,
        at: datetime | Callable[[Payment], datetime] | None = None,
        only: Iterable[str] | None = None,
    ) -> SyncRunReport:
        """The same sync run, applied to an in-process ``SandboxCompany`` (no HTTP): used to
        build scenario histories quickly (see :meth:`SyncRunner.in_process`)."""
        return self._sync.in_process(company, at=at, only=only)

    def resync_requested(self) -> None:
        """A payment went back to pending: the periodic sync runs now."""
        if self._wake is not None:
            self._wake.set()

    # ------------------------------------------------------------ HTTP app

    def make_app(self) -> web.Application:
        """The aiohttp app: the contract under /v1 and the sandbox-only routes."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/v1/payments", self._h_list)
        app.router.add_get("/v1/payments/{id}", self._h_get)
        app.router.add_get("/v1/sync/stats", self._h_stats)
        app.router.add_post("/v1/payments/{id}/dismiss-sync", self._h_dismiss)
        app.router.add_delete("/v1/payments/{id}/history", self._h_delete)
        app.router.add_post("/v1/payments/{id}/resync", self._h_resync)
        app.router.add_post("/sandbox/sync-run", self._h_sync_run)
        app.router.add_get("/sandbox/state", self._h_state)
        app.router.add_post("/sandbox/knobs", self._h_knobs)
        app.cleanup_ctx.append(self._sync_loop_ctx)
        return app

    async def _sync_loop_ctx(self, app: web.Application) -> AsyncIterator[None]:
        task: asyncio.Task[None] | None = None
        if self.sync_interval:
            self._wake = asyncio.Event()
            task = asyncio.create_task(self._sync_loop(self.sync_interval))
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._wake = None

    async def _sync_loop(self, interval: float) -> None:
        """Run a sync every ``interval`` seconds, or sooner after a resync."""
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            self._wake.clear()
            try:
                await self.sync_run()
            except Exception:  # a failed run must not end the loop
                log.exception("periodic sync run failed")

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/v1/"):
            return await handler(request)
        self.requests += 1
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if self.outage:
            return error(503, "unavailable", "ConnectBooster is unavailable (sandbox outage)")
        if request.headers.get("Authorization", "") != f"Bearer {self.api_key}":
            return error(401, "unauthorized", "Missing or wrong API key")
        if self._injected:
            status, retry_after = self._injected.popleft()
            return self._failure(status, retry_after)
        if self.rate_limit is not None:
            wait = self._rate_wait()
            if wait is not None:
                return self._failure(429, wait)
        if self.error_rate > 0 and self._rng.random() < self.error_rate:
            return error(500, "server_error", "Injected sandbox failure")
        return await handler(request)

    def _rate_wait(self) -> float | None:
        assert self.rate_limit is not None
        now = time.monotonic()
        while self._hits and now - self._hits[0] >= self.rate_window:
            self._hits.popleft()
        if len(self._hits) >= self.rate_limit:
            return self.rate_window - (now - self._hits[0])
        self._hits.append(now)
        return None

    def _failure(self, status: int, retry_after: float | None) -> web.Response:
        if status == 429:
            secs = max(1, math.ceil(retry_after if retry_after is not None else 1))
            return error(429, "rate_limited", "Too many requests", **{"Retry-After": str(secs)})
        codes = {400: "bad_request", 404: "not_found", 409: "conflict", 422: "invalid"}
        code = codes.get(status, "server_error" if status >= 500 else "error")
        return error(status, code, f"Injected sandbox answer {status}")

    # ------------------------------------------------------------ /v1

    async def _h_list(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            limit = int(q.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return error(400, "bad_request", "limit must be an integer")
        if not 1 <= limit <= MAX_LIMIT:
            return error(422, "invalid", f"limit must be between 1 and {MAX_LIMIT}")
        status = q.get("sync_status")
        if status is not None and status not in {s.value for s in SyncStatus}:
            return error(422, "invalid", f"unknown sync_status {status!r}")
        since: datetime | None = None
        if "updated_since" in q:
            try:
                since = parse_time(q["updated_since"])
            except ValueError:
                return error(400, "bad_request", "updated_since must be RFC 3339 with an offset")
        after: tuple[datetime, str] | None = None
        if q.get("cursor"):
            try:
                after = decode_cursor(q["cursor"])
            except (ValueError, binascii.Error, TypeError):
                return error(400, "bad_request", "cursor is not one this server issued")
        rows = [
            p
            for p in self.payments.values()
            if (status is None or p.sync.status == status)
            and (since is None or p.updated_at >= since)
            and (after is None or (p.updated_at, p.id) > after)
        ]
        rows.sort(key=lambda p: (p.updated_at, p.id))
        page = rows[:limit]
        next_cursor = encode_cursor(page[-1]) if len(rows) > limit else None
        return web.json_response({"items": [p.to_wire() for p in page], "next_cursor": next_cursor})

    async def _h_get(self, request: web.Request) -> web.Response:
        pid = request.match_info["id"]
        p = self.payments.get(pid)
        if p is None:
            return error(404, "not_found", f"No payment {pid}")
        return web.json_response(p.to_wire())

    async def _h_stats(self, request: web.Request) -> web.Response:
        raw = request.query.get("since")
        if not raw:
            return error(400, "bad_request", "since is required")
        try:
            since = parse_time(raw)
        except ValueError:
            return error(400, "bad_request", "since must be RFC 3339 with an offset")
        return web.json_response(self.stats_since(since))

    async def _h_action(
        self, request: web.Request, action: Callable[[str], Payment | None]
    ) -> web.Response:
        pid = request.match_info["id"]
        try:
            result = action(pid)
        except KeyError:
            return error(404, "not_found", f"No payment {pid}")
        except ValueError as exc:
            return error(409, "conflict", str(exc))
        if result is None:
            return web.Response(status=204)
        return web.json_response(result.to_wire())

    async def _h_dismiss(self, request: web.Request) -> web.Response:
        return await self._h_action(request, self.dismiss)

    async def _h_delete(self, request: web.Request) -> web.Response:
        return await self._h_action(request, self.delete_history)

    async def _h_resync(self, request: web.Request) -> web.Response:
        return await self._h_action(request, self.resync)

    # ------------------------------------------------------------ /sandbox

    async def _h_sync_run(self, request: web.Request) -> web.Response:
        try:
            report = await self.sync_run()
        except RuntimeError as exc:
            return error(409, "conflict", str(exc))
        return web.json_response(report.model_dump(mode="json"))

    async def _h_state(self, request: web.Request) -> web.Response:
        rows = sorted(self.payments.values(), key=lambda p: (p.paid_at, p.id))
        counts = {s.value: 0 for s in SyncStatus}
        for p in rows:
            counts[p.sync.status.value] += 1
        return web.json_response(
            {
                "payments": [p.to_wire() for p in rows],
                "deleted": sorted(self.deleted),
                "counts": counts,
                "sync_runs": self.sync_runs,
                "knobs": self._knobs(),
            }
        )

    def _knobs(self) -> dict[str, Any]:
        return {
            "latency": self.latency,
            "error_rate": self.error_rate,
            "rate_limit": self.rate_limit,
            "rate_window": self.rate_window,
            "outage": self.outage,
        }

    async def _h_knobs(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
        except json.JSONDecodeError:
            return error(400, "bad_request", "body must be JSON")
        if not isinstance(data, dict):
            return error(400, "bad_request", "body must be a JSON object")
        try:
            knobs = Knobs.model_validate(data)
        except ValidationError as exc:
            return error(422, "invalid", str(exc.errors()[0]["msg"]))
        for name in knobs.model_fields_set:
            setattr(self, name, getattr(knobs, name))
        return web.json_response(self._knobs())


class Knobs(BaseModel):
    """The body of ``POST /sandbox/knobs``: the knobs to set, each checked."""

    model_config = {"extra": "forbid"}

    latency: float = Field(default=0.0, ge=0, le=60)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    rate_limit: int | None = Field(default=None, ge=1)
    rate_window: float = Field(default=1.0, gt=0)
    outage: bool = False


def error(status: int, code: str, message: str, **headers: str) -> web.Response:
    """The contract's error answer: ``{"error": {"code": ..., "message": ...}}``."""
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers or None
    )


def parse_time(raw: str) -> datetime:
    """An RFC 3339 time; ``ValueError`` without an offset."""
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("time without offset")
    return value


def encode_cursor(p: Payment) -> str:
    """The ``next_cursor`` after ``p`` (its ``updated_at`` and id)."""
    raw = json.dumps([p.updated_at.isoformat(), p.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """``(updated_at, id)`` a cursor continues after."""
    padded = cursor + "=" * (-len(cursor) % 4)
    when, pid = json.loads(base64.urlsafe_b64decode(padded.encode()))
    return parse_time(when), str(pid)
