"""An async client for the gateway's Query API (``query.php``; BNG is an NMI gateway).

Behaviour:

- One form POST per page, ``security_key`` in the form body; the key is never logged and
  never part of an error.
- Paging: ``result_limit`` rows a page, ``page_number`` from ``first_page`` (the Query API
  does not say whether pages count from 0 or 1; counting from 0 is safe both ways because
  rows are de-duplicated by ``transaction_id`` — a server counting from 1 answers page 0 like
  page 1). The last page is the first short one.
- :meth:`GatewayClient.modified_since`: transactions modified in a window (the gateway
  matches ``start_date``/``end_date`` against the last modification), de-duplicated by
  ``transaction_id``, the newest copy kept.
- ``<error_response>`` → :class:`~gateway.errors.Rejected` (a refused key:
  :class:`~gateway.errors.AuthenticationFailed`, never retried: repeated authentication
  failures lower the gateway's limits); malformed XML →
  :class:`~gateway.errors.MalformedResponse`.
- 429: never retried at once — ``Retry-After`` when given, else a capped exponential backoff
  with jitter, at most ``max_retries`` times, then :class:`~gateway.errors.RateLimited`.
  5xx and transport errors are retried the same way (a query writes nothing).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from pydantic import SecretStr

from gateway.errors import MalformedResponse, RateLimited, Rejected, ServerError, TransportError
from gateway.models import Transaction
from gateway.wire import gateway_time, parse_response

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]
BNG_QUERY_URL = "https://secure.bngpaymentgateway.com/api/query.php"
DEFAULT_PAGE = 500
MAX_PAGES = 1000
MAX_RETRY_AFTER = 300.0


@dataclass
class GatewayClientStats:
    """Counters a caller (or a benchmark) can read: every HTTP attempt counts once."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    rejected: int = 0
    malformed: int = 0
    server_errors: int = 0
    transport_errors: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class GatewayClient:
    """Client for one merchant's Query API. Share one ``aiohttp.ClientSession`` (one
    connection is what the gateway asks for); the client does not own or close it."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        url: str = BNG_QUERY_URL,
        security_key: SecretStr,
        page_size: int = DEFAULT_PAGE,
        first_page: int = 0,
        timeout: float = 30.0,
        max_retries: int = 4,
        sleep: Sleep = asyncio.sleep,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https:// (GATEWAY_URL)")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._session = session
        self.url = url
        self._key = security_key
        self.page_size = page_size
        self.first_page = first_page
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_retries = max(0, max_retries)
        self._sleep = sleep
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._rng = rng or random.Random()
        self.stats = GatewayClientStats()

    def with_retries(self, max_retries: int) -> GatewayClient:
        """The same client (session, URL, key, paging) retrying at most ``max_retries``
        times: ``check`` asks once, it does not sit out a 429 storm."""
        return GatewayClient(
            self._session,
            url=self.url,
            security_key=self._key,
            page_size=self.page_size,
            first_page=self.first_page,
            max_retries=max_retries,
            sleep=self._sleep,
            backoff_base=self._backoff_base,
            backoff_cap=self._backoff_cap,
        )

    def __repr__(self) -> str:  # never show the key
        return f"GatewayClient(url={self.url!r})"

    # ---------------------------------------------------------------- queries

    async def query(self, **filters: str) -> list[Transaction]:
        """Every transaction matching ``filters`` (Query API names: ``condition``,
        ``action_type``, ``transaction_id``, ...), all pages, de-duplicated."""
        seen: dict[str, Transaction] = {}
        page = self.first_page
        for _ in range(MAX_PAGES):
            form = {
                **filters,
                "result_limit": str(self.page_size),
                "page_number": str(page),
                "result_order": "standard",
            }
            rows = await self._post(form)
            for t in rows:
                seen[t.transaction_id] = _newer(seen.get(t.transaction_id), t)
            if len(rows) < self.page_size:
                break
            page += 1
        return list(seen.values())

    async def modified_since(
        self,
        start: datetime,
        end: datetime | None = None,
        *,
        condition: Iterable[str] = (),
        action_type: Iterable[str] = (),
    ) -> list[Transaction]:
        """Transactions last modified in ``[start, end]`` (a transaction comes back when it
        settles, is refunded, voided or returned), oldest modification first."""
        filters = {"start_date": gateway_time(start)}
        if end is not None:
            filters["end_date"] = gateway_time(end)
        if cond := ",".join(condition):
            filters["condition"] = cond
        if kinds := ",".join(action_type):
            filters["action_type"] = kinds
        rows = await self.query(**filters)
        return sorted(rows, key=lambda t: (t.modified_at or start, t.transaction_id))

    async def by_ids(self, ids: Iterable[str], *, chunk: int = 100) -> list[Transaction]:
        """The transactions with these ids (a comma list per query, ``chunk`` ids each)."""
        todo = sorted(set(ids))
        out: list[Transaction] = []
        for i in range(0, len(todo), chunk):
            out.extend(await self.query(transaction_id=",".join(todo[i : i + chunk])))
        return out

    # ---------------------------------------------------------------- transport

    def _backoff(self, attempt: int) -> float:
        step = min(self._backoff_cap, self._backoff_base * (2**attempt))
        return self._rng.uniform(step / 2, step)

    async def _post(self, form: dict[str, str]) -> list[Transaction]:
        attempt = 0
        while True:
            self.stats.requests += 1
            try:
                return await self._once(form)
            except RateLimited as exc:
                self.stats.rate_limited += 1
                wait = max(exc.retry_after or 0.0, self._backoff(attempt))
                if attempt >= self._max_retries or wait > MAX_RETRY_AFTER:
                    raise
                log.info("gateway rate limited (429); waiting %.1fs before retrying", wait)
            except (ServerError, TransportError) as exc:
                if isinstance(exc, ServerError):
                    self.stats.server_errors += 1
                else:
                    self.stats.transport_errors += 1
                if attempt >= self._max_retries:
                    raise
                wait = self._backoff(attempt)
                log.warning("gateway query failed (%s); retry %d in %.2fs", exc, attempt + 1, wait)
            attempt += 1
            self.stats.retries += 1
            await self._sleep(wait)

    async def _once(self, form: dict[str, str]) -> list[Transaction]:
        body = {"security_key": self._key.get_secret_value(), **form}
        try:
            async with self._session.post(self.url, data=body, timeout=self._timeout) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = _seconds(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
        if status == 429:
            raise RateLimited("too many queries", retry_after=retry_after)
        if status != 200:
            raise ServerError(f"the Query API answered HTTP {status}", status=status)
        try:
            return parse_response(raw)
        except Rejected:
            self.stats.rejected += 1
            raise
        except MalformedResponse:
            self.stats.malformed += 1
            raise


def _newer(old: Transaction | None, new: Transaction) -> Transaction:
    """Of two copies of one transaction, the one modified last."""
    if old is None:
        return new
    a, b = old.modified_at, new.modified_at
    return new if a is None or (b is not None and b >= a) else old


def _seconds(raw: str | None) -> float | None:
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None
