"""The poller: find new failed payments, post each once, keep every message current.

One cycle (:func:`poll_once`), run every ``POLL_INTERVAL_SECONDS`` by :func:`run_poller`.
Each step names the module that does it; a failure's path through them never comes back to
this one (cycle → intake → posting, or cycle → digest → intake → posting):

1. Take the ``poller`` lease (here). With several bot processes on one Redis only its holder
   polls; the lease expires ``LEASE_TTL`` seconds after its holder dies, and a live holder
   extends it while it works. A holder that loses its lease stops before its next Slack post.
   A holder stopped anywhere in the cycle (a cancel at any await) gives the lease back before
   it stops (``bot.store.coordination``: taking and giving back run to their end).
   Then the state marker is read: a Redis that lost the bot's state is noticed and recovered
   from Slack before anything is posted (``bot.poll.recovery``).
2. List the payments ConnectBooster marks ``failed`` and changed since the cursor kept in
   Redis, minus ``OVERLAP`` (a late update is not missed; reprocessing is idempotent) (here).
3. New failures (no record, or a record without a Slack message) are diagnosed in bulk and
   stored (``bot.poll.intake``, each record through ``bot.lifecycle.opened``), then posted to
   ``FAILED_PAYMENTS_CHANNEL`` one message each, exactly once across crashes and paced at
   about one a second, Slack's limit (``bot.poll.posting``). More than ``DIGEST_AFTER`` in one
   cycle: one digest message first, then each failure's message as a reply in its thread,
   diagnosed in batches while earlier replies go out (``bot.poll.digest``).
4. A known failure that failed again (a newer sync attempt) after a remedy or a resync gets
   its existing message redrawn with the new diagnosis; no second message
   (``bot.poll.failed_again``, diagnosed by ``bot.poll.intake``).
5. Open failures resolved outside Slack — synced by ConnectBooster's next run, dismissed or
   deleted in the portal — are marked resolved (``Resolution(how=..., by=None)``) and their
   message redrawn without buttons (``bot.poll.sweep``). Changes come from ConnectBooster's
   ``synced`` and ``dismissed`` lists since the cursor (bulk); deletions show as a 404 on a
   rotating window of ``SWEEP_READS`` open records read one by one each cycle (the contract
   has no deleted list).
6. The cursor moves to the newest ``updated_at`` handled (held back before a payment a remedy
   is working on), only once the cycle finished: a crash replays the cycle, never skips it
   (here).
   Snoozes that are due (their day came, ConnectBooster tried the payment again, or it was
   resolved) wake and their cards are redrawn (``bot.team.snooze.wake_due``).
7. Resolved failures and audit entries older than ``RETENTION_DAYS`` are deleted, a few
   batches a cycle (``bot.poll.retention``).
8. The failure-rate and "sync not running" alerts are checked (``bot.alerts.watch``).

Every change of a record's status in steps 3 to 5 is ``bot.lifecycle``'s. What the cycle did
is its ``PollReport`` (``bot.poll.report``).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import log_reason
from bot.models import FailureStatus
from bot.poll.digest import DigestPlan, DigestPoster
from bot.poll.failed_again import failed_again, update_again
from bot.poll.intake import Found, Intake
from bot.poll.posting import EVENT_DIGEST, POST_INTERVAL, LeaseLost, Pacer, Poster
from bot.poll.recovery import adopt_posted, check_state, finish_recovery
from bot.poll.report import PollReport
from bot.poll.retention import sweep_expired
from bot.poll.sweep import sweep_resolved
from bot.runtime.services import Services
from bot.store import Lease, StoreError
from bot.store.coordination import settle
from bot.team.schedule import run_schedule
from bot.team.snooze import wake_due
from cb.errors import CBError
from gateway.errors import GatewayError
from qb.errors import QBOError

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=10)
"""How far before the cursor each cycle reads again, so a late update is not missed."""
LEASE_NAME = "poller"
LEASE_TTL = 60.0
"""Seconds the poller lease outlives a holder that stopped extending it (died)."""
PAGE = 500
BACKOFF_CAP = 900.0
WAKE_RETRY = 5.0
"""Seconds before trying again when a cycle asked for now (``Services.wake_poller``) was
skipped because another process was polling: that cycle may have read ConnectBooster before
the news that woke this one."""


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
    if not await lease.acquire():  # a cancel in here gives a just-taken lease back
        holder = await s.store.lease_holder(LEASE_NAME)
        report.skipped = f"another process ({holder or 'unknown'}) is polling"
        report.finished_at = s.last_poll_ok_at = s.clock()
        s.metrics.poll_cycles.labels("skipped").inc()
        return report
    keeper: asyncio.Task[None] | None = None
    try:  # from here on, however the cycle ends (a cancel included), the lease goes back
        lost = asyncio.Event()
        keeper = asyncio.create_task(_keep_lease(lease, lease_ttl, lost), name="poller-lease")
        pacer = Pacer(POST_INTERVAL if post_interval is None else post_interval)
        cycle = _Cycle(s, report, pacer, lost)
        await cycle.run()
        if check_alerts:
            await cycle.alerts()
    except Exception:
        s.metrics.poll_cycles.labels("error").inc()
        raise
    finally:
        await _let_go(lease, keeper, lease_ttl)
    report.finished_at = s.last_poll_ok_at = s.clock()
    s.metrics.poll_cycles.labels("ok").inc()
    return report


async def _let_go(lease: Lease, keeper: asyncio.Task[None] | None, ttl: float) -> None:
    """Stop extending the lease and give it back, both to the end though a cancel arrives
    meanwhile (then the cancel is raised after): a stopped poller never keeps the lease."""
    interrupted = False
    if keeper is not None:
        keeper.cancel()
        interrupted = await settle(keeper)
    try:
        await lease.release()
    except asyncio.CancelledError:
        interrupted = True  # release() finished its work before raising it
    except StoreError:
        log.warning("could not release the poller lease; it expires in %.0fs", ttl)
    if interrupted:
        raise asyncio.CancelledError


async def recheck_now(services: Services) -> PollReport:
    """``/failed-payments recheck``: one cycle now (skipped if another process is polling)."""
    return await poll_once(services)


async def _keep_lease(lease: Lease, ttl: float, lost: asyncio.Event) -> None:
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


class _Cycle:
    """One poll cycle's work once the lease is held (steps 2 to 8 of the module docstring)."""

    def __init__(
        self, services: Services, report: PollReport, pacer: Pacer, lost: asyncio.Event
    ) -> None:
        self.s = services
        self.report = report
        self.poster = Poster(services, report, pacer, lost)
        self.stats: Any = None

    # -- top level ---------------------------------------------------------------------------
    async def run(self) -> None:
        s = self.s
        if s.cb is None:  # gateway mode: the gateway and QuickBooks are the source
            await self._run_gateway(refunds_only=False)
            return
        now = s.clock()
        self.stats = await s.cb.sync_stats(now - timedelta(days=s.settings.alert_window_days))
        intake = Intake(s, self.stats.failure_rate)
        digest = DigestPoster(self.poster, intake)
        state = await check_state(s)
        cursor = await s.store.get_cursor()
        # recovering from a lost state: read every failure again (a cursor written after the
        # loss, by a cycle that was running through it, would hide the failures lost with it)
        since = cursor - OVERLAP if cursor is not None and not state.recovering else None
        failed = [p async for p in s.cb.list_payments("failed", updated_since=since, limit=PAGE)]
        if s.gateway is not None:  # beside the contract: what only the gateway can show
            await self._run_gateway(refunds_only=True, state=state)
        records = {r.payment_id: r for r in await s.store.get_failures([p.id for p in failed])}

        fresh: list[Found] = []
        again: list[Found] = []
        held: list[datetime] = []  # updated_at of payments skipped this cycle
        for p in failed:
            rec = records.get(p.id)
            if rec is None or rec.slack is None:
                fresh.append(Found(p, rec))
            elif failed_again(rec, p):
                if rec.status == FailureStatus.IN_PROGRESS:
                    held.append(p.updated_at)  # a remedy works on it: look again next cycle
                else:
                    again.append(Found(p, rec))

        fresh.sort(key=lambda f: (f.payment.paid_at, f.payment.id))
        fresh = await adopt_posted(self.poster, intake, fresh, state)
        fresh = await digest.resume(fresh)
        if len(fresh) > s.settings.digest_after:
            await digest.post(fresh)
        elif fresh:
            await self._post_each(intake, fresh)
        if again:
            diagnoses = await intake.diagnose([f.payment for f in again])
            held.extend(await update_again(s, self.report, again, diagnoses))
        await sweep_resolved(s, self.report, since, {p.id for p in failed}, page=PAGE)
        await wake_due(s)

        self.report.still_open = await s.store.open_count()
        if failed:
            newest = max(p.updated_at for p in failed)
            if held:
                newest = min(newest, min(held))
            if cursor is None or newest > cursor:
                await s.store.set_cursor(newest)
        await finish_recovery(s, state, self.poster)
        await sweep_expired(s, self.report)

    async def _run_gateway(self, *, refunds_only: bool, state: Any = None) -> None:
        """The gateway step (``bot.poll.gateway``); alone, with the cycle's own ends."""
        from bot.poll.gateway import gateway_step

        s = self.s
        alone = state is None
        state = state if state is not None else await check_state(s)
        await gateway_step(
            s, self.report, self.poster, state, self._post_each, refunds_only=refunds_only
        )
        if alone:
            self.report.still_open = await s.store.open_count()
            await finish_recovery(s, state, self.poster)
            await sweep_expired(s, self.report)

    async def alerts(self) -> None:
        from bot.alerts.watch import check_alerts

        if self.s.cb is None:
            return  # the failure-rate alerts read ConnectBooster's sync counts

        try:
            self.report.alert = await check_alerts(self.s, stats=self.stats)
        except (
            CBError,
            QBOError,
            SlackApiError,
            SlackClientError,
            StoreError,
            aiohttp.ClientError,
            TimeoutError,
        ) as exc:
            self.report.alert_error = _reason(exc)
            log.warning("failure-rate alert check failed: %s", self.report.alert_error)

    # -- posting -----------------------------------------------------------------------------
    async def _post_each(self, intake: Intake, found: Sequence[Found]) -> None:
        """A few new failures: diagnose them together, one top-level message each."""
        for rec in await intake.records(found):
            await self.poster.publish(rec, None)


def _reason(exc: BaseException) -> str:
    """Which service failed and why, in one line (``bot.errors.log_reason``: never a secret,
    clients keep keys out of their errors)."""
    return log_reason(exc)


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
    woken = False  # the next cycle was asked for now
    me = asyncio.current_task()
    services.poller_started_at = services.clock()  # /readyz measures the first cycle from here
    while True:
        # A cancel that lands just as an inner ``wait_for`` completes can be swallowed
        # (Python 3.11, seen with redis-py): honour it here so shutdown never hangs.
        if me is not None and me.cancelling():
            raise asyncio.CancelledError
        retry_wake = False
        try:
            report = await poll_once(services, post_interval=post_interval)
            changed = bool(report.new or report.updated or report.resolved)
            await run_schedule(services, changed=changed)  # the team's timed messages, Home
        except asyncio.CancelledError:
            raise
        except (
            CBError,
            GatewayError,
            QBOError,
            SlackApiError,
            SlackClientError,
            StoreError,
            LeaseLost,
            aiohttp.ClientError,
            TimeoutError,
        ) as exc:
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
                # asked for now, but another process was polling (maybe since before the
                # news): try again soon rather than after the whole interval
                retry_wake = woken
                delay = min(delay, WAKE_RETRY) if retry_wake else delay
            elif report.new or report.updated or report.resolved:
                log.info(
                    "poll: %d new, %d failed again, %d resolved, %d open",
                    len(report.new),
                    len(report.updated),
                    len(report.resolved),
                    report.still_open,
                )
        woken = await _rest(services, sleep, delay) or retry_wake


async def _rest(services: Services, sleep: Callable[[float], Awaitable[Any]], delay: float) -> bool:
    """Sleep ``delay`` seconds between cycles, or less when someone asks for a cycle now
    (``Services.wake_poller``: a wake-up during a cycle runs one more right after it).
    Returns whether a wake-up cut the rest short."""
    wake = services.poll_now
    if not wake.is_set():
        sleeper = asyncio.ensure_future(sleep(delay))
        waiter = asyncio.ensure_future(wake.wait())
        try:
            done, _ = await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if sleeper in done:
                await sleeper  # an injected sleep's error is the loop's, as before
        finally:
            sleeper.cancel()
            waiter.cancel()
    if wake.is_set():
        wake.clear()
        log.info("poll cycle now: %s", services.poll_now_reason or "asked for")
        return True
    return False


__all__ = [
    "EVENT_DIGEST",
    "LEASE_NAME",
    "DigestPlan",
    "LeaseLost",
    "Pacer",
    "PollReport",
    "backoff_delay",
    "poll_once",
    "recheck_now",
    "run_poller",
]
