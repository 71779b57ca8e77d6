"""What the Slack stand-in keeps and answers with: its workspace's ids, the messages,
ephemeral messages and modals it was given, the calls it answered, and its errors.

``Message.to_slack`` and :func:`view_payload` are the shapes Slack puts in payloads and API
answers; the Web API, the ``response_url`` endpoints and the driver all use them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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


class SlackError(Exception):
    """An ``{"ok": false}`` answer, raised inside a method handler."""

    def __init__(self, error: str, *, status: int = 200, extra: Json | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra or {}


@dataclass
class UploadedFile:
    """A file the bot uploaded (``sandbox.slack.files``): what it announced, the bytes it
    sent, where it was shared."""

    id: str
    filename: str
    length: int
    alt_txt: str | None = None
    data: bytes | None = None
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    shared_ts: str | None = None
    completed: bool = False

    def as_slack(self) -> Json:
        """The file object Slack answers (the fields the bot and tests read)."""
        png = self.filename.lower().endswith(".png")
        return {
            "id": self.id,
            "name": self.filename,
            "title": self.title or self.filename,
            "size": len(self.data or b""),
            "mimetype": "image/png" if png else "application/octet-stream",
        }


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
    files: list[Json] = field(default_factory=list)  # shared by files.completeUploadExternal

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
        if self.files:
            msg["files"] = self.files
        return msg

    def action_elements(self) -> list[tuple[str | None, Json]]:
        """``(block_id, element)`` of every interactive element, in order."""
        return action_elements(self.blocks)


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
        return action_elements(self.blocks)


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
        """The body as JSON (``None`` when empty)."""
        return json.loads(self.body) if self.body else None


@dataclass
class ResponseUrl:
    """A minted ``response_url``: where its replies go, and how often it was used."""

    channel: str
    user: str
    message_ts: str | None
    created: float
    uses: int = 0


@dataclass
class Bucket:
    """A channel's token bucket for ``chat.postMessage`` pacing."""

    tokens: float
    last: float


def action_elements(blocks: list[Json]) -> list[tuple[str | None, Json]]:
    """``(block_id, element)`` of every interactive element in ``blocks``, in order."""
    out: list[tuple[str | None, Json]] = []
    for b in blocks:
        if b.get("type") == "actions":
            out.extend((b.get("block_id"), e) for e in b.get("elements", []))
        elif b.get("type") == "section" and isinstance(b.get("accessory"), dict):
            out.append((b.get("block_id"), b["accessory"]))
    return out


def is_reply(m: Message) -> bool:
    """Whether ``m`` is a thread reply (not a top-level message or a thread's parent)."""
    return m.thread_ts is not None and m.thread_ts != m.ts


def view_payload(v: OpenView) -> Json:
    """An open modal as Slack sends it (``views.open`` answers, ``view_submission``)."""
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
