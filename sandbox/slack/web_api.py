"""The Slack stand-in's HTTP side: ``/api/<method>`` and the ``response_url`` endpoints.

It answers like Slack (``{"ok": true, ...}`` / ``{"ok": false, "error": "..."}``, HTTP 429
with ``Retry-After`` when ``chat.postMessage`` is paced faster than the per-channel rate),
checks the bearer token, runs the method (:mod:`sandbox.slack.methods`) or an error queued
with ``inject_error`` (or a body that is not JSON, ``inject_unreadable``), and records every
call. A ``response_url`` takes up to five replies
within 30 minutes: ``replace_original``, ``delete_original``, an ``in_channel`` message or an
ephemeral one.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from sandbox.slack.files import FILE_METHODS, take_upload
from sandbox.slack.methods import METHODS, content_args
from sandbox.slack.records import (
    RESPONSE_URL_TTL,
    RESPONSE_URL_USES,
    EphemeralMessage,
    Json,
    Message,
    ResponseUrl,
    SlackError,
)
from sandbox.slack.wire import bearer, request_args
from sandbox.slack.workspace import SlackWorkspace

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SlackWebApi(SlackWorkspace):
    """The workspace, served over HTTP (see the module docstring)."""

    _runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        """The aiohttp app: ``/api/<method>`` (GET or POST, JSON or form) and
        ``POST /response_url/<id>`` and ``POST /upload/<file id>`` (``sandbox.slack.files``)."""
        app = web.Application(middlewares=[self._learn_base_url])
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response_url/{rid}", self._handle_response_url)
        app.router.add_post("/upload/{fid}", self._handle_upload)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: any free port); returns the base URL."""
        self._runner = web.AppRunner(self.make_app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        addr = self._runner.addresses[0]
        self.base_url = f"http://{addr[0]}:{addr[1]}"
        return self.base_url

    async def stop_serving(self) -> None:
        """Stop what :meth:`start` serves."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _learn_base_url(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.learn_base_url(f"{request.scheme}://{request.host}")
        return await handler(request)

    # ---- /api/<method> ----

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            args = await request_args(request)
        except ValueError:
            return self._answer(method, {}, SlackError("invalid_json"))
        token = bearer(request) or args.pop("token", None)
        if not token:
            return self._answer(method, args, SlackError("not_authed"))
        if not hmac.compare_digest(str(token), self.bot_token):
            return self._answer(method, args, SlackError("invalid_auth"))
        handler = METHODS.get(method) or FILE_METHODS.get(method)
        if handler is None:
            return self._answer(method, args, SlackError("unknown_method", status=404))
        injected = self.next_injected(method)
        if injected is not None:
            return self._answer(method, args, injected)
        try:
            body = handler(self, args)
        except SlackError as exc:
            return self._answer(method, args, exc)
        return self._answer(method, args, body)

    def _answer(self, method: str, args: Json, result: Json | SlackError) -> web.Response:
        headers: dict[str, str] = {}
        if isinstance(result, SlackError) and "raw_body" in result.extra:
            self.record(method, args, False, result.error, result.status)
            return web.Response(
                status=result.status,
                body=str(result.extra["raw_body"]).encode(),
                headers={"Content-Type": str(result.extra["content_type"])},
            )
        if isinstance(result, SlackError):
            status = result.status
            body: Json = {"ok": False, "error": result.error}
            retry = result.extra.get("retry_after")
            if retry is not None:
                headers["Retry-After"] = str(retry)
            if "messages" in result.extra:
                body["response_metadata"] = {"messages": result.extra["messages"]}
            self.record(method, args, False, result.error, status)
        else:
            status = 200
            body = {"ok": True, **result}
            self.record(method, args, True, None, status)
        return web.json_response(body, status=status, headers=headers)

    # ---- the upload URL files.getUploadURLExternal hands out ----

    async def _handle_upload(self, request: web.Request) -> web.Response:
        """Step 2 of an upload: the file's bytes, as they came (``sandbox.slack.files``)."""
        data = await request.read()
        status, text = take_upload(self, request.match_info["fid"], data)
        self.record("upload", {"file_id": request.match_info["fid"]}, status == 200, None, status)
        return web.Response(status=status, text=text)

    # ---- response_url ----

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            self.record("response_url", {}, False, "invalid_payload", 400)
            return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
        target = self.response_target(request.match_info["rid"])
        error: str | None = None
        if target is None:
            error = "no_service"
        elif target.uses >= RESPONSE_URL_USES or self.clock() - target.created > RESPONSE_URL_TTL:
            error = "expired_url"
        if error is not None or target is None:
            self.record("response_url", body, False, error, 404)
            return web.json_response({"ok": False, "error": error}, status=404)
        target.uses += 1
        try:
            self._apply_response(target, body)
        except SlackError as exc:
            self.record("response_url", body, False, exc.error, 400)
            return web.json_response({"ok": False, "error": exc.error}, status=400)
        self.record("response_url", body, True, None, 200)
        return web.json_response({"ok": True})

    def _apply_response(self, target: ResponseUrl, body: Json) -> None:
        if body.get("delete_original"):
            self._delete_original(target)
            return
        text, blocks = content_args(body)
        if body.get("replace_original") and target.message_ts:
            self._replace_original(target, target.message_ts, text, blocks or [])
            return
        if body.get("response_type") == "in_channel":
            thread = body.get("thread_ts")
            self.add_message(
                Message(
                    target.channel,
                    self.new_ts(),
                    text,
                    blocks or [],
                    thread_ts=str(thread) if thread else None,
                )
            )
            return
        self.ephemerals.append(
            EphemeralMessage(
                target.channel, target.user, self.new_ts(), text, blocks or [], "response_url"
            )
        )

    def _delete_original(self, target: ResponseUrl) -> None:
        ts = target.message_ts
        msg = self.message(target.channel, ts) if ts else None
        if msg is not None:
            self.remove_message(msg)
            return
        eph = self.find_ephemeral(target.channel, target.user, ts)
        if eph is None:
            raise SlackError("message_not_found")
        self.ephemerals.remove(eph)

    def _replace_original(
        self, target: ResponseUrl, ts: str, text: str, blocks: list[Json]
    ) -> None:
        msg = self.message(target.channel, ts)
        if msg is not None:
            msg.versions.append((msg.text, msg.blocks))
            msg.text, msg.blocks = text, blocks
            msg.edited_ts = self.new_ts()
            return
        eph = self.find_ephemeral(target.channel, target.user, ts)
        if eph is None:
            raise SlackError("message_not_found")
        eph.text, eph.blocks = text, blocks
        eph.replaced += 1
