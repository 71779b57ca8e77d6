"""The poller: find new failed payments, post each once, keep every message current.

One cycle (:func:`poll_once`), run every ``POLL_INTERVAL_SECONDS`` by :func:`run_poller`:

1. Take the ``poller`` lease. With several bot processes on one Redis only its holder polls;
   the lease expires ``LEASE_TTL`` seconds after its holder dies, and a live holder extends it
   while it works. A holder that loses its lease stops before its next Slack post.
2. List the payments ConnectBooster marks ``failed`` and changed since the cursor kept in
   Redis, minus ``OVERLAP`` (a late update is not missed; reprocessing is idempotent).
3. New failures (no record, or a record without a Slack message) are diagnosed in bulk
   (``bot.facts.diagnose_many``) and stored, then posted to ``FAILED_PAYMENTS_CHANNEL`` one
   message each. More than ``DIGEST_AFTER`` in one cycle: one digest message first, then each
   failure's message as a reply in its thread, diagnosed in batches while earlier replies go
   out. Posts to one channel are paced (``POST_INTERVAL``, about one a second: Slack's limit).
4. A known failure that failed again (a newer sync attempt) after a remedy or a resync gets
   its existing message redrawn with the new diagnosis; no second message.
5. Open failures resolved outside Slack — synced by ConnectBooster's next run, dismissed or
   deleted in the portal — are marked resolved (``Resolution(how=..., by=None)``) and their
   message redrawn without buttons. Changes come from ConnectBooster's ``synced`` and
   ``dismissed`` lists since the cursor (bulk); deletions show as a 404 on a rotating window of
   ``SWEEP_READS`` open records read one by one each cycle (the contract has no deleted list).
6. The cursor moves to the newest ``updated_at`` handled (held back before a payment a remedy
   is working on), only once the cycle finished: a crash replays the cycle, never skips it.
7. The failure-rate and "sync not running" alerts are checked (``bot.alerts``).

Exactly once, across crashes. A payment's message counts as posted only once Slack accepted it
and the ``SlackRef`` is stored on its record. The gap between the two (a crash right after
Slack answered) is closed by a per-payment claim, ``once:post:<payment id>``, set before
posting, and by message ``metadata`` (``event_type`` ``failed_payment``, payload ``payment_id``)
on every post: a poller that finds a claim but no stored message searches the channel (or the
digest thread) from the claim's time for a message carrying that payment id and adopts it;
only when none is there does it post. Slack's history is read-after-write consistent for the
poster, so "not found" means "not accepted". The digest message is guarded the same way
(``DigestPlan`` in Redis, metadata ``failed_payment_digest``), so a restart mid-burst finishes
the same thread instead of starting a second digest.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
from pydantic import AwareDatetime, BaseModel, Field
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.blocks_digest import digest_message
from bot.facts import diagnose_many
from bot.messages import post_failure, refresh_message
from bot.models import (
    Diagnosis,
    FailureRecord,
    FailureStatus,
    RemedyKind,
    Resolution,
    SlackRef,
)
from bot.services import Services
from bot.store import StoreError
from cb.errors import CBError, NotFound
from cb.models import Payment, SyncStatus
from qb.errors import QBOError

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=10)
"""How far before the cursor each cycle reads again, so a late update is not missed."""
LEASE_NAME = "poller"
LEASE_TTL = 60.0
"""Seconds the poller lease outlives a holder that stopped extending it (died)."""
POST_INTERVAL = 1.0
"""Seconds between two posts to one channel (Slack allows about one a second)."""
DIAGNOSE_BATCH = 25
"""Failures diagnosed together while a burst's replies are being posted."""
DIGEST_OLDEST = 5
"""Oldest failures listed in a digest (diagnosed before the digest is posted)."""
SWEEP_READS = 50
"""Open records read one by one per cycle to notice portal deletions."""
CLAIM_TTL = 30 * 24 * 3600.0
PAGE = 500
EVENT_FAILURE = "failed_payment"
EVENT_DIGEST = "failed_payment_digest"
BACKOFF_CAP = 900.0


class LeaseLost(Exception):
    """The poller lease expired under this process (it stalled); it stops posting."""


# ---- what a cycle did ------------------------------------------------------------------


@dataclass
class PollReport:
    """What one poll cycle did. ``skipped`` says why it did nothing (another holder)."""

    started_at: datetime
    finished_at: datetime | None = None
    skipped: str | None = None
    new: list[str] = field(default_factory=list)  # posted (or adopted) this cycle
    updated: list[str] = field(default_factory=list)  # failed again: message redrawn
    resolved: list[str] = field(default_factory=list)  # resolved outside Slack
    still_open: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)  # found already posted after a crash
    digest_ts: str | None = None
    first_post_seconds: float | None = None  # from the cycle's start to the first message
    top_level_posts: int = 0
    thread_posts: int = 0
    alert: Any = None  # bot.alerts.AlertReport when an alert went out
    alert_error: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "updated": len(self.updated),
            "resolved": len(self.resolved),
            "still_open": len(self.still_open),
        }


class DigestPlan(BaseModel):
    """A burst being posted: its digest message and the failures that go in its thread."""

    plan_id: str
    channel: str
    ts: str | None = None  # set once Slack accepted the digest
    claimed_at: AwareDatetime
    payment_ids: list[str] = Field(default_factory=list)
    total_amount: Decimal = Decimal(0)
    done: bool = False


class SweepCursor(BaseModel):
    """Where the rotating one-by-one read of open records goes on next cycle."""

    offset: int = 0


# ---- pacing ------------------------------------------------------------------------------


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


# ---- the cycle ----------------------------------------------------------------------------


async def poll_once(
    services: Services,
    *,
    post_interval: float | None = None,
    lease_ttl: float = LEASE_TTL,
    check_alerts: bool = True,
) -> PollReport:
    """Run one poll cycle if this process can take the ``poller`` lease (see the module
    docstring); otherwise return a report with ``skipped`` set. Upstream errors
    (ConnectBooster, QuickBooks, Slack, Redis) propagate; nothing half-done is lost."""
    s = services
    report = PollReport(started_at=s.clock())
    lease = s.store.lease(LEASE_NAME, s.instance, ttl=lease_ttl)
    if not await lease.acquire():
        holder = await s.store.lease_holder(LEASE_NAME)
        report.skipped = f"another process ({holder or 'unknown'}) is polling"
        report.finished_at = s.clock()
        s.metrics.poll_cycles.labels("skipped").inc()
        return report
    lost = asyncio.Event()
    keeper = asyncio.create_task(_keep_lease(lease, lease_ttl, lost), name="poller-lease")
    cycle = _Cycle(s, report, Pacer(POST_INTERVAL if post_interval is None else post_interval),
                   lost)
    try:
        await cycle.run()
        if check_alerts:
            await cycle.alerts()
    except Exception:
        s.metrics.poll_cycles.labels("error").inc()
        raise
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
        try:
            await lease.release()
        except StoreError:
            log.warning("could not release the poller lease; it expires in %.0fs", lease_ttl)
    report.finished_at = s.clock()
    s.metrics.poll_cycles.labels("ok").inc()
    return report


async def recheck_now(services: Services) -> PollReport:
    """``/failed-payments recheck``: one cycle now (skipped if another process is polling)."""
    return await poll_once(services)


async def _keep_lease(lease: Any, ttl: float, lost: asyncio.Event) -> None:
    while True:
        await asyncio.sleep(ttl / 3)
        try:
            ok = await lease.extend(ttl)
        except StoreError:
            ok = False
        if not ok:
            log.warning("the poller lease could not be extended; this cycle stops posting")
            lost.set()
            return


@dataclass
class _Found:
    """A failure in this cycle's list, with its record when it has one."""

    payment: Payment
    record: FailureRecord | None


class _Cycle:
    def __init__(
        self, services: Services, report: PollReport, pacer: Pacer, lost: asyncio.Event
    ) -> None:
        self.s = services
        self.report = report
        self.pacer = pacer
        self.lost = lost
        self.t0 = time.monotonic()
        self.channel = services.settings.failed_payments_channel
        self.failure_rate: Decimal | None = None
        self.stats: Any = None

    # -- top level ---------------------------------------------------------------------------
    async def run(self) -> None:
        s = self.s
        now = s.clock()
        self.stats = await s.cb.sync_stats(now - timedelta(days=s.settings.alert_window_days))
        self.failure_rate = self.stats.failure_rate
        cursor = await s.store.get_cursor()
        since = cursor - OVERLAP if cursor is not None else None
        failed = [p async for p in s.cb.list_payments("failed", updated_since=since, limit=PAGE)]
        records = {r.payment_id: r for r in await s.store.get_failures([p.id for p in failed])}

        fresh: list[_Found] = []
        again: list[_Found] = []
        held: list[datetime] = []  # updated_at of payments skipped this cycle
        for p in failed:
            rec = records.get(p.id)
            if rec is None or rec.slack is None:
                fresh.append(_Found(p, rec))
            elif _failed_again(rec, p):
                if rec.status == FailureStatus.IN_PROGRESS:
                    held.append(p.updated_at)  # a remedy works on it: look again next cycle
                else:
                    again.append(_Found(p, rec))

        fresh.sort(key=lambda f: (f.payment.paid_at, f.payment.id))
        fresh = await self._resume_digest(fresh)
        if len(fresh) > s.settings.digest_after:
            await self._post_burst(fresh)
        elif fresh:
            await self._post_each(fresh)
        if again:
            held.extend(await self._update_again(again))
        await self._sweep(since, {p.id for p in failed})

        self.report.still_open = await s.store.open_ids()
        if failed:
            newest = max(p.updated_at for p in failed)
            if held:
                newest = min(newest, min(held))
            if cursor is None or newest > cursor:
                await s.store.set_cursor(newest)

    async def alerts(self) -> None:
        from bot.alerts import check_alerts

        try:
            self.report.alert = await check_alerts(self.s, stats=self.stats)
        except (CBError, QBOError, SlackApiError, SlackClientError, StoreError,
                aiohttp.ClientError, TimeoutError) as exc:
            self.report.alert_error = _reason(exc)
            log.warning("failure-rate alert check failed: %s", self.report.alert_error)

    # -- diagnosis ---------------------------------------------------------------------------
    async def _diagnose(self, payments: Sequence[Payment]) -> dict[str, Diagnosis]:
        if not payments:
            return {}
        return await diagnose_many(
            self.s.qbo, payments, failure_rate=self.failure_rate,
            threshold=self.s.settings.alert_threshold,
        )

    async def _prepare(self, found: Sequence[_Found]) -> list[FailureRecord]:
        """Records for new failures, diagnosed (reusing a stored diagnosis) and stored."""
        todo = [
            f.payment for f in found
            if f.record is None or f.record.diagnosis is None
            or f.record.payment.sync.attempts != f.payment.sync.attempts
        ]
        diagnoses = await self._diagnose(todo)
        out: list[FailureRecord] = []
        for f in found:
            rec = f.record or FailureRecord(
                payment_id=f.payment.id, payment=f.payment, first_seen_at=self.s.clock()
            )
            rec.payment = f.payment
            if f.payment.id in diagnoses:
                rec.diagnosis = diagnoses[f.payment.id]
            if rec.status == FailureStatus.RESOLVED:
                rec.status, rec.resolution = FailureStatus.OPEN, None
            if f.record is None:
                rec.note("Failed to sync; diagnosed by the poller")
            await self.s.store.put_failure(rec)
            out.append(rec)
        return out

    # -- posting -----------------------------------------------------------------------------
    def _check_lease(self) -> None:
        me = asyncio.current_task()
        if me is not None and me.cancelling():
            # a cancel swallowed by an inner wait_for (see run_poller): stop before posting
            raise asyncio.CancelledError
        if self.lost.is_set():
            raise LeaseLost("the poller lease expired during the cycle; another process polls")

    def _mark_first(self) -> None:
        if self.report.first_post_seconds is None:
            self.report.first_post_seconds = time.monotonic() - self.t0

    async def _publish(self, rec: FailureRecord, thread_ts: str | None) -> None:
        """Post one failure's message exactly once (claim, search after a crash, post) and
        store where it is."""
        s = self.s
        name = f"post:{rec.payment_id}"
        claim = json.dumps({
            "holder": s.instance, "nonce": secrets.token_hex(4), "channel": self.channel,
            "thread_ts": thread_ts, "at": s.clock().timestamp(),
        })
        ref: SlackRef | None = None
        if not await s.store.once(name, claim, ttl=CLAIM_TTL):
            prior = _load_claim(await s.store.once_value(name))
            ref = await self._find_posted(prior, EVENT_FAILURE, "payment_id", rec.payment_id)
            if ref is not None:
                log.info("found %s already posted (%s); adopting it", rec.payment.reference,
                         ref.ts)
                self.report.adopted.append(rec.payment_id)
            else:
                await s.store.set_once_value(name, claim, ttl=CLAIM_TTL)
        if ref is None:
            self._check_lease()
            await self.pacer.wait(self.channel)
            self._check_lease()
            try:
                ref = await post_failure(
                    s, rec, channel=self.channel, thread_ts=thread_ts,
                    metadata={"event_type": EVENT_FAILURE,
                              "event_payload": {"payment_id": rec.payment_id}},
                )
            except SlackApiError:
                # Slack answered "no": nothing was posted, so the claim can go.
                await s.store.clear_once(name, claim)
                raise
            self._mark_first()
            if thread_ts:
                self.report.thread_posts += 1
            else:
                self.report.top_level_posts += 1
        # store on the latest version of the record (a handler may have noted something)
        latest = await s.store.get_failure(rec.payment_id) or rec
        latest.slack = ref
        latest.note("Posted to Slack" + (" in the digest thread" if thread_ts else ""))
        await s.store.put_failure(latest)
        self.report.new.append(rec.payment_id)

    async def _find_posted(
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
                    channel=channel, ts=str(thread_ts), oldest=oldest, cursor=cursor,
                    include_all_metadata=True, limit=200,
                )
            else:
                resp = await self.s.slack.conversations_history(
                    channel=channel, oldest=oldest, cursor=cursor, include_all_metadata=True,
                    limit=200,
                )
            for msg in resp.get("messages") or []:
                meta = msg.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == event and str(payload.get(key)) == value:
                    permalink: str | None = None
                    try:
                        link = await self.s.slack.chat_getPermalink(
                            channel=channel, message_ts=str(msg["ts"])
                        )
                        permalink = link.get("permalink")
                    except SlackApiError:
                        permalink = None
                    return SlackRef(channel=channel, ts=str(msg["ts"]),
                                    thread_ts=str(thread_ts) if thread_ts else None,
                                    permalink=permalink)
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        return None

    async def _post_each(self, found: Sequence[_Found]) -> None:
        """A few new failures: diagnose them together, one top-level message each."""
        for rec in await self._prepare(found):
            await self._publish(rec, None)

    # -- bursts ------------------------------------------------------------------------------
    async def _resume_digest(self, fresh: list[_Found]) -> list[_Found]:
        """Finish a burst a crashed cycle left half-posted; return the failures left over."""
        s = self.s
        plan = await s.store.get_model(DigestPlan, "poll", "digest")
        if plan is None or plan.done:
            return fresh
        if plan.ts is None:
            ref = await self._find_posted(
                {"channel": plan.channel, "at": plan.claimed_at.timestamp()},
                EVENT_DIGEST, "plan_id", plan.plan_id,
            )
            if ref is None:  # the digest never reached Slack: the burst starts over
                plan.done = True
                await s.store.put_model(plan, "poll", "digest", ttl=86400)
                return fresh
            plan.ts = ref.ts
            await s.store.put_model(plan, "poll", "digest")
        in_plan = set(plan.payment_ids)
        mine = [f for f in fresh if f.payment.id in in_plan]
        rest = [f for f in fresh if f.payment.id not in in_plan]
        log.info("resuming digest %s: %d failures left to post in its thread", plan.ts,
                 len(mine))
        self.report.digest_ts = plan.ts
        await self._post_thread(plan, mine)
        return rest

    async def _post_burst(self, fresh: list[_Found]) -> None:
        """More than DIGEST_AFTER new failures: the digest first, then each failure's message
        in its thread, diagnosed in batches while earlier replies go out."""
        s = self.s
        now = s.clock()
        oldest = await self._prepare(fresh[:DIGEST_OLDEST])
        plan = DigestPlan(
            plan_id=secrets.token_hex(8), channel=self.channel, claimed_at=now,
            payment_ids=[f.payment.id for f in fresh],
            total_amount=sum((f.payment.amount for f in fresh), Decimal(0)),
        )
        await s.store.put_model(plan, "poll", "digest")
        text, blocks = digest_message(
            oldest, total_count=len(fresh), total_amount=plan.total_amount, counts_by_cause={},
            oldest=oldest, now=now,
        )
        self._check_lease()
        await self.pacer.wait(self.channel)
        resp = await s.slack.chat_postMessage(
            channel=self.channel, text=text, blocks=blocks, unfurl_links=False,
            unfurl_media=False,
            metadata={"event_type": EVENT_DIGEST, "event_payload": {"plan_id": plan.plan_id}},
        )
        self._mark_first()
        self.report.top_level_posts += 1
        plan.ts = str(resp["ts"])
        await s.store.put_model(plan, "poll", "digest")
        self.report.digest_ts = plan.ts
        # the first few are diagnosed already; pass them on with their records
        first = [_Found(r.payment, r) for r in oldest]
        await self._post_thread(plan, first + fresh[DIGEST_OLDEST:])

    async def _post_thread(self, plan: DigestPlan, found: Sequence[_Found]) -> None:
        """Diagnose in batches (producer) while posting replies in the digest's thread
        (consumer, paced); then redraw the digest with the counts by cause."""
        assert plan.ts is not None
        queue: asyncio.Queue[FailureRecord | None] = asyncio.Queue(maxsize=DIAGNOSE_BATCH * 2)

        async def produce() -> None:
            try:
                for i in range(0, len(found), DIAGNOSE_BATCH):
                    for rec in await self._prepare(found[i:i + DIAGNOSE_BATCH]):
                        await queue.put(rec)
            finally:
                await queue.put(None)  # the consumer stops even when diagnosis failed

        async def consume() -> None:
            while (rec := await queue.get()) is not None:
                await self._publish(rec, plan.ts)

        producer = asyncio.create_task(produce(), name="poller-diagnose")
        try:
            await consume()
        finally:
            if not producer.done():
                producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
        failure = None if producer.cancelled() else producer.exception()
        if failure is not None:
            raise failure
        await self._redraw_digest(plan)
        plan.done = True
        await self.s.store.put_model(plan, "poll", "digest", ttl=86400)

    async def _redraw_digest(self, plan: DigestPlan) -> None:
        """The digest with every failure diagnosed: counts by cause and linked oldest rows."""
        recs = await self.s.store.get_failures(plan.payment_ids)
        if not recs or plan.ts is None:
            return
        by_cause = Counter(r.cause for r in recs)
        oldest = sorted(recs, key=lambda r: (r.payment.paid_at, r.payment_id))[:DIGEST_OLDEST]
        text, blocks = digest_message(
            recs, total_count=len(plan.payment_ids), total_amount=plan.total_amount,
            counts_by_cause=by_cause, oldest=oldest, now=self.s.clock(),
        )
        try:
            await self.s.slack.chat_update(channel=plan.channel, ts=plan.ts, text=text,
                                           blocks=blocks)
        except SlackApiError as exc:  # the replies are posted; a stale digest is cosmetic
            log.warning("digest %s not redrawn: %s", plan.ts, exc.response.get("error"))

    # -- known failures ----------------------------------------------------------------------
    async def _update_again(self, again: Sequence[_Found]) -> list[datetime]:
        """Failed again after a remedy or resync: new diagnosis, same message. Returns the
        ``updated_at`` of payments left for next cycle (a remedy holds them)."""
        s = self.s
        diagnoses = await self._diagnose([f.payment for f in again])
        held: list[datetime] = []
        for f in again:
            async with s.store.holding(f"payment:{f.payment.id}", s.instance, ttl=30) as got:
                rec = await s.store.get_failure(f.payment.id) if got else None
                if rec is None or rec.status == FailureStatus.IN_PROGRESS:
                    held.append(f.payment.updated_at)
                    continue
                if not _failed_again(rec, f.payment):
                    continue
                rec.payment = f.payment
                rec.diagnosis = diagnoses.get(f.payment.id, rec.diagnosis)
                rec.status, rec.resolution = FailureStatus.OPEN, None
                at = f.payment.sync.last_attempt_at or f.payment.updated_at
                rec.note(f"Failed again on sync attempt {f.payment.sync.attempts}; "
                         "diagnosed again")
                await s.store.put_failure(rec)
                notice = (f"ConnectBooster's sync failed again at {at:%H:%M} UTC "
                          f"(attempt {f.payment.sync.attempts}); the diagnosis below is new.")
                await refresh_message(s, rec, notice=notice)
                self.report.updated.append(rec.payment_id)
        return held

    async def _sweep(self, since: datetime | None, failed_ids: set[str]) -> None:
        """Resolve open failures ConnectBooster synced, or the portal dismissed or deleted."""
        s = self.s
        open_ids = await s.store.open_ids(newest_first=False)
        if not open_ids:
            return
        open_set = set(open_ids) - failed_ids
        states: dict[str, Payment | None] = {}
        if since is not None:
            for status in (SyncStatus.SYNCED, SyncStatus.DISMISSED):
                async for p in s.cb.list_payments(status.value, updated_since=since, limit=PAGE):
                    if p.id in open_set:
                        states[p.id] = p
        # one by one, a rotating window: the only way to see a portal "Delete"
        cur = await s.store.get_model(SweepCursor, "poll", "sweep") or SweepCursor()
        candidates = [i for i in open_ids if i not in failed_ids and i not in states]
        if candidates:
            start = cur.offset % len(candidates)
            window = (candidates[start:] + candidates[:start])[:SWEEP_READS]
            sem = asyncio.Semaphore(8)

            async def read(pid: str) -> None:
                async with sem:
                    try:
                        states[pid] = await s.cb.get_payment(pid)
                    except NotFound:
                        states[pid] = None

            await asyncio.gather(*(read(pid) for pid in window))
            cur.offset = start + len(window)
            await s.store.put_model(cur, "poll", "sweep")
        for pid, state in states.items():
            how = _resolved_how(state)
            if how is not None:
                await self._resolve(pid, state, how)

    async def _resolve(self, pid: str, payment: Payment | None, how: str) -> None:
        s = self.s
        async with s.store.holding(f"payment:{pid}", s.instance, ttl=30) as got:
            if not got:
                return  # a remedy is working on it; it records the outcome itself
            rec = await s.store.get_failure(pid)
            if rec is None or rec.status in (FailureStatus.RESOLVED, FailureStatus.IN_PROGRESS):
                return
            by: str | None = None
            j = rec.remedy
            if (how == "synced" and rec.status == FailureStatus.WAITING_SYNC and j is not None
                    and j.kind == RemedyKind.UNAPPLY_CREDIT_MEMO and j.outcome == "ok"):
                how, by = "unapplied", j.user
            if payment is not None:
                rec.payment = payment
            rec.status = FailureStatus.RESOLVED
            rec.resolution = Resolution(how=how, by=by, at=s.clock(), detail=_detail(how))
            rec.note(f"Resolved outside Slack: {how}")
            await s.store.put_failure(rec)
            await refresh_message(s, rec)
            self.report.resolved.append(pid)


def _failed_again(rec: FailureRecord, p: Payment) -> bool:
    """The payment has a sync attempt newer than the one the record knows."""
    old = rec.payment.sync
    new = p.sync
    if new.status != SyncStatus.FAILED:
        return False
    if new.attempts > old.attempts:
        return True
    return bool(new.last_attempt_at and old.last_attempt_at
                and new.last_attempt_at > old.last_attempt_at)


def _resolved_how(p: Payment | None) -> str | None:
    if p is None:
        return "deleted"
    if p.sync.status == SyncStatus.SYNCED:
        return "synced"
    if p.sync.status == SyncStatus.DISMISSED:
        return "dismissed"
    return None


def _detail(how: str) -> str:
    return {
        "synced": "ConnectBooster's sync recorded the payment in QuickBooks.",
        "dismissed": "Syncing was dismissed in the ConnectBooster portal.",
        "deleted": "The payment was deleted from ConnectBooster's history in the portal.",
    }.get(how, "")


def _load_claim(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _reason(exc: BaseException) -> str:
    """Which service failed and why, in one line (never a secret: clients keep keys out)."""
    if isinstance(exc, CBError):
        return f"ConnectBooster: {exc}"
    if isinstance(exc, QBOError):
        return f"QuickBooks: {exc}"
    if isinstance(exc, SlackApiError):
        return f"Slack: {exc.response.get('error')}"
    if isinstance(exc, SlackClientError | aiohttp.ClientError):
        return f"Slack: {type(exc).__name__}: {exc}"
    if isinstance(exc, StoreError):
        return f"Redis: {exc}"
    if isinstance(exc, LeaseLost):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


# ---- the loop ------------------------------------------------------------------------------


def backoff_delay(failures: int, interval: float, rng: random.Random | None = None) -> float:
    """Seconds before retrying after ``failures`` failed cycles in a row: 10 s doubling,
    capped at the larger of the poll interval and 15 minutes, with jitter."""
    base = min(interval, 10.0)
    cap = max(interval, BACKOFF_CAP)
    step = min(cap, base * 2 ** max(0, failures - 1))
    return (rng or random).uniform(step * 0.75, step)


async def run_poller(
    services: Services,
    *,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    post_interval: float | None = None,
) -> None:
    """Poll every ``POLL_INTERVAL_SECONDS`` until cancelled. A failed cycle (ConnectBooster,
    QuickBooks, Slack or Redis down) is logged with the reason and retried with backoff; the
    loop never ends on an error, and the app keeps serving meanwhile."""
    interval = float(services.settings.poll_interval_seconds)
    failures = 0
    me = asyncio.current_task()
    while True:
        # A cancel that lands just as an inner ``wait_for`` completes can be swallowed
        # (Python 3.11, seen with redis-py): honour it here so shutdown never hangs.
        if me is not None and me.cancelling():
            raise asyncio.CancelledError
        try:
            report = await poll_once(services, post_interval=post_interval)
        except asyncio.CancelledError:
            raise
        except (CBError, QBOError, SlackApiError, SlackClientError, StoreError, LeaseLost,
                aiohttp.ClientError, TimeoutError) as exc:
            failures += 1
            delay = backoff_delay(failures, interval)
            log.warning("poll cycle failed (%s); retrying in %.0fs", _reason(exc), delay)
        except Exception:  # never let the poller die: log it and try again later
            failures += 1
            delay = backoff_delay(failures, interval)
            log.exception("poll cycle failed unexpectedly; retrying in %.0fs", delay)
        else:
            failures = 0
            delay = interval
            if report.skipped:
                log.debug("poll skipped: %s", report.skipped)
            elif report.new or report.updated or report.resolved:
                log.info("poll: %d new, %d failed again, %d resolved, %d open",
                         len(report.new), len(report.updated), len(report.resolved),
                         len(report.still_open))
        await sleep(delay)


__all__ = [
    "DigestPlan",
    "LeaseLost",
    "Pacer",
    "PollReport",
    "backoff_delay",
    "poll_once",
    "recheck_now",
    "run_poller",
]
