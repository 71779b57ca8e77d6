"""An async client for the ConnectBooster contract (docs/connectbooster-api.md).

ConnectBooster publishes no API; this client speaks the contract that a partner API or a
tenant's bridge serves, so everything ConnectBooster-specific stays in this package.

Behaviour:

- ``Authorization: Bearer <api key>`` on every request; the key is never logged.
- Error answers become the exceptions of :mod:`cb.errors`; aiohttp and timeout errors become
  :class:`~cb.errors.TransportError` raised ``from`` the original.
- 429 waits ``Retry-After`` seconds (or a backoff step when the header is missing) and retries.
- 5xx answers and transport errors are retried with capped exponential backoff and full
  jitter, for reads and for the writes the contract makes idempotent (dismiss-sync, delete
  history, resync). ``max_retries`` bounds the extra attempts.
- :meth:`CBClient.dismiss_sync` on an already dismissed payment and
  :meth:`CBClient.delete_history` on an already deleted item are successes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, SecretStr, ValidationError

from cb.errors import (
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    TransportError,
    error_for_status,
)
from cb.models import Payment, PaymentPage, SyncStats

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Sleep = Callable[[float], Awaitable[Any]]

MAX_PAGE = 500
# The longest Retry-After we sleep through; a longer one is raised to the caller.
MAX_RETRY_AFTER = 300.0


@dataclass
class CBClientStats:
    """Counters a caller (or a benchmark) can read: every HTTP attempt counts once."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    transport_errors: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


def _rfc3339(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("ConnectBooster times must carry a time zone")
    return value.isoformat()


def _parse_retry_after(raw: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not raw:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    ref = now or datetime.now(when.tzinfo)
    return max(0.0, (when - ref).total_seconds())


class CBClient:
    """Client for one ConnectBooster tenant. Share one ``aiohttp.ClientSession`` for the
    app's lifetime; the client does not own or close it."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: SecretStr,
        timeout: float = 20.0,
        max_retries: int = 4,
        sleep: Sleep = asyncio.sleep,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        rng: random.Random | None = None,
    ) -> None:
        if not base_url:
            raise ValueError("base_url is required (CB_BASE_URL)")
        self._session = session
        self._base = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_retries = max(0, max_retries)
        self._sleep = sleep
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._rng = rng or random.Random()
        self.stats = CBClientStats()

    def __repr__(self) -> str:  # never show the key
        return f"CBClient(base_url={self._base!r})"

    # ---------------------------------------------------------------- reads

    async def list_page(
        self,
        sync_status: str = "failed",
        *,
        updated_since: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> PaymentPage:
        """One page of payments in ``sync_status``, oldest update first."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1..{MAX_PAGE}")
        params: dict[str, str] = {"sync_status": str(sync_status), "limit": str(limit)}
        if updated_since is not None:
            params["updated_since"] = _rfc3339(updated_since)
        if cursor:
            params["cursor"] = cursor
        body = await self._request("GET", "/v1/payments", params=params, idempotent=True)
        return self._parse(PaymentPage, body)

    async def list_payments(
        self,
        sync_status: str = "failed",
        *,
        updated_since: datetime | None = None,
        limit: int = 100,
    ) -> AsyncIterator[Payment]:
        """Every payment in ``sync_status`` (updated at or after ``updated_since``), following
        ``next_cursor`` until the last page. ``limit`` is the page size."""
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = await self.list_page(
                sync_status, updated_since=updated_since, cursor=cursor, limit=limit
            )
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            if page.next_cursor in seen:
                raise ProtocolError(message="ConnectBooster repeated a page cursor")
            seen.add(page.next_cursor)
            cursor = page.next_cursor

    async def get_payment(self, payment_id: str) -> Payment:
        """One payment; :class:`~cb.errors.NotFound` when it does not exist (or its history
        item was deleted)."""
        body = await self._request("GET", f"/v1/payments/{_seg(payment_id)}", idempotent=True)
        return self._parse(Payment, body)

    async def sync_stats(self, since: datetime) -> SyncStats:
        """Counts of payments by sync state, paid since ``since``."""
        body = await self._request(
            "GET", "/v1/sync/stats", params={"since": _rfc3339(since)}, idempotent=True
        )
        return self._parse(SyncStats, body)

    # ---------------------------------------------------------------- writes

    async def dismiss_sync(self, payment_id: str) -> Payment:
        """ "Dismiss Syncing": ConnectBooster stops sending the payment to QuickBooks.
        Dismissing an already dismissed payment succeeds and returns it unchanged;
        a synced one raises :class:`~cb.errors.Conflict`."""
        body = await self._request(
            "POST", f"/v1/payments/{_seg(payment_id)}/dismiss-sync", idempotent=True
        )
        return self._parse(Payment, body)

    async def delete_history(self, payment_id: str) -> bool:
        """ "Delete": remove the payment from the portal history. True when this call deleted
        it, False when it was already gone.

        The contract answers 404 both for a history item deleted earlier and for an id that
        never existed, so this call cannot tell them apart: a caller that must know reads the
        payment with :meth:`get_payment` first (and records that it existed) before deleting.
        A pending payment raises :class:`~cb.errors.Conflict`."""
        try:
            await self._request(
                "DELETE", f"/v1/payments/{_seg(payment_id)}/history", idempotent=True
            )
        except NotFound:
            return False
        return True

    async def resync(self, payment_id: str) -> Payment:
        """ "Resync": queue the payment for the next sync run (status ``pending``). A synced or
        dismissed payment raises :class:`~cb.errors.Conflict`."""
        body = await self._request(
            "POST", f"/v1/payments/{_seg(payment_id)}/resync", idempotent=True
        )
        return self._parse(Payment, body)

    # ---------------------------------------------------------------- transport

    def _backoff(self, attempt: int) -> float:
        """Full jitter over a capped exponential step (attempt 0 is the first retry)."""
        step = min(self._backoff_cap, self._backoff_base * (2**attempt))
        return self._rng.uniform(step / 2, step)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        idempotent: bool,
    ) -> Any:
        url = self._base + path
        headers = {
            "Authorization": f"Bearer {self._api_key.get_secret_value()}",
            "Accept": "application/json",
        }
        attempt = 0
        while True:
            self.stats.requests += 1
            try:
                return await self._once(method, url, headers, params)
            except RateLimited as exc:
                self.stats.rate_limited += 1
                wait = exc.retry_after if exc.retry_after is not None else self._backoff(attempt)
                if attempt >= self._max_retries or wait > MAX_RETRY_AFTER:
                    raise
                log.info("ConnectBooster rate limited %s %s; waiting %.1fs", method, path, wait)
            except (ServerError, TransportError) as exc:
                if isinstance(exc, ServerError):
                    self.stats.server_errors += 1
                else:
                    self.stats.transport_errors += 1
                if not idempotent or attempt >= self._max_retries:
                    raise
                wait = self._backoff(attempt)
                log.warning(
                    "ConnectBooster %s %s failed (%s); retry %d in %.2fs",
                    method,
                    path,
                    exc.code,
                    attempt + 1,
                    wait,
                )
            attempt += 1
            self.stats.retries += 1
            await self._sleep(wait)

    async def _once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None,
    ) -> Any:
        try:
            async with self._session.request(
                method, url, headers=headers, params=params, timeout=self._timeout
            ) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = _parse_retry_after(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(message=f"{type(exc).__name__}: {exc}") from exc
        self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
        if status >= 400:
            code, message = _error_body(raw, status)
            raise error_for_status(status, code, message, retry_after=retry_after)
        if status == 204 or not raw:
            return None
        try:
            return json.loads(raw, parse_float=Decimal)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProtocolError(status, message="ConnectBooster answered with bad JSON") from exc

    @staticmethod
    def _parse(model: type[M], body: Any) -> M:
        name = model.__name__
        if body is None:
            raise ProtocolError(message=f"ConnectBooster sent no body where a {name} was due")
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]["msg"]
            raise ProtocolError(
                message=f"ConnectBooster sent a {name} that does not follow the contract: "
                f"{exc.error_count()} error(s), first: {first}"
            ) from exc


def _seg(payment_id: str) -> str:
    """One URL path segment (an id can never step into another path)."""
    if not payment_id:
        raise ValueError("payment id is empty")
    return quote(str(payment_id), safe="")


def _error_body(raw: bytes, status: int) -> tuple[str | None, str]:
    """``(code, message)`` from the contract's ``{"error": {...}}`` body, tolerating others."""
    try:
        data = json.loads(raw) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        code = err.get("code")
        message = err.get("message")
        return (str(code) if code is not None else None, str(message or f"HTTP {status}"))
    text = raw[:200].decode("utf-8", "replace").strip() if raw else ""
    return None, text or f"HTTP {status}"
