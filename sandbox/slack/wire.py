"""Reading Web API arguments the way Slack does: the bearer token, a JSON or form body,
booleans, time windows, page limits and page cursors; and messages as lists show them."""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from aiohttp import web

from sandbox.slack.records import Json, Message, SlackError


def bearer(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return None


async def request_args(request: web.Request) -> Json:
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


def truthy(value: Any) -> bool:
    """A boolean argument as Slack reads it (``true``/``1``; slack_sdk sends ``"1"``)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true")


def listed(m: Message, with_metadata: bool) -> Json:
    """A message as ``conversations.history`` / ``.replies`` list it."""
    out = m.to_slack()
    if with_metadata and m.metadata is not None:
        out["metadata"] = m.metadata
    return out


def time_window(args: Json) -> tuple[float, float, bool]:
    """``oldest``, ``latest`` (epoch seconds; 0 and now by default) and ``inclusive``."""
    return (
        _ts_arg(args, "oldest", 0.0),
        _ts_arg(args, "latest", math.inf),
        truthy(args.get("inclusive")),
    )


def _ts_arg(args: Json, key: str, default: float) -> float:
    raw = args.get(key)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise SlackError(f"invalid_ts_{key}") from None


def in_window(ts: str, oldest: float, latest: float, inclusive: bool) -> bool:
    """Whether ``ts`` falls in ``oldest``..``latest`` (ends included when ``inclusive``)."""
    t = float(ts)
    if inclusive:
        return oldest <= t <= latest
    return oldest < t < latest


def page_limit(args: Json, *, default: int, most: int) -> int:
    """The ``limit`` argument: ``default`` when absent or not positive, at most ``most``."""
    raw = args.get("limit")
    if raw in (None, ""):
        return default
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise SlackError("invalid_limit") from None
    return default if limit <= 0 else min(limit, most)


def encode_cursor(ts: str) -> str:
    """The ``next_cursor`` that continues after the message ``ts``."""
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def decode_cursor(cursor: Any) -> float | None:
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
