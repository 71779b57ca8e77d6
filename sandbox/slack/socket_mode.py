"""The Slack stand-in's Socket Mode: ``apps.connections.open`` and the WebSocket it hands out.

As Slack does it (https://api.slack.com/apis/socket-mode):

- ``apps.connections.open`` takes the app-level token (``xapp-…``) as its bearer token (the
  bot token gets ``not_allowed_token_type``, any other ``invalid_auth``) and answers a
  one-time URL, ``ws://<host>:<port>/link/?ticket=…&app_id=…``, on the stand-in's own port.
  A ticket opens one connection; an unknown or used one is refused (HTTP 401).
- On each connection the stand-in first sends ``hello``; then envelopes
  (``{"envelope_id", "type", "payload", "accepts_response_payload"}``): ``slash_commands``
  carrying a slash command's fields, ``interactive`` carrying a ``block_actions`` or
  ``view_submission`` payload — the very payloads the HTTP driver
  (:mod:`sandbox.slack.driver`) signs and POSTs. An envelope goes out on the newest
  connection that was not asked to refresh; with none, it waits for one.
- The app acknowledges each envelope by sending back ``{"envelope_id": …}`` (with an
  optional ``payload``: a submission's ``response_action``, a command's reply) within
  :data:`ACK_WITHIN` seconds. Every ack is kept on its :class:`Envelope` (when, on which
  connection, with what); :meth:`SlackSocketMode.ack_problems` lists the late, missing,
  repeated and unknown ones. An ack may come on any of the app's connections (the SDK sends
  it on whichever is current). Slack does not resend interactions, and neither does this.
- :meth:`SlackSocketMode.refresh` sends ``disconnect`` with reason ``refresh_requested``:
  the app must open a new connection through ``apps.connections.open``. No new envelope goes
  out on a refreshed connection; it stays open until the app closes it.

Timings use the event loop's clock, not the workspace's (which tests may freeze).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiohttp import WSMsgType, web

from sandbox.slack.driver import Interaction, SlackDriver
from sandbox.slack.records import APP_ID, EphemeralMessage, Json, SlackError
from sandbox.slack.web_api import SlackWebApi
from sandbox.slack.wire import bearer, request_args

ACK_WITHIN = 3.0
"""Seconds Slack waits for an envelope's acknowledgement before telling the user it failed."""
CONNECTIONS_OPEN = "apps.connections.open"
LINK_PATH = "/link/"
DEBUG_HOST = "applink-sandbox"
SANDBOX_APP_TOKEN = "xapp-1-A0SANDBOX-sandbox"
"""The app-level token the stand-in takes unless given another."""


class EnvelopeType(StrEnum):
    """What an envelope carries."""

    SLASH_COMMANDS = "slash_commands"
    INTERACTIVE = "interactive"


@dataclass(frozen=True)
class Ack:
    """One acknowledgement: ``after`` seconds after its envelope went out, on connection
    number ``connection``, with the app's ``payload`` (if any)."""

    after: float
    connection: int
    payload: Json | None


@dataclass
class Envelope:
    """An envelope sent to the app, and every acknowledgement it got."""

    id: str
    type: EnvelopeType
    interaction: Interaction
    connection: int
    sent_at: float
    acks: list[Ack] = field(default_factory=list)
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def acked(self) -> bool:
        return bool(self.acks)

    @property
    def in_time(self) -> bool:
        """Acknowledged, the first time within :data:`ACK_WITHIN` seconds."""
        return bool(self.acks) and self.acks[0].after <= ACK_WITHIN

    @property
    def answer(self) -> Json | None:
        """The payload of the first acknowledgement (``None``: a bare ack, or none yet)."""
        return self.acks[0].payload if self.acks else None

    def json(self) -> Json | None:
        """The app's answer, as ``DriverResponse.json()`` gives it over HTTP."""
        return self.answer

    @property
    def response_url(self) -> str | None:
        return self.interaction.response_url

    @property
    def trigger_id(self) -> str | None:
        return self.interaction.trigger_id

    async def wait_ack(self, within: float = ACK_WITHIN) -> bool:
        """Wait up to ``within`` seconds for the first ack; whether it came."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.answered.wait(), within)
        return self.acked


@dataclass
class SocketConnection:
    """One WebSocket the app opened (numbered from 1, in order of opening)."""

    number: int
    ws: web.WebSocketResponse
    opened_at: float
    refreshing: bool = False
    closed_at: float | None = None
    sent: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """Open, and not asked to refresh: new envelopes go out on it."""
        return self.closed_at is None and not self.ws.closed and not self.refreshing


class SlackSocketMode(SlackWebApi, SlackDriver):
    """The Web API and the driver, plus Socket Mode (see the module docstring)."""

    def __init__(self, *, app_token: str = SANDBOX_APP_TOKEN, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app_token = app_token
        self.socket_connections: list[SocketConnection] = []
        self.envelopes: dict[str, Envelope] = {}
        self.stray_acks: list[str] = []
        self._tickets: set[str] = set()
        self._socket_changed: asyncio.Event | None = None

    # ---- serving ----

    def make_app(self) -> web.Application:
        """The Web API app, plus the WebSocket endpoint ``apps.connections.open`` points at."""
        app = super().make_app()
        app.router.add_get(LINK_PATH, self._handle_socket)
        app.on_shutdown.append(self._close_sockets)
        return app

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] != CONNECTIONS_OPEN:
            return await super()._handle_api(request)
        try:
            args = await request_args(request)
        except ValueError:
            return self._answer(CONNECTIONS_OPEN, {}, SlackError("invalid_json"))
        token = bearer(request) or args.pop("token", None)
        if not token:
            return self._answer(CONNECTIONS_OPEN, args, SlackError("not_authed"))
        if hmac.compare_digest(str(token), self.bot_token):
            return self._answer(CONNECTIONS_OPEN, args, SlackError("not_allowed_token_type"))
        if not hmac.compare_digest(str(token), self.app_token):
            return self._answer(CONNECTIONS_OPEN, args, SlackError("invalid_auth"))
        injected = self.next_injected(CONNECTIONS_OPEN)
        if injected is not None:
            return self._answer(CONNECTIONS_OPEN, args, injected)
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        ws_base = "ws" + self.base_url.removeprefix("http")
        url = f"{ws_base}{LINK_PATH}?ticket={ticket}&app_id={APP_ID}"
        return self._answer(CONNECTIONS_OPEN, args, {"url": url})

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid or used ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        loop = asyncio.get_running_loop()
        conn = SocketConnection(len(self.socket_connections) + 1, ws, loop.time())
        self.socket_connections.append(conn)
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": sum(1 for c in self.socket_connections if c.usable),
                    "debug_info": {
                        "host": DEBUG_HOST,
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": APP_ID},
                }
            )
            self._socket_event_fire()
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._take_ack(conn, msg.data)
        finally:
            conn.closed_at = loop.time()
            self._socket_event_fire()
        return ws

    async def _close_sockets(self, _app: web.Application) -> None:
        for conn in self.socket_connections:
            if not conn.ws.closed:
                await conn.ws.close(code=1001, message=b"server shutdown")

    # ---- acknowledgements ----

    def _take_ack(self, conn: SocketConnection, data: str) -> None:
        try:
            msg = json.loads(data)
        except ValueError:
            msg = None
        if not isinstance(msg, dict) or msg.get("envelope_id") not in self.envelopes:
            self.stray_acks.append(data[:200])
            return
        envelope = self.envelopes[msg["envelope_id"]]
        payload = msg.get("payload")
        loop = asyncio.get_running_loop()
        first = not envelope.acks
        envelope.acks.append(
            Ack(
                loop.time() - envelope.sent_at,
                conn.number,
                payload if isinstance(payload, dict) else None,
            )
        )
        envelope.answered.set()
        if first:
            self._take_answer(envelope)
        self.record("socket_mode.ack", {"envelope_id": envelope.id}, True, None, 200)

    def _take_answer(self, envelope: Envelope) -> None:
        """What Slack does with the first answer: a modal's ``response_action``; a
        command's reply shown to the user who typed it."""
        done, answer = envelope.interaction, envelope.answer
        if done.view is not None:
            self.take_view_answer(done.view, answer)
        elif envelope.type == EnvelopeType.SLASH_COMMANDS and answer:
            form = done.payload
            blocks = answer.get("blocks")
            self.ephemerals.append(
                EphemeralMessage(
                    str(form.get("channel_id")),
                    str(form.get("user_id")),
                    self.new_ts(),
                    str(answer.get("text", "")),
                    blocks if isinstance(blocks, list) else [],
                    "ack",
                )
            )

    def ack_problems(self) -> list[str]:
        """Every envelope not acknowledged in time (late, or not at all), acknowledged more
        than once, and every ack of an envelope never sent; empty when all is well."""
        problems: list[str] = []
        for env in self.envelopes.values():
            if not env.acks:
                problems.append(f"{env.id} ({env.type}): never acknowledged")
                continue
            if not env.in_time:
                problems.append(
                    f"{env.id} ({env.type}): acknowledged after {env.acks[0].after:.2f}s"
                )
            if len(env.acks) > 1:
                problems.append(f"{env.id} ({env.type}): acknowledged {len(env.acks)} times")
        problems += [f"ack of no envelope sent: {data}" for data in self.stray_acks]
        return problems

    # ---- sending ----

    async def send_envelope(
        self, kind: EnvelopeType, done: Interaction, *, within: float = 10.0
    ) -> Envelope:
        """Send ``done``'s payload in an envelope on the newest usable connection (waiting
        up to ``within`` seconds for one); the envelope records its acks as they come."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            conn = await self._usable_connection(deadline - loop.time())
            envelope = Envelope(uuid.uuid4().hex, kind, done, conn.number, loop.time())
            self.envelopes[envelope.id] = envelope
            accepts = kind == EnvelopeType.SLASH_COMMANDS or (
                done.payload.get("type") == "view_submission"
            )
            try:
                await conn.ws.send_json(
                    {
                        "envelope_id": envelope.id,
                        "type": kind.value,
                        "payload": done.payload,
                        "accepts_response_payload": accepts,
                    }
                )
            except ConnectionError:  # closed under us: it never left; send it on another
                del self.envelopes[envelope.id]
                conn.closed_at = conn.closed_at or loop.time()
                continue
            conn.sent.append(envelope.id)
            return envelope

    async def _usable_connection(self, within: float) -> SocketConnection:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            usable = [c for c in self.socket_connections if c.usable]
            if usable:
                return usable[-1]
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("no Socket Mode connection is open")
            changed = self._socket_event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def _socket_event(self) -> asyncio.Event:
        if self._socket_changed is None:
            self._socket_changed = asyncio.Event()
        return self._socket_changed

    def _socket_event_fire(self) -> None:
        if self._socket_changed is not None:
            self._socket_changed.set()
            self._socket_changed = None

    async def wait_connected(self, count: int = 1, within: float = 10.0) -> SocketConnection:
        """Wait until ``count`` connections were opened in all and one is usable; the
        newest usable one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(self.socket_connections) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{count} Socket Mode connection(s) not opened in time")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._socket_event().wait(), remaining)
        return await self._usable_connection(deadline - loop.time())

    async def refresh(self, connection: SocketConnection | None = None) -> list[SocketConnection]:
        """Send ``disconnect`` (``refresh_requested``) on ``connection`` (default: every
        usable one); nothing new goes out on it, and the app is to close it once it has
        opened another."""
        targets = (
            [connection]
            if connection is not None
            else [c for c in self.socket_connections if c.usable]
        )
        for conn in targets:
            conn.refreshing = True
            with contextlib.suppress(ConnectionError):
                await conn.ws.send_json(
                    {
                        "type": "disconnect",
                        "reason": "refresh_requested",
                        "debug_info": {"host": DEBUG_HOST},
                    }
                )
        self._socket_event_fire()
        return targets

    # ---- what users do, over Socket Mode ----

    async def socket_command(
        self, command: str, text: str, *, user_id: str, channel_id: str
    ) -> Envelope:
        """A slash command in a ``slash_commands`` envelope; returns once it is
        acknowledged (or :data:`ACK_WITHIN` passed: see ``in_time``)."""
        done = self.command_interaction(command, text, user_id=user_id, channel_id=channel_id)
        return await self._send_and_wait(EnvelopeType.SLASH_COMMANDS, done)

    async def socket_click(
        self,
        *,
        message_ts: str,
        channel: str,
        action_id: str,
        value: str | None = None,
        user_id: str,
        strict: bool = True,
    ) -> Envelope:
        """A button click (``block_actions``) in an ``interactive`` envelope."""
        done = self.click_interaction(
            message_ts=message_ts,
            channel=channel,
            action_id=action_id,
            value=value,
            user_id=user_id,
            strict=strict,
        )
        return await self._send_and_wait(EnvelopeType.INTERACTIVE, done)

    async def socket_submit_view(
        self, view_id: str, values: dict[str, dict[str, Any]], user_id: str
    ) -> Envelope:
        """A modal submission (``view_submission``) in an ``interactive`` envelope; the ack's
        ``response_action`` is applied to the view as over HTTP."""
        done = self.submission_interaction(view_id, values, user_id)
        return await self._send_and_wait(EnvelopeType.INTERACTIVE, done)

    async def _send_and_wait(self, kind: EnvelopeType, done: Interaction) -> Envelope:
        envelope = await self.send_envelope(kind, done)
        await envelope.wait_ack(ACK_WITHIN)
        return envelope
