"""An async QuickBooks Online Accounting API v3 client (aiohttp).

One :class:`QBOClient` per company, sharing the app's one ``aiohttp.ClientSession``.
Every call sends ``minorversion``, ``Accept: application/json`` and a Bearer token; every
POST a ``requestid``. It stays inside QBO's limits (``qb.limits``: in flight, a minute, batch
calls a minute; with ``shared_limits``, for every replica together), waits out 429s, retries
5xx and timeouts with capped exponential backoff and jitter (reads, and writes that carry a
requestid), refreshes the token once on 401/3200, and re-applies a sparse update once on a
stale SyncToken (5010). The write operations are in ``qb.writes``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote as urlquote

import aiohttp

from qb.auth import OAuthClient
from qb.errors import (
    AuthenticationError,
    QBOError,
    ServerError,
    ThrottledError,
    TransportError,
    fault_from_dict,
    loads,
    parse_fault,
    read_json,
)
from qb.gcpause import gc_paused
from qb.limits import ClientStats, Limits, SharedGate
from qb.models import Account, CompanyInfo, Entity, Preferences
from qb.query import MAX_PAGE, chunks, in_clause, join_where, quote, select
from qb.wire import BatchItem, BatchResult, dumps_json, entity_key, parse_entity
from qb.writes import MAX_REQUEST_ID, PaymentWrites

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Entity)

PRODUCTION_BASE_URL = "https://quickbooks.api.intuit.com"
SANDBOX_BASE_URL = "https://sandbox-quickbooks.api.intuit.com"
WEB_URLS = {
    "production": "https://app.qbo.intuit.com",
    "sandbox": "https://app.sandbox.qbo.intuit.com",
}
WEB_PATHS = {
    "invoice": "/app/invoice?txnId=",
    "payment": "/app/recvpayment?txnId=",
    "creditmemo": "/app/creditmemo?txnId=",
    "customer": "/app/customerdetail?nameId=",
}
BATCH_SIZE = 30


class QBOClient(PaymentWrites):
    """The Accounting API for one company (``realm_id``); its writes come from
    ``qb.writes.PaymentWrites``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        realm_id: str,
        base_url: str,
        auth: OAuthClient,
        minor_version: int = 75,
        max_in_flight: int = 10,
        per_minute: int = 500,
        rate_window_seconds: float = 60.0,
        batch_per_minute: int = 40,
        shared_limits: SharedGate | None = None,
        timeout: float = 30.0,
        max_retries: int = 4,
        web_base_url: str | None = None,
        environment: str = "production",
        throttle_wait: float = 60.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        page_size: int = MAX_PAGE,
        rng: random.Random | None = None,
    ) -> None:
        self._session = session
        self.realm_id = realm_id
        self._base = f"{base_url.rstrip('/')}/v3/company/{realm_id}"
        self._auth = auth
        self.minor_version = minor_version
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_retries = max_retries
        self.throttle_wait = throttle_wait
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self.page_size = min(page_size, MAX_PAGE)
        self._rng = rng or random.Random()
        self.environment = environment
        self._web_base = web_base_url or WEB_URLS.get(environment, WEB_URLS["production"])
        self.stats = ClientStats()
        self.limits = Limits(
            max_in_flight=max_in_flight,
            per_window=per_minute,
            batch_per_window=batch_per_minute,
            window_seconds=rate_window_seconds,
            shared=shared_limits,
            sleep=sleep,
            stats=self.stats,
        )

    async def aclose(self) -> None:
        """Hand back the shared slots still held (before the Redis client closes)."""
        await self.limits.aclose()

    # ---- transport -----------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * (2**attempt))
        return self._rng.uniform(ceiling / 2, ceiling)  # "equal jitter"

    def _query_params(
        self, method: str, params: Mapping[str, str] | None, request_id: str | None
    ) -> dict[str, str]:
        """The query string of one call: ``minorversion``, ``params``, and a POST's
        ``requestid`` (required, at most ``MAX_REQUEST_ID`` characters)."""
        query = {"minorversion": str(self.minor_version), **(params or {})}
        if method == "POST":
            if not request_id:
                raise ValueError("every POST needs a requestid")
            if len(request_id) > MAX_REQUEST_ID:
                raise ValueError(f"requestid longer than {MAX_REQUEST_ID} characters")
            query["requestid"] = request_id
        return query

    async def _send(
        self, method: str, url: str, query: Mapping[str, str], data: str | None, token: str
    ) -> tuple[int, bytes, Mapping[str, str]]:
        """One HTTP exchange inside the rate limits, counted in ``stats``: the status, the
        body and the headers of the answer, whatever the status."""
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with (
            self.limits.slot(batch=url.endswith("/batch")),
            self._session.request(
                method,
                url,
                params=query,
                data=data,
                headers=headers,
                timeout=self._timeout,
            ) as resp,
        ):
            return resp.status, await resp.read(), resp.headers

    async def _request(
        self,
        method: str,
        path: str,
        *,
        kind: str,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        request_id: str | None = None,
    ) -> Any:
        """Send one API call with limits, retries and token refresh; the parsed JSON."""
        query = self._query_params(method, params, request_id)
        retryable = method == "GET" or bool(request_id)
        data = None
        if json_body is not None:
            data = dumps_json(json_body)
        url = self._base + path
        attempts = 0
        throttles = 0
        refreshed = False
        self.stats.by_kind[kind] += 1
        while True:
            token = await self._auth.access_token()
            try:
                status, body, resp_headers = await self._send(method, url, query, data, token)
            except (aiohttp.ClientError, TimeoutError) as exc:
                err = TransportError(f"{method} {path}: {type(exc).__name__}: {exc}".strip())
                if retryable and attempts < self.max_retries:
                    attempts += 1
                    self.stats.retries += 1
                    log.warning(
                        "QBO %s %s: %s; retry %d", method, path, type(exc).__name__, attempts
                    )
                    await self._sleep(self._backoff(attempts))
                    continue
                self.stats.errors += 1
                raise err from exc
            with gc_paused():  # a big answer is many small objects with no cycles
                answer = read_json(body)  # parsed once, for the fault check and the answer
            fault = parse_fault(status, body, resp_headers, data=answer)
            if fault is None:
                if answer is not None:
                    return answer
                try:
                    return loads(body) if body else {}
                except ValueError as exc:
                    raise ServerError(
                        f"unreadable answer to {method} {path}",
                        status=status,
                        intuit_tid=resp_headers.get("intuit_tid"),
                    ) from exc
            log.warning(
                "QBO %s %s failed: %s (code %s, HTTP %s, intuit_tid %s)",
                method,
                path,
                type(fault).__name__,
                fault.code,
                status,
                fault.intuit_tid,
            )
            if isinstance(fault, AuthenticationError) and status == 401 and not refreshed:
                refreshed = True
                self.stats.refreshes += 1
                await self._auth.refresh(token)
                continue
            if isinstance(fault, ThrottledError):
                self.stats.throttled += 1
                if throttles < self.max_retries:
                    throttles += 1
                    self.stats.retries += 1
                    wait = fault.retry_after
                    await self._sleep(self.throttle_wait if wait is None else wait)
                    continue
            elif isinstance(fault, ServerError) and retryable and attempts < self.max_retries:
                attempts += 1
                self.stats.retries += 1
                await self._sleep(self._backoff(attempts))
                continue
            self.stats.errors += 1
            raise fault

    # ---- reads ---------------------------------------------------------------------------
    async def get(self, cls: type[E], id: str) -> E:
        """Read one object by Id (``NotFoundError`` with ``deleted`` if it is gone)."""
        data = await self._request(
            "GET", f"/{cls.entity_name.lower()}/{urlquote(str(id))}", kind="read"
        )
        return cls.model_validate(data[cls.entity_name])

    async def _query_raw(self, text: str) -> dict[str, Any]:
        data = await self._request("GET", "/query", kind="query", params={"query": text})
        result = data.get("QueryResponse") or {}
        return result if isinstance(result, dict) else {}

    async def query(self, cls: type[E], where: str = "", *, order_by: str | None = None) -> list[E]:
        """Every ``cls`` matching ``where`` (QBO syntax), paging past 1000 rows."""
        out: list[E] = []
        start = 1
        while True:
            text = select(
                cls.entity_name, where, order_by=order_by, start=start, max_results=self.page_size
            )
            rows = (await self._query_raw(text)).get(cls.entity_name) or []
            with gc_paused():
                out.extend(cls.model_validate(r) for r in rows)
            if len(rows) < self.page_size:
                return out
            start += len(rows)

    async def query_in(
        self,
        cls: type[E],
        field: str,
        values: Iterable[str],
        *,
        extra_where: str = "",
        chunk: int = 100,
    ) -> list[E]:
        """Every ``cls`` whose ``field`` is one of ``values``; the ``IN`` list is split into
        chunks of ``chunk`` values (quoted and escaped), queried concurrently."""
        groups = list(chunks((str(v) for v in values), chunk))
        results = await asyncio.gather(
            *(self.query(cls, join_where(in_clause(field, g), extra_where)) for g in groups)
        )
        return [e for rows in results for e in rows]

    async def count(self, cls: type[Entity], where: str = "") -> int:
        """``select count(*)``."""
        result = await self._query_raw(select(cls.entity_name, where, count=True))
        return int(result.get("totalCount", 0))

    async def cdc(
        self, entities: Sequence[str], changed_since: datetime
    ) -> dict[str, list[Entity]]:
        """Changes since ``changed_since`` (at most 30 days back) per entity name; deleted
        objects come as models with ``status == "Deleted"``."""
        if changed_since.tzinfo is None:
            raise ValueError("changed_since must carry a time zone")
        params = {
            "entities": ",".join(entities),
            "changedSince": changed_since.isoformat(timespec="seconds"),
        }
        data = await self._request("GET", "/cdc", kind="cdc", params=params)
        out: dict[str, list[Entity]] = {name: [] for name in entities}
        for resp in data.get("CDCResponse") or []:
            for qr in resp.get("QueryResponse") or []:
                for name, rows in qr.items():
                    if isinstance(rows, list):
                        with gc_paused():
                            out.setdefault(name, []).extend(parse_entity(name, r) for r in rows)
        return out

    async def preferences(self) -> Preferences:
        """The company's settings (``sales_forms_prefs.auto_apply_credit`` ...)."""
        data = await self._request("GET", "/preferences", kind="preferences")
        return Preferences.model_validate(data["Preferences"])

    async def company_info(self) -> CompanyInfo:
        """The company's name and country (used by ``check``)."""
        data = await self._request("GET", f"/companyinfo/{self.realm_id}", kind="companyinfo")
        return CompanyInfo.model_validate(data["CompanyInfo"])

    async def account_by_name(self, name: str) -> Account | None:
        """The account called ``name`` (e.g. "Undeposited Funds"), or ``None``."""
        rows = await self.query(Account, f"Name = {quote(name)}")
        return rows[0] if rows else None

    # ---- batch ---------------------------------------------------------------------------
    async def batch(
        self, items: list[BatchItem], *, request_id: str | None = None
    ) -> list[BatchResult]:
        """Run items 30 per request; a fault in one item is that item's ``error``."""
        if len({i.bid for i in items}) != len(items):
            raise ValueError("batch item bIds must be unique")
        base = request_id or uuid.uuid4().hex
        groups = [items[i : i + BATCH_SIZE] for i in range(0, len(items), BATCH_SIZE)]
        answers = await asyncio.gather(
            *(
                self._request(
                    "POST",
                    "/batch",
                    kind="batch",
                    json_body={"BatchItemRequest": [it.to_qbo() for it in g]},
                    request_id=f"{base[:44]}-b{n}",
                )
                for n, g in enumerate(groups)
            )
        )
        by_bid: dict[str, Mapping[str, Any]] = {}
        for ans in answers:
            for r in ans.get("BatchItemResponse") or []:
                by_bid[str(r.get("bId"))] = r
        with gc_paused():  # thousands of rows become models: no cycles among them
            return [self._batch_result(it, by_bid.get(it.bid)) for it in items]

    @staticmethod
    def _batch_result(it: BatchItem, r: Mapping[str, Any] | None) -> BatchResult:
        """One item's answer: its rows, its written entity or its fault."""
        res = BatchResult(bid=it.bid)
        if r is None:
            res.error = QBOError(f"batch answer has no item {it.bid}")
        elif "Fault" in r:
            res.error = fault_from_dict(r["Fault"])
        elif "QueryResponse" in r:
            qr = r["QueryResponse"]
            for name, rows in qr.items():
                if isinstance(rows, list):
                    res.entities.extend(parse_entity(name, row) for row in rows)
        else:
            key = entity_key(r)
            if key is not None:
                res.entity = parse_entity(key, r[key])
        return res

    # ---- links ---------------------------------------------------------------------------
    def web_url(self, entity_type: str, id: str) -> str:
        """A link to the object in QBO's web app."""
        path = WEB_PATHS.get(entity_type.lower().replace(" ", ""))
        if path is None:
            raise ValueError(f"no QBO web page for {entity_type}")
        return f"{self._web_base.rstrip('/')}{path}{urlquote(str(id))}"
