"""The QBO stand-in's service: companies, OAuth and the Accounting API over HTTP.

:class:`QBOSandbox` serves the same URLs and bodies as QuickBooks Online
(``/v3/company/{realm}/...``: read, write, query, batch, CDC, preferences, company info),
Intuit's token endpoint with refresh-token rotation and ``invalid_grant``, and a fake consent
page. It honours requestid replay, QBO's limits (per company: requests in flight and per
minute, answered 429 with the XML throttle body) and failure knobs (``latency``,
``error_rate``, ``storm``, ``throttle``, ``outage``, ``drop_responses``).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import random
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from sandbox.qbo.company import SandboxCompany
from sandbox.qbo.wire import (
    ENTITY_NAMES,
    JSONDict,
    SandboxFault,
    canonical_entity,
    dumps,
    parse_datetime,
    qbo_time,
    stale_object,
    validation_fault,
)

THROTTLE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<IntuitResponse time="{time}" xmlns="http://schema.intuit.com/finance/v3">\n'
    '    <Fault type="SERVICE">\n'
    '        <Error code="3001">\n'
    "            <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>\n"
    "            <Detail>The request limit was reached.  Try again later</Detail>\n"
    "        </Error>\n"
    "    </Fault>\n"
    "</IntuitResponse>\n"
)


@dataclass
class SandboxStats:
    """What the sandbox saw."""

    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    refreshes: int = 0
    throttled: int = 0
    injected_errors: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)


class QBOSandbox:
    """The local QBO service: companies, OAuth and the Accounting API over HTTP."""

    def __init__(
        self,
        *,
        client_id: str = "sandbox-client-id",
        client_secret: str = "sandbox-client-secret",
        access_ttl: int = 3600,
        clock: Callable[[], datetime] | None = None,
        seed: int | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_ttl = access_ttl
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.companies: dict[str, SandboxCompany] = {}
        self.stats = SandboxStats()
        # knobs
        self.latency = 0.0
        self.latency_covers_work = False
        """False: ``latency`` is waited before each call's work (the work's time comes on top);
        True: each answer takes ``latency`` in all, the stand-in's own work counted within it,
        as a real call's time includes Intuit's work (a call whose work takes longer takes
        that long). The diagnosis benchmark uses True: the stand-in's Python is not the bot's
        cost, and not QuickBooks'."""
        self.error_rate = 0.0
        self.outage = False
        self.limit_in_flight = 10
        self.limit_per_window = 500
        self.window_seconds = 60.0
        self.retry_after: float | None = None
        """Seconds sent in ``Retry-After`` on a 429 (QBO sends none; ``None`` = omit)."""
        self.drop_responses = 0
        """Process the next N API requests, then drop the connection without answering."""
        self.rng = random.Random(seed)
        self._storm_left = 0
        self._storm_status = 503
        self._throttle_left = 0
        self._windows: dict[str, deque[float]] = {}
        self._realm_in_flight: Counter[str] = Counter()
        self._refresh_tokens: dict[str, str] = {}  # token -> realm
        self._access_tokens: dict[str, tuple[str, datetime]] = {}
        self._codes: dict[str, tuple[str, str]] = {}  # code -> (realm, redirect_uri)
        self._replay: dict[tuple[str, str], tuple[int, str]] = {}

    # ---- companies and tokens ----------------------------------------------------------
    def add_company(
        self, realm_id: str = "9341453000000001", name: str = "Sandbox MSP LLC"
    ) -> SandboxCompany:
        """Create (or return) a company."""
        if realm_id not in self.companies:
            self.companies[realm_id] = SandboxCompany(realm_id, name, clock=self.clock)
        return self.companies[realm_id]

    def company(self, realm_id: str) -> SandboxCompany:
        """The company with this realm id (KeyError if none)."""
        return self.companies[realm_id]

    def issue_refresh_token(self, realm_id: str) -> str:
        """A fresh, valid refresh token for ``realm_id``."""
        token = "RT1-" + secrets.token_urlsafe(24)
        self._refresh_tokens[token] = realm_id
        return token

    def issue_access_token(self, realm_id: str) -> str:
        """A fresh access token valid ``access_ttl`` seconds."""
        token = "eyJsandbox." + secrets.token_urlsafe(32)
        self._access_tokens[token] = (realm_id, self.clock() + timedelta(seconds=self.access_ttl))
        return token

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far expired."""
        past = self.clock() - timedelta(seconds=1)
        self._access_tokens = {t: (r, past) for t, (r, _) in self._access_tokens.items()}

    def storm(self, n: int, status: int = 503) -> None:
        """Answer the next ``n`` API requests with ``status``."""
        self._storm_left, self._storm_status = n, status

    def throttle(self, n: int) -> None:
        """Answer the next ``n`` API requests with 429 (the XML throttle body)."""
        self._throttle_left = n

    # ---- HTTP --------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        """The aiohttp app: ``/v3/company/{realm}/...``, ``/oauth2/v1/tokens/bearer`` and
        the fake consent page ``/connect/oauth2``."""
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_post("/oauth2/v1/tokens/bearer", self._token)
        r.add_get("/connect/oauth2", self._consent)
        base = "/v3/company/{realm}"
        r.add_get(base + "/query", self._h_query)
        r.add_post(base + "/query", self._h_query)
        r.add_post(base + "/batch", self._h_batch)
        r.add_get(base + "/cdc", self._h_cdc)
        r.add_get(base + "/preferences", self._h_preferences)
        r.add_get(base + "/companyinfo/{id}", self._h_companyinfo)
        r.add_get(base + "/{entity}/{id}", self._h_read)
        r.add_post(base + "/{entity}", self._h_write)
        return app

    @staticmethod
    def _kind(request: web.Request) -> str:
        parts = request.path.strip("/").split("/")
        if parts[0] == "oauth2":
            return "token"
        if parts[0] == "connect":
            return "connect"
        if len(parts) < 4:
            return "other"
        what = parts[3].lower()
        if what in ("query", "batch", "cdc", "preferences", "companyinfo"):
            return what
        if request.method == "GET":
            return "read"
        op = request.query.get("operation", "")
        return op or "write"

    def _fault_response(self, f: SandboxFault) -> web.Response:
        return self._json({"Fault": f.fault(), "time": qbo_time(self.clock())}, status=f.status)

    def _json(self, data: Any, status: int = 200) -> web.Response:
        return web.Response(
            text=dumps(data),
            status=status,
            content_type="application/json",
            headers={"intuit_tid": "sbx-" + secrets.token_hex(8)},
        )

    def _throttled(self) -> web.Response:
        self.stats.throttled += 1
        headers = {"intuit_tid": "sbx-" + secrets.token_hex(8)}
        if self.retry_after is not None:
            headers["Retry-After"] = f"{self.retry_after:g}"
        return web.Response(
            status=429,
            text=THROTTLE_XML.format(time=qbo_time(self.clock())),
            content_type="application/xml",
            headers=headers,
        )

    def _window_full(self, realm: str) -> bool:
        window = self._windows.setdefault(realm, deque())
        now = time.monotonic()
        while window and window[0] <= now - self.window_seconds:
            window.popleft()
        if len(window) >= self.limit_per_window:
            return True
        window.append(now)
        return False

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        kind = self._kind(request)
        st = self.stats
        st.requests += 1
        st.by_kind[kind] += 1
        if kind in ("token", "connect"):
            return await handler(request)
        realm = request.match_info.get("realm", "")
        st.in_flight += 1
        st.max_in_flight = max(st.max_in_flight, st.in_flight)
        self._realm_in_flight[realm] += 1
        try:
            if self.outage:
                return web.Response(status=503, text="Service Unavailable")
            # QBO's limits hold per company
            if self._realm_in_flight[realm] > self.limit_in_flight or self._window_full(realm):
                return self._throttled()
            started = asyncio.get_running_loop().time()
            if self.latency and not self.latency_covers_work:
                await asyncio.sleep(self.latency)
            try:
                self._authorize(request)
            except SandboxFault as f:
                return self._auth_fault(f)
            if self._throttle_left > 0:
                self._throttle_left -= 1
                return self._throttled()
            if self._storm_left > 0:
                self._storm_left -= 1
                st.injected_errors += 1
                return self._server_error(self._storm_status)
            if self.error_rate and self.rng.random() < self.error_rate:
                st.injected_errors += 1
                return self._server_error(503)
            try:
                resp: web.StreamResponse = await handler(request)
            except SandboxFault as f:
                resp = self._fault_response(f)
            if self.latency and self.latency_covers_work:
                left = self.latency - (asyncio.get_running_loop().time() - started)
                if left > 0:
                    await asyncio.sleep(left)
            if self.drop_responses > 0 and kind not in ("read", "query"):
                self.drop_responses -= 1
                if request.transport is not None:
                    request.transport.close()  # committed, but the answer never arrives
            return resp
        finally:
            st.in_flight -= 1
            self._realm_in_flight[realm] -= 1

    def _server_error(self, status: int) -> web.Response:
        f = SandboxFault(
            status,
            "10000",
            "An application error has occurred while processing your request",
            "System Failure Error: injected by the sandbox",
            fault_type="SystemFault",
        )
        return self._fault_response(f)

    def _auth_fault(self, f: SandboxFault) -> web.Response:
        body: JSONDict = {
            "warnings": None,
            "intuitObject": None,
            "fault": {
                "error": [
                    {"message": f.message, "detail": f.detail, "code": f.code, "element": None}
                ],
                "type": f.fault_type,
            },
            "report": None,
            "queryResponse": None,
            "batchItemResponse": [],
            "requestId": None,
            "time": int(self.clock().timestamp() * 1000),
            "status": None,
            "cdcresponse": [],
        }
        return self._json(body, status=f.status)

    def _authorize(self, request: web.Request) -> str:
        realm = request.match_info.get("realm", "")
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        entry = self._access_tokens.get(token)
        if entry is None:
            raise SandboxFault(
                401,
                "3200",
                "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                "Token invalid",
                fault_type="AUTHENTICATION",
            )
        token_realm, expires = entry
        if expires <= self.clock():
            raise SandboxFault(
                401,
                "3200",
                "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                f"Token expired: {token[:12]}...",
                fault_type="AUTHENTICATION",
            )
        if token_realm != realm or realm not in self.companies:
            raise SandboxFault(
                403,
                "3100",
                "message=AuthorizationFailed; errorCode=003100; statusCode=403",
                None,
                fault_type="SERVICE",
            )
        return realm

    def _co(self, request: web.Request) -> SandboxCompany:
        return self.companies[request.match_info["realm"]]

    async def _body(self, request: web.Request) -> JSONDict:
        raw = await request.read()
        try:
            data = json.loads(raw or b"{}", parse_float=Decimal)
        except ValueError as exc:
            raise SandboxFault(
                400,
                "2010",
                "Request has invalid or unsupported property",
                "Request body is not valid JSON",
            ) from exc
        if not isinstance(data, dict):
            raise SandboxFault(
                400,
                "2010",
                "Request has invalid or unsupported property",
                "Request body must be a JSON object",
            )
        return data

    def _check_request_id(self, request: web.Request) -> str:
        rid = request.query.get("requestid", "")
        if len(rid) > 50:
            raise validation_fault("requestid is longer than 50 characters", code="2010")
        return rid

    async def _h_read(self, request: web.Request) -> web.Response:
        co = self._co(request)
        entity = request.match_info["entity"]
        obj = co.read(entity, request.match_info["id"])
        return self._json({canonical_entity(entity): obj, "time": qbo_time(self.clock())})

    async def _h_companyinfo(self, request: web.Request) -> web.Response:
        co = self._co(request)
        obj = co.read("CompanyInfo", request.match_info["id"])
        return self._json({"CompanyInfo": obj, "time": qbo_time(self.clock())})

    async def _h_preferences(self, request: web.Request) -> web.Response:
        co = self._co(request)
        return self._json(
            {"Preferences": copy.deepcopy(co.preferences), "time": qbo_time(self.clock())}
        )

    async def _h_query(self, request: web.Request) -> web.Response:
        co = self._co(request)
        text = request.query.get("query")
        if text is None and request.method == "POST":
            text = (await request.read()).decode()
        result = co.query(text or "", copy=False)  # serialised below, before any write
        return self._json({"QueryResponse": result, "time": qbo_time(self.clock())})

    async def _h_cdc(self, request: web.Request) -> web.Response:
        co = self._co(request)
        names = [e for e in request.query.get("entities", "").split(",") if e.strip()]
        since_raw = request.query.get("changedSince", "")
        if not names or not since_raw:
            raise validation_fault("entities and changedSince are required", code="2010")
        try:
            since = parse_datetime(since_raw)
        except ValueError as exc:
            raise validation_fault(f"Invalid changedSince: {since_raw}", code="2010") from exc
        if since < self.clock() - timedelta(days=30):
            raise validation_fault("changedSince is more than 30 days in the past", code="2010")
        changes = co.cdc(names, since, copy=False)  # serialised below, before any write
        return self._json({"CDCResponse": [changes], "time": qbo_time(self.clock())})

    def _write_one(self, co: SandboxCompany, entity: str, op: str, body: JSONDict) -> JSONDict:
        name = canonical_entity(entity)
        if op == "delete":
            current = co.read(name, str(body.get("Id", "")))
            if str(body.get("SyncToken")) != current.get("SyncToken"):
                raise stale_object()
            co.delete(name, current["Id"])
            return {name: {"domain": "QBO", "status": "Deleted", "Id": current["Id"]}}
        if op == "void":
            current = co.read(name, str(body.get("Id", "")))
            if str(body.get("SyncToken")) != current.get("SyncToken"):
                raise stale_object()
            return {name: co.void(name, current["Id"])}
        if op in ("update", "") and body.get("Id"):
            return {name: co.update(name, body, sparse=bool(body.get("sparse")))}
        if op in ("create", ""):
            return {name: co.create(name, body)}
        raise validation_fault(f"Unsupported operation {op}", code="2010")

    async def _h_write(self, request: web.Request) -> web.Response:
        co = self._co(request)
        rid = self._check_request_id(request)
        body = await self._body(request)
        if rid and (co.realm_id, rid) in self._replay:
            status, text = self._replay[(co.realm_id, rid)]
            return web.Response(text=text, status=status, content_type="application/json")
        result = self._write_one(
            co, request.match_info["entity"], request.query.get("operation", ""), body
        )
        result["time"] = qbo_time(self.clock())
        text = dumps(result)
        if rid:
            self._replay[(co.realm_id, rid)] = (200, text)
        return web.Response(text=text, content_type="application/json")

    async def _h_batch(self, request: web.Request) -> web.Response:
        co = self._co(request)
        rid = self._check_request_id(request)
        body = await self._body(request)
        if rid and (co.realm_id, rid) in self._replay:
            status, text = self._replay[(co.realm_id, rid)]
            return web.Response(text=text, status=status, content_type="application/json")
        items = body.get("BatchItemRequest")
        if not isinstance(items, list) or not items:
            raise validation_fault("BatchItemRequest is required", code="2010")
        if len(items) > 30:
            raise validation_fault(
                "The number of batch items exceeds the maximum of 30", code="2010"
            )
        out: list[JSONDict] = []
        # a batch of queries alone is serialised before anything writes: no copies needed
        reads_only = all(isinstance(i, dict) and "Query" in i for i in items)
        for item in items:
            bid = item.get("bId")
            try:
                if "Query" in item:
                    answer = co.query(str(item["Query"]), copy=not reads_only)
                    out.append({"bId": bid, "QueryResponse": answer})
                    continue
                entity = next((k for k in item if k.lower() in ENTITY_NAMES), None)
                if entity is None:
                    raise validation_fault("Batch item names no entity", code="2010")
                res = self._write_one(
                    co, entity, str(item.get("operation", "create")), item[entity]
                )
                res["bId"] = bid
                out.append(res)
            except SandboxFault as f:
                out.append({"bId": bid, "Fault": f.fault()})
        text = dumps({"BatchItemResponse": out, "time": qbo_time(self.clock())})
        if rid:
            self._replay[(co.realm_id, rid)] = (200, text)
        return web.Response(text=text, content_type="application/json")

    # ---- OAuth -------------------------------------------------------------------------
    def _client_ok(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            raw = base64.b64decode(auth[6:]).decode()
        except ValueError:
            return False
        return raw == f"{self.client_id}:{self.client_secret}"

    async def _token(self, request: web.Request) -> web.Response:
        if not self._client_ok(request):
            return web.json_response({"error": "invalid_client"}, status=401)
        form = await request.post()
        grant = form.get("grant_type")
        if grant == "refresh_token":
            old = str(form.get("refresh_token", ""))
            realm = self._refresh_tokens.pop(old, None)
            if realm is None:
                return web.json_response({"error": "invalid_grant"}, status=400)
            self.stats.refreshes += 1
        elif grant == "authorization_code":
            code = str(form.get("code", ""))
            entry = self._codes.pop(code, None)
            if entry is None or entry[1] != form.get("redirect_uri"):
                return web.json_response({"error": "invalid_grant"}, status=400)
            realm = entry[0]
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        return web.json_response(
            {
                "token_type": "bearer",
                "expires_in": self.access_ttl,
                "refresh_token": self.issue_refresh_token(realm),
                "x_refresh_token_expires_in": 8726400,
                "access_token": self.issue_access_token(realm),
            }
        )

    async def _consent(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return web.Response(status=400, text="invalid client_id or response_type")
        redirect = q.get("redirect_uri", "")
        if not redirect.startswith(("http://", "https://")):
            return web.Response(status=400, text="invalid redirect_uri")
        realm = q.get("realm") or next(iter(self.companies), None)
        if realm is None:
            return web.Response(status=400, text="no company to connect")
        code = "AB11" + secrets.token_urlsafe(20)
        self._codes[code] = (realm, redirect)
        params = {"code": code, "state": q.get("state", ""), "realmId": realm}
        sep = "&" if "?" in redirect else "?"
        raise web.HTTPFound(redirect + sep + urlencode(params))
