"""A local ConnectBooster that serves the contract (docs/connectbooster-api.md) from memory.

ConnectBooster publishes no API; this sandbox serves the contract the ``cb/`` client speaks,
and does what ConnectBooster's sync does: a **sync run** records each pending or failed
payment in QuickBooks Online (the QBO sandbox, over its HTTP API) as a received payment with
reference ``CB…``, deposited to Undeposited Funds and applied to the mapped invoices, then
marks it ``synced`` or ``failed`` with QuickBooks' own fault code and text. A remedy made in
QBO (un-applying a credit memo, say) therefore really lets the next sync succeed.

Routes (``make_app``):

- ``/v1/...``: the contract, behind ``Authorization: Bearer <api_key>``.
- ``POST /sandbox/sync-run``: run a sync now; answers the :class:`SyncRunReport`.
- ``GET /sandbox/state``: every payment with its sync state (for the demo's side panel).
- ``POST /sandbox/knobs``: set ``latency``, ``error_rate``, ``rate_limit``, ``rate_window``,
  ``outage`` from JSON.

Knobs (attributes, also for tests and benchmarks): ``latency`` seconds added to each /v1
request, ``error_rate`` share of /v1 requests answered 500, ``rate_limit`` requests per
``rate_window`` seconds before 429 with ``Retry-After``, ``outage`` (every /v1 request 503),
:meth:`CBSandbox.inject` (the next N requests answer a chosen status), and
``lose_response_for`` (payment ids whose next sync reaches QBO but loses its answer, the way
a timed-out sync leaves a ``CB…`` payment in QBO while ConnectBooster records a failure).
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
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import aiohttp
from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from cb.models import Payment, SyncError, SyncState, SyncStatus

log = logging.getLogger(__name__)

MINOR_VERSION = "75"
UNDEPOSITED_FUNDS = "Undeposited Funds"
MAX_LIMIT = 500
DEFAULT_LIMIT = 100


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SyncRunReport(BaseModel):
    """What one sync run did."""

    started_at: datetime
    finished_at: datetime | None = None
    attempted: int = 0
    synced: list[str] = Field(default_factory=list)
    failed: dict[str, SyncError] = Field(default_factory=dict)
    skipped: list[str] = Field(default_factory=list)  # dismissed/deleted during the run
    aborted: str | None = None  # why the run stopped early (QBO down, auth refused, ...)


class QBOCompanyLike(Protocol):
    """The in-process seeding surface of ``sandbox.qbo.SandboxCompany`` that a local sync
    run uses (see :meth:`CBSandbox.sync_local`)."""

    def create(
        self, entity: str, body: dict[str, Any], *, at: datetime | None = None
    ) -> dict[str, Any]: ...

    def all(self, entity: str) -> Any: ...


class _Abort(Exception):
    """A sync run stops: QBO is unreachable, throttling, failing or refusing our token."""


def _dumps(value: Any) -> str:
    """JSON with ``Decimal`` written as a JSON number, exactly (QBO takes numbers)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_dumps(v) for v in value) + "]"
    return json.dumps(value)


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers or None
    )


def _fault_text(message: str | None, detail: str | None) -> str:
    message = (message or "").strip()
    detail = (detail or "").strip()
    if detail and detail.startswith(message):
        return detail
    if detail and detail not in message:
        return f"{message}: {detail}" if message else detail
    return message or detail or "QuickBooks rejected the payment"


def _parse_time(raw: str) -> datetime:
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("time without offset")
    return value


def _encode_cursor(p: Payment) -> str:
    raw = json.dumps([p.updated_at.isoformat(), p.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    padded = cursor + "=" * (-len(cursor) % 4)
    when, pid = json.loads(base64.urlsafe_b64decode(padded.encode()))
    return _parse_time(when), str(pid)


class CBSandbox:
    """ConnectBooster held in memory. See the module docstring for routes and knobs."""

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
        self.api_key = api_key
        self.qbo_url = qbo_url.rstrip("/") if qbo_url else None
        self.qbo_realm = qbo_realm
        self.qbo_access_token = qbo_access_token
        self.clock: Callable[[], datetime] = clock or _utcnow
        self.payments: dict[str, Payment] = {}
        self.deleted: dict[str, Payment] = {}  # history items removed with "Delete"
        # knobs
        self.latency: float = 0.0
        self.error_rate: float = 0.0
        self.rate_limit: int | None = None
        self.rate_window: float = 1.0
        self.outage: bool = False
        self.lose_response_for: set[str] = set()
        self.sync_interval: float | None = None  # periodic sync runs in make_app's server
        # counters
        self.requests = 0
        self.sync_runs = 0
        self._rng = random.Random(seed)
        self._injected: deque[tuple[int, float | None]] = deque()
        self._hits: deque[float] = deque()
        self._sync_lock = asyncio.Lock()
        self._wake: asyncio.Event | None = None
        self._deposit_account: dict[str, str] = {}

    # ------------------------------------------------------------ seeding

    def add_payment(self, payment: Payment | dict[str, Any]) -> Payment:
        """Add (or replace) a payment; a dict is validated as the contract's Payment."""
        p = payment if isinstance(payment, Payment) else Payment.model_validate(payment)
        self.payments[p.id] = p
        self.deleted.pop(p.id, None)
        return p

    def inject(self, status: int, count: int = 1, *, retry_after: float | None = None) -> None:
        """The next ``count`` /v1 requests (with a valid key) answer ``status``
        (429 carries ``Retry-After``)."""
        for _ in range(count):
            self._injected.append((status, retry_after))

    # ------------------------------------------------------------ state changes

    def _record_attempt(
        self,
        p: Payment,
        at: datetime,
        *,
        qb_payment_id: str | None = None,
        error: SyncError | None = None,
    ) -> Payment:
        status = SyncStatus.SYNCED if qb_payment_id else SyncStatus.FAILED
        sync = SyncState(
            status=status,
            attempts=p.sync.attempts + 1,
            last_attempt_at=at,
            qb_payment_id=qb_payment_id,
            error=None if qb_payment_id else error,
        )
        new = p.model_copy(update={"sync": sync, "updated_at": max(at, p.updated_at)})
        self.payments[p.id] = new
        return new

    def _due(self, only: Iterable[str] | None) -> list[Payment]:
        wanted = set(only) if only is not None else None
        due = [
            p
            for p in self.payments.values()
            if p.sync.status in (SyncStatus.PENDING, SyncStatus.FAILED)
            and (wanted is None or p.id in wanted)
        ]
        due.sort(key=lambda p: (p.paid_at, p.id))
        return due

    @staticmethod
    def qbo_payment_body(p: Payment, deposit_account_id: str | None) -> dict[str, Any]:
        """The QBO Payment ConnectBooster creates for ``p``: reference ``CB…``, Undeposited
        Funds, one line per invoice it pays."""
        body: dict[str, Any] = {
            "CustomerRef": {"value": p.customer.qb_customer_id or "", "name": p.customer.name},
            "TotalAmt": p.amount,
            "TxnDate": p.paid_at.date().isoformat(),
            "PaymentRefNum": p.reference,
            "PrivateNote": f"ConnectBooster payment {p.id} ({p.method or 'portal'})",
            "Line": [
                {
                    "Amount": app.amount,
                    "LinkedTxn": [{"TxnId": app.qb_invoice_id, "TxnType": "Invoice"}],
                }
                for app in p.applications
            ],
        }
        if deposit_account_id:
            body["DepositToAccountRef"] = {"value": deposit_account_id, "name": UNDEPOSITED_FUNDS}
        return body

    def request_id(self, p: Payment) -> str:
        """One requestid per attempt: a retry after a lost connection (same attempt) replays,
        a new attempt is a new write."""
        return f"cbsync-{p.id}-{p.sync.attempts + 1}"[:50]

    # ------------------------------------------------------------ sync over HTTP

    async def sync_run(self, *, only: Iterable[str] | None = None) -> SyncRunReport:
        """One sync run against the QBO sandbox over HTTP (``qbo_url``/``qbo_realm``).

        Each pending or failed payment (oldest payment first) is posted as a QBO Payment;
        success marks it synced with the new ``qb_payment_id``, a QBO fault marks it failed
        with the fault's code and text. An authentication refusal, throttling, a 5xx or an
        unreachable QBO stops the run and leaves the remaining payments as they were."""
        if not (self.qbo_url and self.qbo_realm and self.qbo_access_token):
            raise RuntimeError("CBSandbox needs qbo_url, qbo_realm and qbo_access_token to sync")
        async with self._sync_lock:
            self.sync_runs += 1
            report = SyncRunReport(started_at=self.clock())
            timeout = aiohttp.ClientTimeout(total=30)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                try:
                    deposit = await self._http_deposit_account(session)
                    for p in self._due(only):
                        report.attempted += 1
                        await self._http_sync_one(session, p, deposit, report)
                except _Abort as exc:
                    report.aborted = str(exc)
                    log.warning("sync run stopped: %s", exc)
            report.finished_at = self.clock()
            return report

    def _qbo_headers(self) -> dict[str, str]:
        assert self.qbo_access_token is not None
        return {
            "Authorization": f"Bearer {self.qbo_access_token()}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    def _company_url(self) -> str:
        return f"{self.qbo_url}/v3/company/{self.qbo_realm}"

    async def _qbo_call(
        self,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        params: dict[str, str],
        body: str | None = None,
    ) -> tuple[int, Any]:
        params = {"minorversion": MINOR_VERSION, **params}
        try:
            async with session.request(
                method,
                self._company_url() + path,
                params=params,
                data=body,
                headers=self._qbo_headers(),
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _Abort(f"QuickBooks unreachable: {type(exc).__name__}") from exc
        if status in (401, 403):
            raise _Abort(f"QuickBooks refused the connection (HTTP {status})")
        if status == 429 or status >= 500:
            raise _Abort(f"QuickBooks answered HTTP {status}; the next run retries")
        try:
            data = json.loads(raw, parse_float=Decimal) if raw else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Abort(f"QuickBooks answered HTTP {status} with a body that is not JSON") from exc
        return status, data

    async def _http_deposit_account(self, session: aiohttp.ClientSession) -> str | None:
        realm = self.qbo_realm or ""
        if realm in self._deposit_account:
            return self._deposit_account[realm]
        query = f"select * from Account where Name = '{UNDEPOSITED_FUNDS}'"
        _, data = await self._qbo_call(session, "GET", "/query", {"query": query})
        rows = ((data or {}).get("QueryResponse") or {}).get("Account") or []
        if not rows:
            return None  # QBO defaults DepositToAccountRef to Undeposited Funds
        self._deposit_account[realm] = str(rows[0]["Id"])
        return self._deposit_account[realm]

    async def _http_sync_one(
        self,
        session: aiohttp.ClientSession,
        p: Payment,
        deposit: str | None,
        report: SyncRunReport,
    ) -> None:
        body = _dumps(self.qbo_payment_body(p, deposit))
        params = {"requestid": self.request_id(p)}
        _, data = await self._qbo_call(session, "POST", "/payment", params, body)
        now = self.clock()
        fault = _fault_of(data)
        if fault is None and isinstance(data, dict) and isinstance(data.get("Payment"), dict):
            qb_id = str(data["Payment"].get("Id"))
            self._settle(p, now, report, qb_payment_id=qb_id)
        else:
            code, message = fault or (None, "QuickBooks answered without a Payment")
            self._settle(p, now, report, error=SyncError(code=code, message=message))

    def _settle(
        self,
        p: Payment,
        at: datetime,
        report: SyncRunReport,
        *,
        qb_payment_id: str | None = None,
        error: SyncError | None = None,
    ) -> None:
        current = self.payments.get(p.id)
        if current is None or current.sync.status not in (SyncStatus.PENDING, SyncStatus.FAILED):
            # dismissed or deleted while QBO was answering: the portal's choice stands
            report.skipped.append(p.id)
            return
        p = current
        if qb_payment_id and p.id in self.lose_response_for:
            # QBO recorded it, but ConnectBooster never saw the answer.
            self.lose_response_for.discard(p.id)
            qb_payment_id = None
            error = SyncError(code=None, message="Timed out waiting for QuickBooks to answer")
        self._record_attempt(p, at, qb_payment_id=qb_payment_id, error=error)
        if qb_payment_id:
            report.synced.append(p.id)
        else:
            report.failed[p.id] = error or SyncError(message="failed")

    # ------------------------------------------------------------ sync in process

    def sync_local(
        self,
        company: QBOCompanyLike,
        *,
        at: datetime | Callable[[Payment], datetime] | None = None,
        only: Iterable[str] | None = None,
    ) -> SyncRunReport:
        """The same sync run, applied to an in-process ``SandboxCompany`` (no HTTP): used to
        build scenario histories quickly. ``at`` is when the run happens, or a function
        giving each payment's attempt time (QBO's MetaData times and the payments'
        ``last_attempt_at``). QBO rejections arrive as the QBO sandbox's ``SandboxFault``
        and are recorded exactly as over HTTP."""
        from sandbox.qbo import SandboxFault

        def when_for(p: Payment) -> datetime:
            if callable(at):
                return at(p)
            return at or self.clock()

        report = SyncRunReport(started_at=at if isinstance(at, datetime) else self.clock())
        deposit = self._local_deposit_account(company)
        last = report.started_at
        for p in self._due(only):
            report.attempted += 1
            when = when_for(p)
            last = max(last, when)
            body = self.qbo_payment_body(p, deposit)
            try:
                created = company.create("Payment", body, at=when)
            except SandboxFault as fault:
                err = SyncError(
                    code=str(fault.code) if fault.code is not None else None,
                    message=_fault_text(fault.message, fault.detail),
                )
                self._settle(p, when, report, error=err)
                continue
            self._settle(p, when, report, qb_payment_id=str(created["Id"]))
        report.finished_at = last
        return report

    def _local_deposit_account(self, company: QBOCompanyLike) -> str | None:
        known = getattr(company, "undeposited_funds", None)
        if isinstance(known, dict) and known.get("Id"):
            return str(known["Id"])
        for acct in company.all("Account"):
            if acct.get("Name") == UNDEPOSITED_FUNDS:
                return str(acct["Id"])
        return None

    # ------------------------------------------------------------ contract actions

    def dismiss(self, pid: str) -> Payment:
        """"Dismiss Syncing" (raises KeyError / ValueError for 404 / 409)."""
        p = self.payments[pid]
        if p.sync.status == SyncStatus.DISMISSED:
            return p
        if p.sync.status == SyncStatus.SYNCED:
            raise ValueError("payment is already synced to QuickBooks")
        return self._change_status(p, SyncStatus.DISMISSED)

    def delete_history(self, pid: str) -> None:
        """"Delete" (raises KeyError / ValueError for 404 / 409)."""
        p = self.payments[pid]
        if p.sync.status == SyncStatus.PENDING:
            raise ValueError("payment is waiting for the next sync run")
        self.deleted[pid] = self.payments.pop(pid)

    def resync(self, pid: str) -> Payment:
        """"Resync" (raises KeyError / ValueError for 404 / 409)."""
        p = self.payments[pid]
        if p.sync.status in (SyncStatus.SYNCED, SyncStatus.DISMISSED):
            raise ValueError(f"payment is {p.sync.status.value}")
        if p.sync.status == SyncStatus.PENDING:
            return p
        new = self._change_status(p, SyncStatus.PENDING)
        if self._wake is not None:
            self._wake.set()
        return new

    def _change_status(self, p: Payment, status: SyncStatus) -> Payment:
        now = max(self.clock(), p.updated_at)
        sync = p.sync.model_copy(update={"status": status})
        new = p.model_copy(update={"sync": sync, "updated_at": now})
        self.payments[p.id] = new
        return new

    def stats_since(self, since: datetime) -> dict[str, Any]:
        counts = {s.value: 0 for s in SyncStatus}
        for p in self.payments.values():
            if p.paid_at >= since:
                counts[p.sync.status.value] += 1
        return {"since": since.isoformat(), "total": sum(counts.values()), **counts}

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

    async def _sync_loop_ctx(self, app: web.Application) -> Any:
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
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith("/v1/"):
            return await handler(request)
        self.requests += 1
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if self.outage:
            return _error(503, "unavailable", "ConnectBooster is unavailable (sandbox outage)")
        if request.headers.get("Authorization", "") != f"Bearer {self.api_key}":
            return _error(401, "unauthorized", "Missing or wrong API key")
        if self._injected:
            status, retry_after = self._injected.popleft()
            return self._failure(status, retry_after)
        if self.rate_limit is not None:
            wait = self._rate_wait()
            if wait is not None:
                return self._failure(429, wait)
        if self.error_rate > 0 and self._rng.random() < self.error_rate:
            return _error(500, "server_error", "Injected sandbox failure")
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
            return _error(
                429, "rate_limited", "Too many requests", **{"Retry-After": str(secs)}
            )
        codes = {400: "bad_request", 404: "not_found", 409: "conflict", 422: "invalid"}
        code = codes.get(status, "server_error" if status >= 500 else "error")
        return _error(status, code, f"Injected sandbox answer {status}")

    async def _h_list(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            limit = int(q.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return _error(400, "bad_request", "limit must be an integer")
        if not 1 <= limit <= MAX_LIMIT:
            return _error(422, "invalid", f"limit must be between 1 and {MAX_LIMIT}")
        status = q.get("sync_status")
        if status is not None and status not in {s.value for s in SyncStatus}:
            return _error(422, "invalid", f"unknown sync_status {status!r}")
        since: datetime | None = None
        if "updated_since" in q:
            try:
                since = _parse_time(q["updated_since"])
            except ValueError:
                return _error(400, "bad_request", "updated_since must be RFC 3339 with an offset")
        after: tuple[datetime, str] | None = None
        if q.get("cursor"):
            try:
                after = _decode_cursor(q["cursor"])
            except (ValueError, binascii.Error, TypeError):
                return _error(400, "bad_request", "cursor is not one this server issued")
        rows = [
            p
            for p in self.payments.values()
            if (status is None or p.sync.status == status)
            and (since is None or p.updated_at >= since)
            and (after is None or (p.updated_at, p.id) > after)
        ]
        rows.sort(key=lambda p: (p.updated_at, p.id))
        page = rows[:limit]
        next_cursor = _encode_cursor(page[-1]) if len(rows) > limit else None
        return web.json_response(
            {"items": [p.to_wire() for p in page], "next_cursor": next_cursor}
        )

    def _lookup(self, request: web.Request) -> Payment | web.Response:
        pid = request.match_info["id"]
        p = self.payments.get(pid)
        if p is None:
            return _error(404, "not_found", f"No payment {pid}")
        return p

    async def _h_get(self, request: web.Request) -> web.Response:
        p = self._lookup(request)
        if isinstance(p, web.Response):
            return p
        return web.json_response(p.to_wire())

    async def _h_stats(self, request: web.Request) -> web.Response:
        raw = request.query.get("since")
        if not raw:
            return _error(400, "bad_request", "since is required")
        try:
            since = _parse_time(raw)
        except ValueError:
            return _error(400, "bad_request", "since must be RFC 3339 with an offset")
        return web.json_response(self.stats_since(since))

    async def _h_action(
        self, request: web.Request, action: Callable[[str], Payment | None]
    ) -> web.Response:
        pid = request.match_info["id"]
        try:
            result = action(pid)
        except KeyError:
            return _error(404, "not_found", f"No payment {pid}")
        except ValueError as exc:
            return _error(409, "conflict", str(exc))
        if result is None:
            return web.Response(status=204)
        return web.json_response(result.to_wire())

    async def _h_dismiss(self, request: web.Request) -> web.Response:
        return await self._h_action(request, self.dismiss)

    async def _h_delete(self, request: web.Request) -> web.Response:
        return await self._h_action(request, self.delete_history)

    async def _h_resync(self, request: web.Request) -> web.Response:
        return await self._h_action(request, self.resync)

    async def _h_sync_run(self, request: web.Request) -> web.Response:
        try:
            report = await self.sync_run()
        except RuntimeError as exc:
            return _error(409, "conflict", str(exc))
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
            return _error(400, "bad_request", "body must be JSON")
        if not isinstance(data, dict):
            return _error(400, "bad_request", "body must be a JSON object")
        try:
            knobs = _Knobs.model_validate(data)
        except ValidationError as exc:
            return _error(422, "invalid", str(exc.errors()[0]["msg"]))
        for name in knobs.model_fields_set:
            setattr(self, name, getattr(knobs, name))
        return web.json_response(self._knobs())


class _Knobs(BaseModel):
    model_config = {"extra": "forbid"}

    latency: float = Field(default=0.0, ge=0, le=60)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    rate_limit: int | None = Field(default=None, ge=1)
    rate_window: float = Field(default=1.0, gt=0)
    outage: bool = False


def _fault_of(data: Any) -> tuple[str | None, str] | None:
    """``(code, text)`` of a QBO fault body (``Fault`` or lowercase ``fault``), else None."""
    if not isinstance(data, dict):
        return None
    fault = data.get("Fault") or data.get("fault")
    if not isinstance(fault, dict):
        return None
    errors = fault.get("Error") or fault.get("error") or []
    if not errors:
        return None, "QuickBooks rejected the payment"
    first = errors[0]
    code = first.get("code")
    text = _fault_text(
        first.get("Message") or first.get("message"), first.get("Detail") or first.get("detail")
    )
    return (str(code) if code is not None else None), text

