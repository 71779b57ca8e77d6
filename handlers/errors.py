"""One place where errors become answers.

- ``register`` installs the Bolt app's single ``@app.error`` handler: an error a listener
  raised (Redis down, QuickBooks or ConnectBooster failing, the bot shutting down, …) becomes
  an ephemeral message in plain words, saying nothing was changed and what to do.
- ``request_guard`` is an aiohttp middleware for ``/slack/events`` in HTTP mode: a request
  whose signature is wrong or older than 5 minutes gets 401, a body that is not a Slack
  payload gets 400 (not a 500), and a payload nothing handles gets 400 — always before any
  listener runs, so nothing changes and the app keeps serving.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from bot.permissions import PermissionCheckFailed
from bot.remedies import describe_error
from bot.services import Services, ShuttingDown
from bot.store import CorruptRecord, SchemaTooNew, StoreUnavailable
from cb.errors import CBError
from qb.errors import QBOError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_text(error: BaseException) -> str:
    """What the user is told about an error that stopped their request."""
    if isinstance(error, StoreUnavailable):
        return ("The bot's storage is not answering right now; nothing was changed. "
                "Try again in a minute.")
    if isinstance(error, ShuttingDown):
        return "The bot is restarting; nothing was done. Try again in a moment."
    if isinstance(error, PermissionCheckFailed):
        return str(error)
    if isinstance(error, SchemaTooNew | CorruptRecord):
        return ("The bot could not read what it stored about this payment; nothing was "
                "changed. An admin should look at the bot's logs.")
    if isinstance(error, QBOError | CBError):
        return f"That did not work: {describe_error(error)}. Nothing was changed."
    if isinstance(error, SlackApiError):
        err = error.response.get("error") if error.response is not None else "no answer"
        return f"Slack refused the bot's request ({err}); nothing was changed. Try again."
    return ("Something went wrong on the bot's side; nothing was changed. Try again, or ask "
            "an admin to look at the bot's logs.")


def _where(body: dict[str, Any]) -> tuple[str | None, str | None]:
    user = body.get("user")
    user_id = user.get("id") if isinstance(user, dict) else body.get("user_id")
    channel = body.get("channel")
    channel_id = channel.get("id") if isinstance(channel, dict) else body.get("channel_id")
    return (str(user_id) if user_id else None, str(channel_id) if channel_id else None)


def register(app: AsyncApp, services: Services) -> None:
    """Install the global error handler."""

    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        if isinstance(error, StoreUnavailable | ShuttingDown | PermissionCheckFailed):
            log.warning("request refused: %s", error)
        else:
            log.error("listener failed: %r", error, exc_info=error)
        user, channel = _where(body if isinstance(body, dict) else {})
        if not (user and channel):
            return
        try:
            await services.slack.chat_postEphemeral(channel=channel, user=user,
                                                    text=error_text(error))
        except SlackApiError as exc:
            log.warning("error reply not posted: %s", exc.response.get("error"))

    app.error(on_error)


def payload_problem(raw: bytes, content_type: str | None) -> str | None:
    """Why ``raw`` is not a Slack request body (``None`` when it is one)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if not text.strip():
        return "the body is empty"
    if (content_type or "").startswith("application/json") or text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            return "the body is not JSON"
        return None if isinstance(doc, dict) and doc.get("type") else "not a Slack event"
    params = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in params:
        try:
            payload = json.loads(params["payload"])
        except ValueError:
            return "the interaction payload is not JSON"
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            return "the interaction payload has no type"
        return None
    if "payload" in text:
        return "the interaction payload is malformed"
    if params.get("command"):
        return None
    return "neither a slash command nor an interaction"


def request_guard(signing_secret: str, path: str = "/slack/events") -> Callable[..., Any]:
    """aiohttp middleware for ``path``: 401 for a bad or stale signature, 400 for a body that
    is not a Slack payload or that nothing handles."""
    verifier = SignatureVerifier(signing_secret)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != path or request.method != "POST":
            return await handler(request)
        raw = await request.read()  # aiohttp keeps it: Bolt reads it again
        ts = request.headers.get("X-Slack-Request-Timestamp", "")
        sig = request.headers.get("X-Slack-Signature", "")
        if not verifier.is_valid(raw, ts, sig):
            return web.json_response({"error": "invalid or expired signature"}, status=401)
        problem = payload_problem(raw, request.content_type)
        if problem:
            log.warning("bad request to %s: %s", path, problem)
            return web.json_response({"error": problem}, status=400)
        resp = await handler(request)
        if resp.status == 404:
            return web.json_response({"error": "unknown payload: nothing handles it"},
                                     status=400)
        return resp

    return guard
