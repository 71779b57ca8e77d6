"""A local stand-in for Slack: its Web API, ``response_url`` endpoints, and a driver that
sends the bot signed slash commands and interactions as Slack would.

Tests and the demo run it on loopback and point the real clients at it, e.g.
``AsyncWebClient(token=..., base_url=sandbox.api_url)``. It answers like Slack
(``{"ok": true, ...}`` / ``{"ok": false, "error": "..."}``, HTTP 429 with ``Retry-After``
when ``chat.postMessage`` is paced faster than the per-channel rate), checks the bearer
token, validates Block Kit against Slack's main limits, records every call, and keeps the
channel messages (with threads), ephemeral messages and open views it was given. It reads
them back as Slack does: ``conversations.history`` (newest first) and
``conversations.replies`` (the parent, then its replies), paged by cursor, with message
``metadata`` when ``include_all_metadata`` is set.

It validates blocks with its own code (``validate_blocks``), independent of the bot's
builders, so a builder bug shows up as ``invalid_blocks`` as it would against Slack.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import itertools
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

Clock = Callable[[], float]
Json = dict[str, Any]

TEAM_ID = "T0SANDBOX"
APP_ID = "A0SANDBOX"
BOT_USER_ID = "U0SANDBOT"
BOT_ID = "B0SANDBOT"
PERMALINK_BASE = "https://sandbox.slack.local"
VERIFICATION_TOKEN = "sandbox-verification-token"

RESPONSE_URL_USES = 5
RESPONSE_URL_TTL = 30 * 60
TRIGGER_TTL = 3.0
MAX_MESSAGE_TEXT = 40_000
MAX_BLOCKS_JSON = 13_000

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]+$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")


# ---- Block Kit validation (Slack's main limits) ----------------------------------------


def validate_blocks(blocks: Any, *, surface: str = "message") -> list[str]:
    """Problems Slack would report for ``blocks`` on ``surface`` ("message" or "modal"),
    as ``[ERROR] ... [json-pointer:/blocks/...]`` lines; empty when valid."""
    v = _Validator()
    v.blocks(blocks, "/blocks", 50 if surface == "message" else 100)
    return v.errors


def blocks_json_size(blocks: Any) -> int:
    """Characters of ``blocks`` as compact JSON (what ``msg_blocks_too_long`` measures)."""
    return len(json.dumps(blocks, separators=(",", ":"), ensure_ascii=False))


class _Validator:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def err(self, path: str, what: str) -> None:
        self.errors.append(f"[ERROR] {what} [json-pointer:{path}]")

    def text(self, obj: Any, path: str, limit: int, *, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            self.err(path, "must be a text object")
            return
        kinds = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if obj.get("type") not in kinds:
            self.err(f"{path}/type", f"must be one of {', '.join(kinds)}")
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            self.err(f"{path}/text", "must be more than 0 characters")
        elif len(text) > limit:
            self.err(f"{path}/text", f"must be less than {limit + 1} characters")

    def ident(self, value: Any, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, str) or not value or len(value) > 255:
            self.err(path, "must be a string of 1 to 255 characters")

    def blocks(self, blocks: Any, path: str, limit: int) -> None:
        if not isinstance(blocks, list):
            self.err(path, "must be an array")
            return
        if len(blocks) > limit:
            self.err(path, f"no more than {limit} items allowed")
        seen: set[str] = set()
        for i, b in enumerate(blocks):
            p = f"{path}/{i}"
            if not isinstance(b, dict):
                self.err(p, "must be an object")
                continue
            bid = b.get("block_id")
            self.ident(bid, f"{p}/block_id")
            if isinstance(bid, str):
                if bid in seen:
                    self.err(f"{p}/block_id", "duplicate block_id")
                seen.add(bid)
            self.block(b, p)

    def block(self, b: Json, p: str) -> None:
        kind = b.get("type")
        if kind == "header":
            self.text(b.get("text"), f"{p}/text", 150, plain_only=True)
        elif kind == "section":
            if "text" not in b and "fields" not in b:
                self.err(p, "must provide text or fields")
            if "text" in b:
                self.text(b["text"], f"{p}/text", 3000)
            if "fields" in b:
                fields = b["fields"]
                if not isinstance(fields, list) or not fields or len(fields) > 10:
                    self.err(f"{p}/fields", "must have 1 to 10 items")
                else:
                    for j, f in enumerate(fields):
                        self.text(f, f"{p}/fields/{j}", 2000)
            if "accessory" in b:
                self.element(b["accessory"], f"{p}/accessory")
        elif kind == "context":
            els = b.get("elements")
            if not isinstance(els, list) or not els or len(els) > 10:
                self.err(f"{p}/elements", "must have 1 to 10 items")
                return
            for j, e in enumerate(els):
                if isinstance(e, dict) and e.get("type") == "image":
                    continue
                self.text(e, f"{p}/elements/{j}", 3000)
        elif kind == "actions":
            els = b.get("elements")
            if not isinstance(els, list) or not els or len(els) > 25:
                self.err(f"{p}/elements", "must have 1 to 25 items")
                return
            ids: set[str] = set()
            for j, e in enumerate(els):
                self.element(e, f"{p}/elements/{j}")
                aid = e.get("action_id") if isinstance(e, dict) else None
                if isinstance(aid, str):
                    if aid in ids:
                        self.err(f"{p}/elements/{j}/action_id", "duplicate action_id")
                    ids.add(aid)
        elif kind == "input":
            self.text(b.get("label"), f"{p}/label", 2000, plain_only=True)
            self.element(b.get("element"), f"{p}/element")
        elif kind == "image":
            if not b.get("image_url") and not b.get("slack_file"):
                self.err(f"{p}/image_url", "is required")
            if not isinstance(b.get("alt_text"), str):
                self.err(f"{p}/alt_text", "is required")
        elif kind in ("divider", "rich_text", "file", "video"):
            return
        else:
            self.err(f"{p}/type", f"unknown block type {kind!r}")

    def element(self, e: Any, p: str) -> None:
        if not isinstance(e, dict):
            self.err(p, "must be an object")
            return
        self.ident(e.get("action_id"), f"{p}/action_id")
        kind = e.get("type")
        if kind == "button":
            self.text(e.get("text"), f"{p}/text", 75, plain_only=True)
            value = e.get("value")
            if value is not None and (not isinstance(value, str) or len(value) > 2000):
                self.err(f"{p}/value", "must be less than 2001 characters")
            url = e.get("url")
            if url is not None and (not isinstance(url, str) or len(url) > 3000):
                self.err(f"{p}/url", "must be less than 3001 characters")
            if e.get("style") not in (None, "primary", "danger"):
                self.err(f"{p}/style", "must be primary or danger")
        elif kind in ("static_select", "multi_static_select"):
            if "placeholder" in e:
                self.text(e["placeholder"], f"{p}/placeholder", 150, plain_only=True)
            opts = e.get("options")
            if not isinstance(opts, list) or not opts or len(opts) > 100:
                self.err(f"{p}/options", "must have 1 to 100 items")
                opts = []
            values = []
            for j, o in enumerate(opts):
                values.append(self.option(o, f"{p}/options/{j}"))
            init = e.get("initial_option")
            if init is not None and (not isinstance(init, dict) or init.get("value") not in values):
                self.err(f"{p}/initial_option", "must match one of the options")
        elif kind in (
            "plain_text_input",
            "datepicker",
            "timepicker",
            "checkboxes",
            "radio_buttons",
            "overflow",
            "users_select",
            "conversations_select",
            "channels_select",
            "external_select",
            "multi_users_select",
            "number_input",
            "image",
        ):
            pass
        else:
            self.err(f"{p}/type", f"unknown element type {kind!r}")
        if "confirm" in e:
            self.confirm(e["confirm"], f"{p}/confirm")

    def option(self, o: Any, p: str) -> str | None:
        if not isinstance(o, dict):
            self.err(p, "must be an object")
            return None
        self.text(o.get("text"), f"{p}/text", 75)
        value = o.get("value")
        if not isinstance(value, str) or not value or len(value) > 150:
            self.err(f"{p}/value", "must be a string of 1 to 150 characters")
            return None
        return value

    def confirm(self, c: Any, p: str) -> None:
        if not isinstance(c, dict):
            self.err(p, "must be an object")
            return
        self.text(c.get("title"), f"{p}/title", 100, plain_only=True)
        self.text(c.get("text"), f"{p}/text", 300)
        self.text(c.get("confirm"), f"{p}/confirm", 30, plain_only=True)
        self.text(c.get("deny"), f"{p}/deny", 30, plain_only=True)
        if c.get("style") not in (None, "primary", "danger"):
            self.err(f"{p}/style", "must be primary or danger")


def validate_view(view: Any) -> list[str]:
    """Problems Slack would report for a modal ``view``."""
    v = _Validator()
    if not isinstance(view, dict):
        return ["[ERROR] must be an object [json-pointer:/view]"]
    if view.get("type") != "modal":
        v.err("/view/type", "must be modal")
    v.text(view.get("title"), "/view/title", 24, plain_only=True)
    for key in ("submit", "close"):
        if key in view:
            v.text(view[key], f"/view/{key}", 24, plain_only=True)
    v.ident(view.get("callback_id"), "/view/callback_id")
    meta = view.get("private_metadata")
    if meta is not None and (not isinstance(meta, str) or len(meta) > 3000):
        v.err("/view/private_metadata", "must be less than 3001 characters")
    blocks = view.get("blocks")
    v.blocks(blocks, "/view/blocks", 100)
    if (
        isinstance(blocks, list)
        and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        and "submit" not in view
    ):
        v.err("/view/submit", "is required when the view has input blocks")
    return v.errors


# ---- what the sandbox keeps ------------------------------------------------------------


@dataclass
class RecordedCall:
    """One call the sandbox answered (Web API method, or ``response_url``)."""

    method: str
    args: Json
    ok: bool
    error: str | None
    status: int
    at: float


@dataclass
class Message:
    """A channel message (top-level or a thread reply)."""

    channel: str
    ts: str
    text: str
    blocks: list[Json]
    user: str = BOT_USER_ID
    thread_ts: str | None = None
    edited_ts: str | None = None
    reply_count: int = 0
    versions: list[tuple[str, list[Json]]] = field(default_factory=list)  # before each edit
    metadata: Json | None = None

    def to_slack(self) -> Json:
        """The ``message`` object Slack puts in payloads and API answers."""
        msg: Json = {
            "type": "message",
            "user": self.user,
            "ts": self.ts,
            "text": self.text,
            "blocks": self.blocks,
            "team": TEAM_ID,
        }
        if self.user == BOT_USER_ID:
            msg["bot_id"] = BOT_ID
            msg["app_id"] = APP_ID
        if self.thread_ts:
            msg["thread_ts"] = self.thread_ts
        if self.reply_count:
            msg["reply_count"] = self.reply_count
        if self.edited_ts:
            msg["edited"] = {"user": self.user, "ts": self.edited_ts}
        return msg

    def action_elements(self) -> list[tuple[str | None, Json]]:
        """``(block_id, element)`` of every interactive element, in order."""
        return _action_elements(self.blocks)


@dataclass
class EphemeralMessage:
    """A message only ``user`` sees (``chat.postEphemeral`` or a ``response_url`` reply)."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[Json]
    source: str = "api"  # "api" | "response_url"
    replaced: int = 0  # times replace_original rewrote it

    def action_elements(self) -> list[tuple[str | None, Json]]:
        return _action_elements(self.blocks)


@dataclass
class OpenView:
    """A modal opened with ``views.open``."""

    id: str
    user: str | None
    view: Json
    hash: str
    closed: bool = False
    trigger_id: str | None = None


@dataclass
class DriverResponse:
    """What the bot answered to a request the driver sent it."""

    status: int
    body: str
    headers: dict[str, str]
    response_url: str | None = None
    trigger_id: str | None = None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class _ResponseUrl:
    channel: str
    user: str
    message_ts: str | None
    created: float
    uses: int = 0


@dataclass
class _Bucket:
    tokens: float
    last: float


def _action_elements(blocks: list[Json]) -> list[tuple[str | None, Json]]:
    out: list[tuple[str | None, Json]] = []
    for b in blocks:
        if b.get("type") == "actions":
            out.extend((b.get("block_id"), e) for e in b.get("elements", []))
        elif b.get("type") == "section" and isinstance(b.get("accessory"), dict):
            out.append((b.get("block_id"), b["accessory"]))
    return out


class SlackError(Exception):
    """An ``{"ok": false}`` answer, raised inside a method handler."""

    def __init__(self, error: str, *, status: int = 200, extra: Json | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra or {}


# ---- the sandbox --------------------------------------------------------------------------


class SlackSandbox:
    """Slack's Web API and interaction driver, in one process, for tests and the demo.

    ``clock`` returns epoch seconds (``time.time`` by default); it paces the rate limiter,
    stamps message ``ts``, expires trigger ids and response URLs, and dates signatures.
    """

    def __init__(
        self,
        *,
        signing_secret: str,
        bot_token: str = "xoxb-sandbox",
        channel_rate_per_second: float = 1.0,
        burst: int = 5,
        clock: Clock | None = None,
        channels: Iterable[str] | None = None,
    ) -> None:
        self._signing_secret = signing_secret
        self._bot_token = bot_token
        self.channel_rate_per_second = channel_rate_per_second
        self.burst = burst
        self.clock: Clock = clock or time.time
        self.rate_limit_enabled = True
        self.known_channels: set[str] | None = set(channels) if channels is not None else None
        self.calls: list[RecordedCall] = []
        self.usergroups: dict[str, list[str]] = {}
        self.users: dict[str, Json] = {}
        self.views: dict[str, OpenView] = {}
        self.ephemerals: list[EphemeralMessage] = []
        self._messages: dict[str, list[Message]] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._triggers: dict[str, float] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._injected: dict[str, list[SlackError]] = {}
        self._last_ts = 0.0
        self._ids = itertools.count(1)
        self._base_url: str | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._changed: asyncio.Event | None = None
        self._methods: dict[str, Callable[[Json], Json]] = {
            "api.test": lambda a: {"args": a},
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._get_permalink,
            "chat.delete": self._delete,
            "conversations.history": self._conversations_history,
            "conversations.info": self._conversations_info,
            "conversations.replies": self._conversations_replies,
            "usergroups.users.list": self._usergroup_users,
            "users.info": self._users_info,
            "views.open": self._views_open,
            "views.update": self._views_update,
        }

    # ---- serving ----

    def make_app(self) -> web.Application:
        """The aiohttp app: ``/api/<method>`` (GET or POST, JSON or form) and
        ``POST /response_url/<id>``."""
        app = web.Application(middlewares=[self._learn_base_url])
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response_url/{rid}", self._handle_response_url)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: any free port); returns the base URL."""
        self._runner = web.AppRunner(self.make_app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        addr = self._runner.addresses[0]
        self._base_url = f"http://{addr[0]}:{addr[1]}"
        return self._base_url

    async def stop(self) -> None:
        """Stop serving and close the driver's HTTP session."""
        await self.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def close(self) -> None:
        """Close the driver's HTTP session (serving is left to whoever runs the app)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def base_url(self) -> str:
        """``http://host:port`` of this sandbox: set by ``start``, by assignment, or learnt
        from the first request it serves."""
        if self._base_url is None:
            raise RuntimeError("SlackSandbox.base_url is unknown: call start() or set it")
        return self._base_url

    @base_url.setter
    def base_url(self, url: str) -> None:
        self._base_url = url.rstrip("/")

    @property
    def api_url(self) -> str:
        """What to pass as ``AsyncWebClient(base_url=...)``: ``<base>/api/``."""
        return f"{self.base_url}/api/"

    @web.middleware
    async def _learn_base_url(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if self._base_url is None:
            self._base_url = f"{request.scheme}://{request.host}"
        resp: web.StreamResponse = await handler(request)
        return resp

    # ---- inspection ----

    def messages(self, channel: str) -> list[Message]:
        """Top-level messages of ``channel``, oldest first."""
        return [m for m in self._messages.get(channel, []) if not _is_reply(m)]

    def thread(self, channel: str, ts: str) -> list[Message]:
        """Replies in the thread of ``ts`` (not the parent), oldest first."""
        return [m for m in self._messages.get(channel, []) if m.thread_ts == ts and m.ts != ts]

    def message(self, channel: str, ts: str) -> Message | None:
        """The message (top-level or reply) ``ts`` in ``channel``."""
        return next((m for m in self._messages.get(channel, []) if m.ts == ts), None)

    def all_messages(self, channel: str) -> list[Message]:
        """Every message of ``channel``, replies included, in posting order."""
        return list(self._messages.get(channel, []))

    def ephemeral(self, user: str, channel: str | None = None) -> list[EphemeralMessage]:
        """Ephemeral messages shown to ``user`` (in ``channel`` if given), oldest first."""
        return [
            e
            for e in self.ephemerals
            if e.user == user and (channel is None or e.channel == channel)
        ]

    def calls_to(self, method: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.method == method]

    def rate_limited_count(self) -> int:
        """How many calls were answered 429."""
        return sum(1 for c in self.calls if c.status == 429)

    def inject_error(
        self,
        method: str,
        error: str,
        *,
        times: int = 1,
        status: int = 200,
        retry_after: int | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``error`` (e.g.
        ``"channel_not_found"``, or ``"internal_error"`` with status 500)."""
        extra: Json = {"retry_after": retry_after} if retry_after is not None else {}
        self._injected.setdefault(method, []).extend(
            SlackError(error, status=status, extra=extra) for _ in range(times)
        )

    async def wait_until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Return once ``predicate()`` holds, re-checking after every call the sandbox
        answers; ``TimeoutError`` after ``within`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("condition not met in time")
            event = self._event()
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                if predicate():
                    return
                raise

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    # ---- the Web API ----

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            args = await _request_args(request)
        except ValueError:
            return self._answer(method, {}, SlackError("invalid_json"))
        token = _bearer(request) or args.pop("token", None)
        if not token:
            return self._answer(method, args, SlackError("not_authed"))
        if not hmac.compare_digest(str(token), self._bot_token):
            return self._answer(method, args, SlackError("invalid_auth"))
        handler = self._methods.get(method)
        if handler is None:
            return self._answer(method, args, SlackError("unknown_method", status=404))
        injected = self._injected.get(method)
        if injected:
            return self._answer(method, args, injected.pop(0))
        try:
            body = handler(args)
        except SlackError as exc:
            return self._answer(method, args, exc)
        return self._answer(method, args, body)

    def _answer(self, method: str, args: Json, result: Json | SlackError) -> web.Response:
        headers: dict[str, str] = {}
        if isinstance(result, SlackError):
            status = result.status
            body: Json = {"ok": False, "error": result.error}
            retry = result.extra.get("retry_after")
            if retry is not None:
                headers["Retry-After"] = str(retry)
            if "messages" in result.extra:
                body["response_metadata"] = {"messages": result.extra["messages"]}
            self._record(method, args, False, result.error, status)
        else:
            status = 200
            body = {"ok": True, **result}
            self._record(method, args, True, None, status)
        return web.json_response(body, status=status, headers=headers)

    def _record(self, method: str, args: Json, ok: bool, error: str | None, status: int) -> None:
        self.calls.append(RecordedCall(method, args, ok, error, status, self.clock()))
        self._notify()

    def _auth_test(self, args: Json) -> Json:
        return {
            "url": f"{PERMALINK_BASE}/",
            "team": "Sandbox",
            "user": "failed-payments",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _channel(self, args: Json, key: str = "channel") -> str:
        channel = args.get(key)
        if not isinstance(channel, str) or not channel:
            raise SlackError("channel_not_found")
        if self.known_channels is not None:
            if channel not in self.known_channels:
                raise SlackError("channel_not_found")
        elif not _CHANNEL_ID.match(channel):
            raise SlackError("channel_not_found")
        return channel

    def _content(self, args: Json, *, required: bool = True) -> tuple[str, list[Json] | None]:
        text = args.get("text")
        blocks = args.get("blocks")
        if text is not None and not isinstance(text, str):
            raise SlackError("invalid_arguments")
        if blocks is not None:
            if isinstance(blocks, list) and not blocks:
                blocks = None
            else:
                problems = validate_blocks(blocks)
                if problems:
                    raise SlackError("invalid_blocks", extra={"messages": problems})
                if blocks_json_size(blocks) > MAX_BLOCKS_JSON:
                    raise SlackError("msg_blocks_too_long")
        if required and not text and not blocks:
            raise SlackError("no_text")
        if text and len(text) > MAX_MESSAGE_TEXT:
            raise SlackError("msg_too_long")
        return text or "", blocks

    def _take_token(self, channel: str) -> None:
        if not self.rate_limit_enabled:
            return
        now = self.clock()
        rate = self.channel_rate_per_second
        b = self._buckets.get(channel)
        if b is None:
            b = self._buckets[channel] = _Bucket(tokens=float(self.burst), last=now)
        b.tokens = min(float(self.burst), b.tokens + max(0.0, now - b.last) * rate)
        b.last = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return
        wait = max(1, math.ceil((1.0 - b.tokens) / rate))
        raise SlackError("ratelimited", status=429, extra={"retry_after": wait})

    def _new_ts(self) -> str:
        now = max(self.clock(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def _post_message(self, args: Json) -> Json:
        channel = self._channel(args)
        text, blocks = self._content(args)
        self._take_token(channel)
        thread_ts = args.get("thread_ts") or None
        msg = Message(
            channel=channel,
            ts=self._new_ts(),
            text=text,
            blocks=blocks or [],
            thread_ts=str(thread_ts) if thread_ts else None,
            metadata=args.get("metadata") if isinstance(args.get("metadata"), dict) else None,
        )
        if msg.thread_ts:
            parent = self.message(channel, msg.thread_ts)
            if parent is not None:
                parent.reply_count += 1
                parent.thread_ts = parent.ts
        self._messages.setdefault(channel, []).append(msg)
        return {"channel": channel, "ts": msg.ts, "message": msg.to_slack()}

    def _update(self, args: Json) -> Json:
        channel = self._channel(args)
        ts = str(args.get("ts") or "")
        msg = self.message(channel, ts)
        if msg is None:
            raise SlackError("message_not_found")
        if msg.user != BOT_USER_ID:
            raise SlackError("cant_update_message")
        text, blocks = self._content(args)
        msg.versions.append((msg.text, msg.blocks))
        msg.text = text
        if blocks is not None or "blocks" in args:
            msg.blocks = blocks or []
        msg.edited_ts = self._new_ts()
        return {"channel": channel, "ts": ts, "text": msg.text, "message": msg.to_slack()}

    def _delete(self, args: Json) -> Json:
        channel = self._channel(args)
        ts = str(args.get("ts") or "")
        msg = self.message(channel, ts)
        if msg is None:
            raise SlackError("message_not_found")
        self._messages[channel].remove(msg)
        return {"channel": channel, "ts": ts}

    def _post_ephemeral(self, args: Json) -> Json:
        channel = self._channel(args)
        user = args.get("user")
        if not isinstance(user, str) or not _USER_ID.match(user):
            raise SlackError("user_not_found")
        text, blocks = self._content(args)
        ts = self._new_ts()
        self.ephemerals.append(EphemeralMessage(channel, user, ts, text, blocks or []))
        return {"message_ts": ts}

    def _get_permalink(self, args: Json) -> Json:
        channel = self._channel(args)
        ts = str(args.get("message_ts") or "")
        msg = self.message(channel, ts)
        if msg is None:
            raise SlackError("message_not_found")
        link = f"{PERMALINK_BASE}/archives/{channel}/p{ts.replace('.', '')}"
        if _is_reply(msg):
            link += "?" + urlencode({"thread_ts": msg.thread_ts, "cid": channel})
        return {"channel": channel, "permalink": link}

    def _conversations_info(self, args: Json) -> Json:
        channel = self._channel(args)
        return {
            "channel": {
                "id": channel,
                "name": f"sandbox-{channel.lower()}",
                "is_channel": channel.startswith("C"),
                "is_private": channel.startswith("G"),
                "is_im": channel.startswith("D"),
                "is_member": True,
                "is_archived": False,
            }
        }

    def _conversations_history(self, args: Json) -> Json:
        """Top-level messages, newest first, within ``oldest``..``latest`` (exclusive unless
        ``inclusive``), ``limit`` a page (default 100, at most 999), paged by ``cursor``;
        message ``metadata`` only with ``include_all_metadata``."""
        channel = self._channel(args)
        oldest, latest, inclusive = _time_window(args)
        limit = _page_limit(args, default=100, most=999)
        before = _decode_cursor(args.get("cursor"))
        rows = [
            m
            for m in reversed(self.messages(channel))
            if _in_window(m.ts, oldest, latest, inclusive)
            and (before is None or float(m.ts) < before)
        ]
        page, more = rows[:limit], len(rows) > limit
        meta = _truthy(args.get("include_all_metadata"))
        return {
            "messages": [_listed(m, meta) for m in page],
            "has_more": more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": _encode_cursor(page[-1].ts) if more else ""},
        }

    def _conversations_replies(self, args: Json) -> Json:
        """A thread: its parent first, then its replies oldest first within
        ``oldest``..``latest``, ``limit`` a page (default 1000), paged by ``cursor`` (the
        parent heads every page, as Slack sends it); ``ts`` may name the parent or a reply.
        ``thread_not_found`` when no such message is in the channel."""
        channel = self._channel(args)
        ts = str(args.get("ts") or "")
        msg = self.message(channel, ts) if ts else None
        if msg is None:
            raise SlackError("thread_not_found")
        parent = msg
        if _is_reply(msg) and msg.thread_ts is not None:
            parent = self.message(channel, msg.thread_ts) or msg  # or: its parent was deleted
        oldest, latest, inclusive = _time_window(args)
        limit = _page_limit(args, default=1000, most=1000)
        after = _decode_cursor(args.get("cursor"))
        rows = [
            m
            for m in self.thread(channel, parent.ts)
            if _in_window(m.ts, oldest, latest, inclusive)
            and (after is None or float(m.ts) > after)
        ]
        page, more = rows[:limit], len(rows) > limit
        meta = _truthy(args.get("include_all_metadata"))
        return {
            "messages": [_listed(parent, meta)] + [_listed(m, meta) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": _encode_cursor(page[-1].ts) if more else ""},
        }

    def _usergroup_users(self, args: Json) -> Json:
        group = args.get("usergroup")
        if not isinstance(group, str) or group not in self.usergroups:
            raise SlackError("no_such_subteam")
        return {"users": list(self.usergroups[group])}

    def _users_info(self, args: Json) -> Json:
        user = args.get("user")
        if not isinstance(user, str):
            raise SlackError("user_not_found")
        if user not in self.users:
            if not _USER_ID.match(user):
                raise SlackError("user_not_found")
            self.users[user] = {
                "id": user,
                "team_id": TEAM_ID,
                "name": user.lower(),
                "real_name": f"User {user}",
                "tz": "UTC",
                "deleted": False,
                "is_bot": False,
                "profile": {"real_name": f"User {user}", "display_name": user.lower()},
            }
        return {"user": self.users[user]}

    def _views_open(self, args: Json) -> Json:
        trigger = args.get("trigger_id")
        expires = self._triggers.pop(str(trigger), None) if trigger else None
        if expires is None:
            raise SlackError("invalid_trigger_id")
        if self.clock() > expires:
            raise SlackError("expired_trigger_id")
        view = args.get("view")
        problems = validate_view(view)
        if problems:
            raise SlackError("invalid_arguments", extra={"messages": problems})
        assert isinstance(view, dict)
        vid = f"V{next(self._ids):08d}"
        opened = OpenView(
            id=vid, user=None, view=dict(view), hash=uuid.uuid4().hex, trigger_id=str(trigger)
        )
        self.views[vid] = opened
        return {"view": self._view_out(opened)}

    def _views_update(self, args: Json) -> Json:
        vid = args.get("view_id")
        ext = args.get("external_id")
        opened = self.views.get(str(vid)) if vid else None
        if opened is None and ext:
            opened = next(
                (v for v in self.views.values() if v.view.get("external_id") == ext), None
            )
        if opened is None or opened.closed:
            raise SlackError("not_found")
        if args.get("hash") and args["hash"] != opened.hash:
            raise SlackError("hash_conflict")
        view = args.get("view")
        problems = validate_view(view)
        if problems:
            raise SlackError("invalid_arguments", extra={"messages": problems})
        assert isinstance(view, dict)
        opened.view = dict(view)
        opened.hash = uuid.uuid4().hex
        return {"view": self._view_out(opened)}

    def _view_out(self, v: OpenView) -> Json:
        return {
            **v.view,
            "id": v.id,
            "hash": v.hash,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "state": {"values": {}},
            "private_metadata": v.view.get("private_metadata", ""),
            "callback_id": v.view.get("callback_id", ""),
        }

    # ---- response_url ----

    def response_url_for(self, channel: str, user: str, message_ts: str | None = None) -> str:
        """Mint a ``response_url`` for ``user`` in ``channel`` (tied to ``message_ts`` for
        clicks, so ``replace_original`` knows what to replace)."""
        rid = uuid.uuid4().hex
        self._response_urls[rid] = _ResponseUrl(channel, user, message_ts, self.clock())
        return f"{self.base_url}/response_url/{rid}"

    def mint_trigger_id(self) -> str:
        """A ``trigger_id`` valid for 3 seconds (``views.open`` consumes it)."""
        tid = f"{next(self._ids)}.{TEAM_ID}.{uuid.uuid4().hex[:16]}"
        self._triggers[tid] = self.clock() + TRIGGER_TTL
        return tid

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            self._record("response_url", {}, False, "invalid_payload", 400)
            return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
        target = self._response_urls.get(rid)
        error: str | None = None
        if target is None:
            error = "no_service"
        elif target.uses >= RESPONSE_URL_USES or self.clock() - target.created > RESPONSE_URL_TTL:
            error = "expired_url"
        if error is not None or target is None:
            self._record("response_url", body, False, error, 404)
            return web.json_response({"ok": False, "error": error}, status=404)
        target.uses += 1
        try:
            self._apply_response(target, body)
        except SlackError as exc:
            self._record("response_url", body, False, exc.error, 400)
            return web.json_response({"ok": False, "error": exc.error}, status=400)
        self._record("response_url", body, True, None, 200)
        return web.json_response({"ok": True})

    def _apply_response(self, target: _ResponseUrl, body: Json) -> None:
        ts = target.message_ts
        if body.get("delete_original"):
            msg = self.message(target.channel, ts) if ts else None
            if msg is not None:
                self._messages[target.channel].remove(msg)
                return
            eph = self._find_ephemeral(target, ts)
            if eph is None:
                raise SlackError("message_not_found")
            self.ephemerals.remove(eph)
            return
        text, blocks = self._content(body)
        if body.get("replace_original") and ts:
            msg = self.message(target.channel, ts)
            if msg is not None:
                msg.versions.append((msg.text, msg.blocks))
                msg.text, msg.blocks = text, blocks or []
                msg.edited_ts = self._new_ts()
                return
            eph = self._find_ephemeral(target, ts)
            if eph is not None:
                eph.text, eph.blocks = text, blocks or []
                eph.replaced += 1
                return
            raise SlackError("message_not_found")
        if body.get("response_type") == "in_channel":
            thread = body.get("thread_ts")
            self._messages.setdefault(target.channel, []).append(
                Message(
                    target.channel,
                    self._new_ts(),
                    text,
                    blocks or [],
                    thread_ts=str(thread) if thread else None,
                )
            )
            return
        self.ephemerals.append(
            EphemeralMessage(
                target.channel, target.user, self._new_ts(), text, blocks or [], "response_url"
            )
        )

    def _find_ephemeral(self, target: _ResponseUrl, ts: str | None) -> EphemeralMessage | None:
        return next(
            (
                e
                for e in self.ephemerals
                if e.ts == ts and e.user == target.user and e.channel == target.channel
            ),
            None,
        )

    # ---- the driver: requests to the bot, signed as Slack signs them ----

    def sign(
        self, body: bytes, timestamp: int | None = None, *, forge: bool = False
    ) -> dict[str, str]:
        """``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` headers for ``body``
        (v0 HMAC-SHA256 of ``v0:{timestamp}:{body}``). ``forge=True`` signs with a wrong
        secret."""
        ts = int(self.clock()) if timestamp is None else timestamp
        secret = ("forged-" + self._signing_secret) if forge else self._signing_secret
        base = b"v0:" + str(ts).encode() + b":" + body
        digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}

    async def post_raw(
        self,
        bot_url: str,
        body: bytes,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        forge: bool = False,
        age_seconds: float = 0,
        signed: bool = True,
    ) -> DriverResponse:
        """POST ``body`` to the bot as Slack would (signed unless ``signed=False``;
        ``age_seconds`` back-dates the timestamp, ``forge`` breaks the signature)."""
        headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+sandbox)"}
        if signed:
            headers.update(self.sign(body, int(self.clock() - age_seconds), forge=forge))
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.post(bot_url, data=body, headers=headers) as resp:
            text = await resp.text()
            return DriverResponse(resp.status, text, dict(resp.headers))

    async def send_command(
        self,
        bot_url: str,
        command: str,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        forge: bool = False,
        age_seconds: float = 0,
    ) -> DriverResponse:
        """A slash command, form-encoded as Slack sends it, with a fresh ``response_url``
        and ``trigger_id`` (returned on the response for the test to follow)."""
        response_url = self.response_url_for(channel_id, user_id)
        trigger_id = self.mint_trigger_id()
        form = {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "team_domain": "sandbox",
            "channel_id": channel_id,
            "channel_name": f"sandbox-{channel_id.lower()}",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        resp = await self.post_raw(
            bot_url, urlencode(form).encode(), forge=forge, age_seconds=age_seconds
        )
        resp.response_url, resp.trigger_id = response_url, trigger_id
        return resp

    async def click(
        self,
        bot_url: str,
        *,
        message_ts: str,
        channel: str,
        action_id: str,
        value: str | None = None,
        user_id: str,
        strict: bool = True,
        forge: bool = False,
        age_seconds: float = 0,
    ) -> DriverResponse:
        """Click a button on a stored message (channel message or ephemeral) as ``user_id``:
        a ``block_actions`` payload with the message, ``container``, ``channel``, a fresh
        ``response_url`` and ``trigger_id``. The button is looked up by ``action_id`` (and
        ``value`` if given); ``strict=False`` clicks it even if the message no longer shows
        it (a stale client), using ``value``."""
        msg = self.message(channel, message_ts)
        eph = None
        if msg is None:
            eph = next(
                (e for e in self.ephemerals if e.ts == message_ts and e.channel == channel), None
            )
            if eph is None:
                raise LookupError(f"no message {message_ts} in {channel}")
        elements = msg.action_elements() if msg is not None else eph.action_elements()  # type: ignore[union-attr]
        found = next(
            (
                (bid, el)
                for bid, el in elements
                if el.get("action_id") == action_id and (value is None or el.get("value") == value)
            ),
            None,
        )
        if found is None:
            if strict:
                raise LookupError(f"message {message_ts} shows no button {action_id!r}")
            found = (None, {"type": "button", "action_id": action_id, "value": value or ""})
        block_id, el = found
        action: Json = {
            "type": el.get("type", "button"),
            "action_id": action_id,
            "block_id": block_id or uuid.uuid4().hex[:5],
            "action_ts": f"{self.clock():.6f}",
        }
        if "text" in el:
            action["text"] = el["text"]
        if el.get("type") == "button":
            action["value"] = el.get("value") if value is None else value
        if "style" in el:
            action["style"] = el["style"]
        response_url = self.response_url_for(channel, user_id, message_ts)
        trigger_id = self.mint_trigger_id()
        payload: Json = {
            "type": "block_actions",
            "user": {
                "id": user_id,
                "username": user_id.lower(),
                "name": user_id.lower(),
                "team_id": TEAM_ID,
            },
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": eph is not None,
            },
            "trigger_id": trigger_id,
            "team": {"id": TEAM_ID, "domain": "sandbox"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": f"sandbox-{channel.lower()}"},
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        }
        if msg is not None:
            payload["message"] = msg.to_slack()
        resp = await self._send_payload(bot_url, payload, forge=forge, age_seconds=age_seconds)
        resp.response_url, resp.trigger_id = response_url, trigger_id
        return resp

    async def submit_view(
        self,
        bot_url: str,
        view_id: str,
        values: dict[str, dict[str, Any]],
        user_id: str,
        *,
        forge: bool = False,
    ) -> DriverResponse:
        """Submit an open modal as ``user_id``. ``values`` maps block_id → action_id → the
        chosen value (a string, turned into the element's state shape: ``selected_option``
        for selects, ``value`` for text inputs) or a ready state dict. A bot answer of
        ``{"response_action": "update"}`` replaces the view; an empty 200 closes it."""
        opened = self.views.get(view_id)
        if opened is None or opened.closed:
            raise LookupError(f"no open view {view_id}")
        state = {
            bid: {aid: self._state_of(opened.view, bid, aid, v) for aid, v in per.items()}
            for bid, per in values.items()
        }
        view = {**self._view_out(opened), "state": {"values": state}}
        payload: Json = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "sandbox"},
            "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self.mint_trigger_id(),
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
        }
        resp = await self._send_payload(bot_url, payload, forge=forge)
        if resp.status == 200:
            answer: Any = None
            if resp.body.strip():
                try:
                    answer = json.loads(resp.body)
                except ValueError:
                    answer = None
            action = answer.get("response_action") if isinstance(answer, dict) else None
            if action == "update" and isinstance(answer.get("view"), dict):
                opened.view = answer["view"]
                opened.hash = uuid.uuid4().hex
            elif action != "errors":
                opened.closed = True
        return resp

    @staticmethod
    def _state_of(view: Json, block_id: str, action_id: str, value: Any) -> Json:
        if isinstance(value, dict):
            return value
        element: Json = {}
        for b in view.get("blocks", []):
            if b.get("block_id") == block_id and isinstance(b.get("element"), dict):
                element = b["element"]
        kind = element.get("type", "plain_text_input")
        if kind == "static_select":
            option = next(
                (o for o in element.get("options", []) if o.get("value") == value),
                {"text": {"type": "plain_text", "text": str(value)}, "value": str(value)},
            )
            return {"type": kind, "selected_option": option}
        return {"type": kind, "value": value}

    async def _send_payload(
        self, bot_url: str, payload: Json, *, forge: bool = False, age_seconds: float = 0
    ) -> DriverResponse:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post_raw(bot_url, body, forge=forge, age_seconds=age_seconds)


def _is_reply(m: Message) -> bool:
    return m.thread_ts is not None and m.thread_ts != m.ts


def _truthy(value: Any) -> bool:
    """A boolean argument as Slack reads it (``true``/``1``; slack_sdk sends ``"1"``)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true")


def _listed(m: Message, with_metadata: bool) -> Json:
    """A message as ``conversations.history`` / ``.replies`` list it."""
    out = m.to_slack()
    if with_metadata and m.metadata is not None:
        out["metadata"] = m.metadata
    return out


def _time_window(args: Json) -> tuple[float, float, bool]:
    """``oldest``, ``latest`` (epoch seconds; 0 and now by default) and ``inclusive``."""
    return _ts_arg(args, "oldest", 0.0), _ts_arg(args, "latest", math.inf), _truthy(
        args.get("inclusive"))


def _ts_arg(args: Json, key: str, default: float) -> float:
    raw = args.get(key)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise SlackError(f"invalid_ts_{key}") from None


def _in_window(ts: str, oldest: float, latest: float, inclusive: bool) -> bool:
    t = float(ts)
    if inclusive:
        return oldest <= t <= latest
    return oldest < t < latest


def _page_limit(args: Json, *, default: int, most: int) -> int:
    raw = args.get("limit")
    if raw in (None, ""):
        return default
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise SlackError("invalid_limit") from None
    return default if limit <= 0 else min(limit, most)


def _encode_cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _decode_cursor(cursor: Any) -> float | None:
    """The ``ts`` a page cursor continues from (None for the first page);
    ``invalid_cursor`` for anything this sandbox did not hand out."""
    if cursor in (None, ""):
        return None
    try:
        kind, _, ts = base64.b64decode(str(cursor), validate=True).decode().partition(":")
        if kind != "next_ts":
            raise ValueError(kind)
        return float(ts)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise SlackError("invalid_cursor") from None


def _bearer(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return None


async def _request_args(request: web.Request) -> Json:
    """Arguments from the query string and a JSON or form body, with JSON-encoded
    ``blocks``/``view``/``metadata`` fields decoded (clients send them as strings in forms)."""
    args: Json = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            args.update(body)
        else:
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
    for key in ("blocks", "attachments", "view", "metadata"):
        if isinstance(args.get(key), str):
            args[key] = json.loads(args[key])
    return args
