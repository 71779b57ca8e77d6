"""The Slack stand-in's workspace: its settings and everything it keeps.

One :class:`SlackWorkspace` holds the app's credentials (bot token, signing secret), the
per-channel pacing of ``chat.postMessage``, the channel messages (with threads), ephemeral
messages, open modals, users and user groups, the response URLs and trigger ids it minted,
errors queued by :meth:`SlackWorkspace.inject_error`, and a record of every call answered.
The Web API (:mod:`sandbox.slack.web_api`) and the driver (:mod:`sandbox.slack.driver`) are
layers over it; tests read it back through the inspection methods here.

``clock`` returns epoch seconds (``time.time`` by default); it paces the rate limiter,
stamps message ``ts``, expires trigger ids and response URLs, and dates signatures.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
import uuid
from collections.abc import Callable, Iterable

from sandbox.slack.records import (
    TEAM_ID,
    TRIGGER_TTL,
    Bucket,
    Clock,
    EphemeralMessage,
    Json,
    Message,
    OpenView,
    RecordedCall,
    ResponseUrl,
    SlackError,
    UploadedFile,
    is_reply,
)


class SlackWorkspace:
    """Settings and state of the Slack stand-in (see the module docstring)."""

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
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.channel_rate_per_second = channel_rate_per_second
        self.burst = burst
        self.clock: Clock = clock or time.time
        self.rate_limit_enabled = True
        self.known_channels: set[str] | None = set(channels) if channels is not None else None
        self.private_channels: set[str] = set()
        """Channels ``conversations.info`` calls private (besides any ``G…`` id)."""
        self.channel_members: dict[str, list[str]] = {}
        """``conversations.members`` of a channel (unset: the bot alone)."""
        self.calls: list[RecordedCall] = []
        self.usergroups: dict[str, list[str]] = {}
        self.users: dict[str, Json] = {}
        self.views: dict[str, OpenView] = {}
        self.ephemerals: list[EphemeralMessage] = []
        self.files: dict[str, UploadedFile] = {}
        """Files uploaded with files.getUploadURLExternal (``sandbox.slack.files``)."""
        self.home_views: dict[str, Json] = {}
        """Each user's Home tab, as the last ``views.publish`` left it."""
        self._messages: dict[str, list[Message]] = {}
        self._response_urls: dict[str, ResponseUrl] = {}
        self._triggers: dict[str, float] = {}
        self._buckets: dict[str, Bucket] = {}
        self._injected: dict[str, list[SlackError]] = {}
        self._last_ts = 0.0
        self._ids = itertools.count(1)
        self._base_url: str | None = None
        self._changed: asyncio.Event | None = None

    # ---- where it is served ----

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

    def learn_base_url(self, url: str) -> None:
        """Take ``url`` as the base URL unless one is known already."""
        if self._base_url is None:
            self._base_url = url

    # ---- inspection ----

    def messages(self, channel: str) -> list[Message]:
        """Top-level messages of ``channel``, oldest first."""
        return [m for m in self._messages.get(channel, []) if not is_reply(m)]

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
        """Every answered call of ``method``, oldest first."""
        return [c for c in self.calls if c.method == method]

    def rate_limited_count(self) -> int:
        """How many calls were answered 429."""
        return sum(1 for c in self.calls if c.status == 429)

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

    # ---- failures on demand ----

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

    def inject_unreadable(
        self,
        method: str,
        body: str,
        *,
        status: int = 503,
        content_type: str = "text/plain",
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` answer ``status`` with ``body`` as it
        is, not Slack's JSON (a proxy's plain-text error, an HTML page labelled
        ``application/json``)."""
        extra: Json = {"raw_body": body, "content_type": content_type}
        self._injected.setdefault(method, []).extend(
            SlackError(f"HTTP {status}", status=status, extra=extra) for _ in range(times)
        )

    def next_injected(self, method: str) -> SlackError | None:
        """The next error queued for ``method`` (taken off the queue), if any."""
        injected = self._injected.get(method)
        return injected.pop(0) if injected else None

    # ---- keeping what it answered ----

    def record(self, method: str, args: Json, ok: bool, error: str | None, status: int) -> None:
        """Record one answered call and wake whoever waits in :meth:`wait_until`."""
        self.calls.append(RecordedCall(method, args, ok, error, status, self.clock()))
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def new_ts(self) -> str:
        """A message ``ts`` from the clock, later than every one handed out before."""
        now = max(self.clock(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def take_token(self, channel: str) -> None:
        """Spend one of ``channel``'s posting tokens; ``ratelimited`` (429 with
        ``retry_after``) when its bucket is empty."""
        if not self.rate_limit_enabled:
            return
        now = self.clock()
        rate = self.channel_rate_per_second
        b = self._buckets.get(channel)
        if b is None:
            b = self._buckets[channel] = Bucket(tokens=float(self.burst), last=now)
        b.tokens = min(float(self.burst), b.tokens + max(0.0, now - b.last) * rate)
        b.last = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return
        wait = max(1, math.ceil((1.0 - b.tokens) / rate))
        raise SlackError("ratelimited", status=429, extra={"retry_after": wait})

    def add_message(self, msg: Message) -> None:
        """Keep ``msg`` in its channel (after every message there)."""
        self._messages.setdefault(msg.channel, []).append(msg)

    def remove_message(self, msg: Message) -> None:
        """Delete ``msg`` from its channel."""
        self._messages[msg.channel].remove(msg)

    def find_ephemeral(self, channel: str, user: str, ts: str | None) -> EphemeralMessage | None:
        """The ephemeral message ``ts`` shown to ``user`` in ``channel``."""
        return next(
            (e for e in self.ephemerals if e.ts == ts and e.user == user and e.channel == channel),
            None,
        )

    # ---- response URLs, trigger ids and views ----

    def response_url_for(self, channel: str, user: str, message_ts: str | None = None) -> str:
        """Mint a ``response_url`` for ``user`` in ``channel`` (tied to ``message_ts`` for
        clicks, so ``replace_original`` knows what to replace)."""
        rid = uuid.uuid4().hex
        self._response_urls[rid] = ResponseUrl(channel, user, message_ts, self.clock())
        return f"{self.base_url}/response_url/{rid}"

    def response_target(self, rid: str) -> ResponseUrl | None:
        """The minted ``response_url`` with id ``rid``."""
        return self._response_urls.get(rid)

    def mint_trigger_id(self) -> str:
        """A ``trigger_id`` valid for 3 seconds (``views.open`` consumes it)."""
        tid = f"{next(self._ids)}.{TEAM_ID}.{uuid.uuid4().hex[:16]}"
        self._triggers[tid] = self.clock() + TRIGGER_TTL
        return tid

    def consume_trigger(self, trigger: object) -> float | None:
        """When ``trigger`` expires (epoch seconds), taking it: ``None`` if never minted
        or used already."""
        return self._triggers.pop(str(trigger), None) if trigger else None

    def new_view_id(self) -> str:
        """An id for a newly opened modal."""
        return f"V{next(self._ids):08d}"
