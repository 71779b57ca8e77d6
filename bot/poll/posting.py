"""Posting a poll cycle's messages to Slack exactly once, paced, while the lease holds.

A payment's message counts as posted only once Slack accepted it and the ``SlackRef`` is stored
on its record. The gap between the two (a crash right after Slack answered) is closed by a
per-payment claim, ``once:post:<payment id>``, set before posting, and by message ``metadata``
(``event_type`` ``failed_payment``, payload ``payment_id``) on every post: a poller that finds a
claim but no stored message searches the channel (or the digest thread) from the claim's time
for a message carrying that payment id and adopts it; only when none is there does it post.
Slack's history is read-after-write consistent for the poster, so "not found" means "not
accepted". The digest message (``bot.poll.digest``) is found again the same way, by its metadata
``failed_payment_digest``.

After Redis lost the state (claims and records gone), :meth:`Poster.posted_in_channel` reads
the channel's whole history window (top-level messages and the digests' threads) for the bot's
own messages by their metadata, so the cycle adopts them instead of posting again
(``bot.poll.recovery``).

The record learns where its message is through ``bot.lifecycle.posted``. Posts to one
channel are paced (``POST_INTERVAL``, about one a second: Slack's limit), and a
poller whose lease expired under it (``LeaseLost``) stops before its next post.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import lifecycle
from bot.models import FailureRecord, SlackRef
from bot.poll.report import PollReport
from bot.runtime.services import Services
from bot.slack.messages import permalink, post_failure

log = logging.getLogger("bot.poll.cycle")  # one logger for the whole poll cycle

POST_INTERVAL = 1.0
"""Seconds between two posts to one channel (Slack allows about one a second)."""
CLAIM_TTL = 30 * 24 * 3600.0
EVENT_FAILURE = "failed_payment"
EVENT_DIGEST = "failed_payment_digest"
HISTORY_PAGES = 100
"""Pages of 200 messages read at most, per listing of a channel or a thread."""


class LeaseLost(Exception):
    """The poller lease expired under this process (it stalled); it stops posting."""


class Pacer:
    """Spaces posts to each channel ``interval`` seconds apart (the first goes at once)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait(self, channel: str) -> None:
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            now = time.monotonic()
            at = self._next.get(channel, now)
            if at > now:
                await asyncio.sleep(at - now)
            self._next[channel] = max(at, now) + self.interval


class Poster:
    """One cycle's posting to ``FAILED_PAYMENTS_CHANNEL``: paced, exactly once per payment,
    counted in the cycle's ``PollReport``, and stopped when the lease is ``lost``."""

    def __init__(
        self, services: Services, report: PollReport, pacer: Pacer, lost: asyncio.Event
    ) -> None:
        self.s = services
        self.report = report
        self.pacer = pacer
        self.lost = lost
        self.t0 = time.monotonic()
        self.channel = services.settings.failed_payments_channel

    def check_lease(self) -> None:
        """Raise before a post when the cycle is being cancelled or its lease was lost."""
        me = asyncio.current_task()
        if me is not None and me.cancelling():
            # a cancel swallowed by an inner wait_for (see run_poller): stop before posting
            raise asyncio.CancelledError
        if self.lost.is_set():
            raise LeaseLost("the poller lease expired during the cycle; another process polls")

    def mark_first(self) -> None:
        """Record the time from the cycle's start to its first message (once)."""
        if self.report.first_post_seconds is None:
            self.report.first_post_seconds = time.monotonic() - self.t0

    async def publish(self, rec: FailureRecord, thread_ts: str | None) -> None:
        """Post one failure's message exactly once (claim, search after a crash, post) and
        store where it is."""
        s = self.s
        name = f"post:{rec.payment_id}"
        claim = json.dumps(
            {
                "holder": s.instance,
                "nonce": secrets.token_hex(4),
                "channel": self.channel,
                "thread_ts": thread_ts,
                "at": s.clock().timestamp(),
            }
        )
        ref: SlackRef | None = None
        if not await s.store.once(name, claim, ttl=CLAIM_TTL):
            prior = _load_claim(await s.store.once_value(name))
            ref = await self.find_posted(prior, EVENT_FAILURE, "payment_id", rec.payment_id)
            if ref is not None:
                log.info("found %s already posted (%s); adopting it", rec.payment.reference, ref.ts)
                self.report.adopted.append(rec.payment_id)
            else:
                await s.store.set_once_value(name, claim, ttl=CLAIM_TTL)
        if ref is None:
            self.check_lease()
            await self.pacer.wait(self.channel)
            self.check_lease()
            try:
                ref = await post_failure(
                    s,
                    rec,
                    channel=self.channel,
                    thread_ts=thread_ts,
                    metadata={
                        "event_type": EVENT_FAILURE,
                        "event_payload": {"payment_id": rec.payment_id},
                    },
                )
            except SlackApiError:
                # Slack answered "no": nothing was posted, so the claim can go.
                await s.store.clear_once(name, claim)
                raise
            self.mark_first()
            if thread_ts:
                self.report.thread_posts += 1
            else:
                self.report.top_level_posts += 1
        # store on the latest version of the record (a handler may have noted something)
        latest = await s.store.get_failure(rec.payment_id) or rec
        await lifecycle.posted(s, latest, ref)
        self.report.new.append(rec.payment_id)

    async def find_posted(
        self, claim: dict[str, Any] | None, event: str, key: str, value: str
    ) -> SlackRef | None:
        """The message carrying ``metadata`` ``event``/``{key: value}`` posted since the claim
        (in its thread, when it was a reply), or None."""
        if not claim:
            return None
        channel = str(claim.get("channel") or self.channel)
        thread_ts = claim.get("thread_ts")
        oldest = f"{float(claim.get('at', 0)) - 60:.6f}"
        cursor: str | None = None
        for _ in range(50):  # at most 50 pages of history
            if thread_ts:
                resp = await self.s.slack.conversations_replies(
                    channel=channel,
                    ts=str(thread_ts),
                    oldest=oldest,
                    cursor=cursor,
                    include_all_metadata=True,
                    limit=200,
                )
            else:
                resp = await self.s.slack.conversations_history(
                    channel=channel,
                    oldest=oldest,
                    cursor=cursor,
                    include_all_metadata=True,
                    limit=200,
                )
            for msg in resp.get("messages") or []:
                meta = msg.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == event and str(payload.get(key)) == value:
                    return SlackRef(
                        channel=channel,
                        ts=str(msg["ts"]),
                        thread_ts=str(thread_ts) if thread_ts else None,
                        permalink=await permalink(self.s, channel, str(msg["ts"])),
                    )
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        return None

    async def posted_in_channel(self, oldest: float) -> dict[str, SlackRef]:
        """Every failure message posted in the channel since ``oldest`` (a Unix time), at
        the top level or in a digest's thread, by payment id (from the message metadata).
        Without permalinks; the first one found wins."""
        found: dict[str, SlackRef] = {}
        digests: list[str] = []
        async for msg in self._pages(oldest, None):
            meta = msg.get("metadata") or {}
            event = meta.get("event_type")
            if event == EVENT_FAILURE:
                pid = str((meta.get("event_payload") or {}).get("payment_id") or "")
                if pid:
                    found.setdefault(pid, SlackRef(channel=self.channel, ts=str(msg["ts"])))
            elif event == EVENT_DIGEST:
                digests.append(str(msg["ts"]))
        for thread_ts in digests:
            async for msg in self._pages(oldest, thread_ts):
                meta = msg.get("metadata") or {}
                pid = str((meta.get("event_payload") or {}).get("payment_id") or "")
                if meta.get("event_type") == EVENT_FAILURE and pid:
                    found.setdefault(
                        pid, SlackRef(channel=self.channel, ts=str(msg["ts"]), thread_ts=thread_ts)
                    )
        return found

    async def _pages(self, oldest: float, thread_ts: str | None) -> AsyncIterator[Any]:
        """The channel's messages since ``oldest`` (or one thread's), page after page."""
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            if thread_ts:
                resp = await self.s.slack.conversations_replies(
                    channel=self.channel,
                    ts=thread_ts,
                    oldest=f"{oldest:.6f}",
                    cursor=cursor,
                    include_all_metadata=True,
                    limit=200,
                )
            else:
                resp = await self.s.slack.conversations_history(
                    channel=self.channel,
                    oldest=f"{oldest:.6f}",
                    cursor=cursor,
                    include_all_metadata=True,
                    limit=200,
                )
            for msg in resp.get("messages") or []:
                yield msg
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return
        log.warning(
            "stopped reading %s after %d pages; older messages were not searched",
            thread_ts or self.channel,
            HISTORY_PAGES,
        )


def _load_claim(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


__all__ = [
    "CLAIM_TTL",
    "EVENT_DIGEST",
    "EVENT_FAILURE",
    "HISTORY_PAGES",
    "POST_INTERVAL",
    "LeaseLost",
    "Pacer",
    "Poster",
]
