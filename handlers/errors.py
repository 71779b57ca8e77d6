"""Where errors meet Slack: the app's one error hook, and the guard in front of
``/slack/events``.

- ``register`` installs the Bolt app's single ``@app.error`` handler: an error a listener
  raised (Redis down, QuickBooks or ConnectBooster failing, the bot shutting down, …) becomes
  an ephemeral message in the plain words of ``bot.errors``, saying nothing was changed and
  what to do.
- ``request_guard`` is an aiohttp middleware for ``/slack/events`` in HTTP mode: a request
  whose signature is wrong or older than 5 minutes gets 401, a body that is not a Slack
  payload gets 400 (not a 500), and a payload nothing handles gets 400 — always before any
  listener runs, so nothing changes and the app keeps serving.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.async_app import AsyncApp

from bot.errors import error_text, is_expected
from bot.runtime.services import Services
from bot.slack.messages import tell
from handlers.gate import channel_of, user_of

log = logging.getLogger(__name__)

MAX_AGE_SECONDS = 5 * 60
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def log_failure(error: BaseException, what: str = "listener") -> None:
    """Log an error that stopped a request: a warning for an outage or a refusal, an error
    with its traceback for anything else."""
    if is_expected(error):
        log.warning("%s refused: %s", what, error)
    else:
        log.error("%s failed: %r", what, error, exc_info=error)


async def report_error(services: Services, error: BaseException, body: dict[str, Any]) -> None:
    """Log ``error`` and tell the user who sent ``body`` what happened, ephemerally."""
    log_failure(error)
    body = body if isinstance(body, dict) else {}
    await tell(services, channel_of(body), user_of(body) or None, error_text(error))


def register(app: AsyncApp, services: Services) -> None:
    """Install the global error handler."""

    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        await report_error(services, error, body)

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
        return _interaction_problem(payload)
    if "payload" in text:
        return "the interaction payload is malformed"
    if params.get("command"):
        return None
    return "neither a slash command nor an interaction"


def cheap_problem(raw: bytes) -> str | None:
    """The checks that cost nothing: an empty body, or one that is not UTF-8. The rest of
    ``payload_problem`` runs only when Bolt cannot read the body (no double parsing on the
    hot path of every click)."""
    if not raw.strip():
        return "the body is empty"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    return None


def _interaction_problem(payload: dict[str, Any]) -> str | None:
    """What is missing from an interaction payload of a type the bot handles."""
    kind = payload["type"]
    user = payload.get("user")
    if kind in ("block_actions", "view_submission", "view_closed") and not (
        isinstance(user, dict) and isinstance(user.get("id"), str)
    ):
        return f"the {kind} payload names no user"
    if kind == "block_actions":
        acts = payload.get("actions")
        if (
            not isinstance(acts, list)
            or not acts
            or not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in acts)
        ):
            return "the block_actions payload has no actions"
    if kind in ("view_submission", "view_closed"):
        view = payload.get("view")
        if not (
            isinstance(view, dict)
            and isinstance(view.get("type"), str)
            and isinstance(view.get("callback_id"), str)
        ):
            return f"the {kind} payload has no view"
    return None


def signature_ok(
    secret: bytes, raw: bytes, timestamp: str, signature: str, now: float | None = None
) -> bool:
    """Slack's v0 signature of ``raw`` is ``signature``, made at most 5 minutes from now."""
    if not timestamp.isdigit() or not signature.startswith("v0="):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_AGE_SECONDS:
        return False
    base = b"v0:" + timestamp.encode() + b":" + raw
    expected = "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def request_guard(signing_secret: str, path: str = "/slack/events") -> Callable[..., Any]:
    """aiohttp middleware for ``path``: 401 for a bad or stale signature, 400 for a body that
    is not a Slack payload or that nothing handles."""
    secret = signing_secret.encode()

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != path or request.method != "POST":
            return await handler(request)
        raw = await request.read()  # aiohttp keeps it: Bolt reads it again
        ts = request.headers.get("X-Slack-Request-Timestamp", "")
        sig = request.headers.get("X-Slack-Signature", "")
        if not signature_ok(secret, raw, ts, sig):
            return web.json_response({"error": "invalid or expired signature"}, status=401)
        problem = cheap_problem(raw)
        resp: web.StreamResponse | None = None
        if problem is None:
            try:
                resp = await handler(request)
            except (ValueError, KeyError, TypeError, AttributeError):
                # Bolt could not read the body: say what is wrong with it
                problem = payload_problem(raw, request.content_type) or "malformed payload"
        if resp is not None and resp.status >= 500:
            problem = payload_problem(raw, request.content_type)
        if problem or resp is None:
            log.warning("bad request to %s: %s", path, problem)
            return web.json_response({"error": problem or "malformed payload"}, status=400)
        if resp.status == 404:
            return web.json_response({"error": "unknown payload: nothing handles it"}, status=400)
        return resp

    return guard
