"""The gateway stand-in's HTTP side: ``POST /api/query.php`` exactly as the Query API
answers it (form POST, HTTP 200 with XML, ``<error_response>`` for a refused key or filter,
429 when pushed), over :class:`~sandbox.gateway.ledger.GatewayLedger`.

Filters: ``transaction_id`` (comma list), ``condition`` and ``action_type`` (comma lists),
``transaction_type``, ``order_id``, ``email``, ``start_date``/``end_date`` (``YYYYMMDDhhmmss``
UTC, matched against the last modification). Paging: ``result_limit``, ``page_number``
(counted from ``first_page``, 0 or 1: the real gateway does not document which),
``result_order`` (``standard`` oldest first, ``reverse`` newest first).

Knobs: :meth:`GatewaySandbox.inject` queues answers for the next requests (``"429"``,
``"500"``, ``"malformed"``, ``"error:<text>"``); ``requests`` counts every query.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from aiohttp import web

from gateway.errors import MalformedResponse
from gateway.models import Transaction
from gateway.wire import parse_time, render_error, render_response
from sandbox.cb.portal import CBPortal
from sandbox.gateway.ledger import GatewayLedger, OrderStyle

SANDBOX_GATEWAY_KEY = "gw-sandbox-security-key"
MAX_LIMIT = 10_000


class QueryError(Exception):
    """A filter the Query API refuses: answered as ``<error_response>``."""


class GatewaySandbox(GatewayLedger):
    """The gateway held in memory, fed by the ConnectBooster portal's payments."""

    def __init__(
        self,
        portal: CBPortal | None = None,
        *,
        security_key: str = SANDBOX_GATEWAY_KEY,
        first_page: Literal[0, 1] = 0,
        order_style: OrderStyle = "invoices",
        settle_after: timedelta = timedelta(hours=2),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(portal, order_style=order_style, settle_after=settle_after, clock=clock)
        self.security_key = security_key
        self.first_page = first_page
        self.requests = 0
        self.failed_auth = 0
        self._injected: deque[str] = deque()

    def inject(self, *answers: str) -> None:
        """The next requests answer these, in order: ``"429"``, ``"500"``, ``"malformed"``
        or ``"error:<text>"``."""
        self._injected.extend(answers)

    def clear_injected(self) -> None:
        """Forget the answers still queued by :meth:`inject`."""
        self._injected.clear()

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/query.php", self._query)
        return app

    async def _query(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self._injected:
            answer = self._injected.popleft()
            if answer == "429":
                return web.Response(status=429, text="Too Many Requests")
            if answer == "500":
                return web.Response(status=500, text="Internal Server Error")
            if answer == "malformed":
                return _xml(b"<nm_response><transaction><transaction_id>1</transa")
            if answer.startswith("error:"):
                return _xml(render_error(answer.removeprefix("error:")))
        form = await request.post()
        fields = {k: str(v) for k, v in form.items()}
        if fields.get("security_key") != self.security_key:
            self.failed_auth += 1
            return _xml(render_error("Authentication Failed"))
        try:
            rows = self.select(fields)
        except QueryError as exc:
            return _xml(render_error(str(exc)))
        return _xml(render_response(rows))

    def select(self, f: dict[str, str]) -> list[Transaction]:
        """The rows one query answers (one page)."""
        rows = [t for t in self.transactions() if _matches(t, f)]
        rows.sort(key=lambda t: (t.actions[0].date, t.transaction_id))
        if f.get("result_order") == "reverse":
            rows.reverse()
        try:
            limit = int(f.get("result_limit") or MAX_LIMIT)
            page = int(f.get("page_number") or self.first_page) - self.first_page
        except ValueError:
            raise QueryError("Invalid result_limit or page_number") from None
        if limit < 1 or limit > MAX_LIMIT:
            raise QueryError("Invalid result_limit")
        page = max(page, 0)  # a gateway counting from 1 answers page 0 like page 1
        return rows[page * limit : (page + 1) * limit]


def _xml(body: bytes) -> web.Response:
    return web.Response(status=200, body=body, content_type="text/xml")


def _split(value: str | None) -> set[str]:
    return {v.strip().lower() for v in (value or "").split(",") if v.strip()}


def _time(f: dict[str, str], name: str) -> datetime | None:
    raw = f.get(name)
    if not raw:
        return None
    try:
        return parse_time(raw)
    except MalformedResponse:
        raise QueryError(f"Invalid {name} format") from None


def _matches(t: Transaction, f: dict[str, str]) -> bool:
    ids = _split(f.get("transaction_id"))
    if ids and t.transaction_id not in ids:
        return False
    cond = _split(f.get("condition"))
    if cond and t.condition not in cond:
        return False
    kinds = _split(f.get("action_type"))
    if kinds and not kinds & {a.action_type for a in t.actions}:
        return False
    if (tt := f.get("transaction_type")) and t.transaction_type != tt:
        return False
    if (oid := f.get("order_id")) and t.order_id != oid:
        return False
    if (email := f.get("email")) and t.email.lower() != email.lower():
        return False
    start, end = _time(f, "start_date"), _time(f, "end_date")
    modified = t.modified_at
    if modified is None:
        return False
    if start is not None and modified < start:
        return False
    return not (end is not None and modified > end)
