"""Replicas: several bot processes on one Redis (issue 10).

- Two bots run the poller in the background while a 200-failure burst is posted, and the
  poller is restarted again and again mid-burst: the process holding the ``poller`` lease is
  stopped (its cycle cancelled wherever it is, Slack post in flight included) and a new
  process started. Every failure ends up posted exactly once (counted by message
  ``metadata`` across the channel and the digest thread), stored with its Slack message, in
  one digest thread; nothing is lost and a later poll posts nothing again.
- One button clicked in two processes at once (the Slack stand-in sends the same click to
  each bot's ``/slack/events``): exactly one remedy runs.

Restarts are driven by progress (after every few dozen posts), not by the wall clock, so each
one lands mid-burst however fast the machine is; every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import contextvars
import types
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from bot.models import FailureStatus, RemedyKind
from bot.poll.cycle import LEASE_NAME, poll_once, run_poller
from bot.slack.ids import REMEDY_ACTIONS
from qb.limits import Limits
from qb.shared_limits import RedisLimits, limits_key
from sandbox.scenarios import generate
from tests.harness import (
    FAILED_CHANNEL,
    FINANCE_USER,
    FINANCE_USER_2,
    Bot,
    World,
    world,
)
from tests.test_poller import posted_ids
from tests.test_remedies_e2e import eventually, qbo_payments, seed, until_status
from tests.test_secrets_guard import no_secrets_in_logs  # noqa: F401 (the autouse scan)

POST_INTERVAL = 0.01
"""The pollers' pace between two posts (seconds): Slack's 1/s scaled up for the test."""
POLL_EVERY = 0.05
"""The pollers' interval between cycles, scaled down from POLL_INTERVAL_SECONDS."""
DIGEST_EVENT = "failed_payment_digest"
"""The digest message's metadata ``event_type`` (a wire contract with Slack history)."""
REPLICA_SETTINGS: dict[str, Any] = {"alert_min_payments": 100_000}  # no rate alert: not tested
BATCH_CALLS_PER_MINUTE, REQUESTS_PER_MINUTE = 4000, 50_000
"""QuickBooks' 40 batch calls and 500 requests a minute, scaled up with the pollers' pace:
each of the burst's 25 restarts diagnoses its next failures again and reads the company's
settings afresh, which at the real limits waits minutes."""


def scale_qbo_batch_limit(services: Any) -> None:
    """Give the bot's QuickBooks client the scaled batch limit, in process and shared."""
    s = services.settings
    old = services.qbo.limits
    services.qbo.limits = Limits(
        max_in_flight=s.qbo_max_in_flight,
        per_window=REQUESTS_PER_MINUTE,
        batch_per_window=BATCH_CALLS_PER_MINUTE,
        window_seconds=60.0,
        stats=old.stats,
        shared=RedisLimits(
            services.redis,
            limits_key(s.redis_prefix, s.qbo_realm_id),
            max_in_flight=s.qbo_max_in_flight,
            per_window=REQUESTS_PER_MINUTE,
            batch_per_window=BATCH_CALLS_PER_MINUTE,
        ),
    )


async def _short_sleep(seconds: float) -> None:
    """run_poller's wait between cycles, scaled down (the poller's interval, not a test wait)."""
    await asyncio.sleep(min(seconds, POLL_EVERY))


class Replicas:
    """Bot processes running the poller in the background, started and stopped at will."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.started = 0
        self.stopped: list[str] = []

    async def start(self) -> Bot:
        self.started += 1
        bot = await self.w.start_bot(**REPLICA_SETTINGS)
        scale_qbo_batch_limit(bot.services)
        # the harness names bots by position; a restarted one must not share a name
        bot.services.instance = f"replica{self.started}"
        bot.services.start_background(
            run_poller(bot.services, sleep=_short_sleep, post_interval=POST_INTERVAL),
            name="poller",
        )
        return bot

    async def restart_holder(self) -> str:
        """Stop the process holding the poller lease (the oldest when none does), start a
        new one; returns the stopped process's name."""
        holder = await self.w.bots[0].services.store.lease_holder(LEASE_NAME)
        victim = next((b for b in self.w.bots if b.services.instance == holder), self.w.bots[0])
        name = victim.services.instance
        await self.w.stop_bot(victim)  # cancels its poller mid-cycle
        self.stopped.append(name)
        await self.expire_lease_of_stopped()
        await self.start()
        return name

    async def expire_lease_of_stopped(self) -> None:
        """A stopped process must not keep the poller lease: a stop that lands inside
        ``Lease.acquire`` (Redis took the SET, the reply was never read) gives it back."""
        store = self.w.bots[0].services.store if self.w.bots else None
        if store is None:
            return
        holder = await store.lease_holder(LEASE_NAME)
        assert holder not in self.stopped, f"stopped process {holder} still holds the lease"


def failure_messages(w: World) -> list[Any]:
    return [
        m
        for m in w.slack.all_messages(FAILED_CHANNEL)
        if m.metadata and m.metadata.get("event_type") == "failed_payment"
    ]


async def _burst_with_restarts(
    redis_url: str, redis_prefix: str, *, failures: int, restart_every: int
) -> None:
    async with world(redis_url, redis_prefix, None, bots=0) as w:
        scenario = generate(failures, w.qbo, w.cb, failure_share=1.0, days=6)
        expected = scenario.failed_ids
        assert len(expected) == failures
        # Slack's per-channel pace, scaled up with the pollers' (about 100/s): still enforced
        w.slack.channel_rate_per_second, w.slack.burst = 1000.0, 50
        replicas = Replicas(w)
        await replicas.start()
        await replicas.start()

        progress = restart_every
        restarts: list[tuple[int, str]] = []

        def posted_at_least(n: int) -> Callable[[], bool]:
            return lambda: len(posted_ids(w)) >= n

        while progress < failures:
            await w.slack.wait_until(posted_at_least(progress), within=60)
            posted_then = len(posted_ids(w))
            if posted_then >= failures:
                break
            restarts.append((posted_then, await replicas.restart_holder()))
            progress = posted_then + restart_every
        await w.slack.wait_until(posted_at_least(failures), within=60)

        store = w.services.store

        async def all_stored() -> bool:
            recs = await store.get_failures(sorted(expected))
            return len(recs) == failures and all(r.slack is not None for r in recs)

        await eventually(all_stored, within=30)
        assert len(restarts) >= 3, f"too few restarts landed mid-burst: {restarts}"
        assert any(name.startswith("replica") for _, name in restarts)

        # each failure exactly once, in the channel and the digest's thread together
        counts = Counter(posted_ids(w))
        assert counts == Counter(dict.fromkeys(expected, 1)), {
            pid: n for pid, n in counts.items() if n != 1
        }
        digests = [
            m
            for m in w.slack.messages(FAILED_CHANNEL)
            if m.metadata and m.metadata.get("event_type") == DIGEST_EVENT
        ]
        assert len(digests) == 1 and len(w.slack.messages(FAILED_CHANNEL)) == 1
        assert {m.thread_ts for m in failure_messages(w)} == {digests[0].ts}
        assert w.slack.rate_limited_count() == 0
        # a stopped holder left a claimed but unrecorded post; its successor searched the
        # digest thread for it before posting (and adopted it when Slack had accepted it)
        assert w.slack.calls_to("conversations.replies")

        # nothing lost: each record points at the one message carrying its payment id
        by_ts = {m.ts: m.metadata["event_payload"]["payment_id"] for m in failure_messages(w)}
        for rec in await store.get_failures(sorted(expected)):
            assert rec.slack is not None and rec.diagnosis is not None
            assert by_ts[rec.slack.ts] == rec.payment_id
            assert rec.status == FailureStatus.OPEN

        # the survivors stop; a fresh process finds nothing left to post
        for bot in list(w.bots):
            replicas.stopped.append(bot.services.instance)
            await w.stop_bot(bot)
        last = await w.start_bot(**REPLICA_SETTINGS)
        await replicas.expire_lease_of_stopped()
        report = await poll_once(last.services, post_interval=0)
        assert report.skipped is None and report.new == [] and report.adopted == []
        assert len(posted_ids(w)) == failures


async def test_a_200_failure_burst_with_poller_restarts_posts_each_once(
    redis_url: str, redis_prefix: str
) -> None:
    await asyncio.wait_for(
        _burst_with_restarts(redis_url, redis_prefix, failures=200, restart_every=35),
        timeout=120,
    )


@pytest.mark.slow
async def test_a_1000_failure_burst_with_frequent_poller_restarts(
    redis_url: str, redis_prefix: str
) -> None:
    await asyncio.wait_for(
        _burst_with_restarts(redis_url, redis_prefix, failures=1000, restart_every=40),
        timeout=600,
    )


# ---- a stop at every await point of a cycle -----------------------------------------------

IN_POLLER: contextvars.ContextVar[bool] = contextvars.ContextVar("in_poller", default=False)
"""Set in the poller's task; the tasks it starts (lease calls, the keeper) inherit it."""
MODES = ("await-point", "answer-unread")


@types.coroutine
def _drive(coro: Any, on_suspend: Callable[[], None]) -> Any:
    """Run ``coro`` as its task would, calling ``on_suspend`` each time it suspends (before
    the task waits): a cancel from there lands on exactly that await, whatever it awaits."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            future = coro.throw(error) if error is not None else coro.send(value)
        except StopIteration as done:
            return done.value
        on_suspend()
        try:
            value, error = (yield future), None
        except BaseException as exc:  # handed on to the coroutine, as a task does
            value, error = None, exc


class CancelAt:
    """Stops the poller's task in one of two ways: ``await-point`` — a cancel at its
    ``k``-th suspension (every await of the cycle: Redis, Slack and ConnectBooster calls, the
    lease keeper, the ``finally``); ``answer-unread`` — at its ``k``-th Redis command (counted
    in the poller's task and the tasks it starts), once Redis applied it and before its
    caller reads the answer (the ``SET NX`` of a lease taken as its taker stops)."""

    def __init__(self, redis: Any) -> None:
        self.real = redis.execute_command
        redis.execute_command = self.execute
        self.k, self.mode = 0, MODES[0]
        self.commands = self.suspensions = 0
        self.task: asyncio.Task[Any] | None = None
        self.fired = False

    async def execute(self, *args: Any, **kw: Any) -> Any:
        if not IN_POLLER.get() or self.task is None:
            return await self.real(*args, **kw)
        self.commands += 1
        result = await self.real(*args, **kw)
        if self.mode == "answer-unread" and self.commands == self.k:
            self.cancel()
            await asyncio.sleep(0)  # the cancel lands here, inside the Redis call
        return result

    def suspended(self) -> None:
        self.suspensions += 1
        if self.mode == "await-point" and self.suspensions == self.k:
            self.cancel()

    def cancel(self) -> None:
        if self.task is not None:
            self.fired = True
            self.task.cancel()

    async def run(self, services: Any, k: int, mode: str) -> bool:
        """One poll cycle stopped at point ``k`` (0: never); True when the cancel landed.
        Counts the cycle's suspensions and Redis commands as it goes."""
        self.k, self.mode, self.fired = k, mode, False
        self.commands = self.suspensions = 0

        async def cycle() -> Any:
            IN_POLLER.set(True)
            return await _drive(poll_once(services, post_interval=0), self.suspended)

        self.task = asyncio.create_task(cycle())
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        finally:
            self.task = None
        return self.fired


async def no_lease_held(w: World) -> None:
    """Nobody holds the poller lease, nor any other (payment, alert) lease."""
    store = w.services.store
    assert await store.lease_holder(LEASE_NAME) is None
    held = [k async for k in store.redis.scan_iter(match=store.key("lease", "*"))]
    assert held == []


async def test_a_stop_at_any_await_point_never_leaves_a_lease_held(
    redis_url: str, redis_prefix: str
) -> None:
    """The poller cancelled at each await of a cycle, and with the answer to each of its
    Redis commands unread, gives every lease back before it stops; cycles stopped at every
    point of a burst still post each failure exactly once."""
    async with world(
        redis_url, redis_prefix, "all-causes", bot_overrides={**REPLICA_SETTINGS, "digest_after": 3}
    ) as w:
        w.slack.rate_limit_enabled = False
        assert w.scenario is not None
        expected = w.scenario.failed_ids
        hook = CancelAt(w.services.redis)
        # a burst, stopped again and again further in, until a cycle runs to its end
        k = 0
        while True:
            k += 1
            if not await hook.run(w.services, k, MODES[k % len(MODES)]):
                break
            await no_lease_held(w)
            assert k < 5000, "the cycle never finished"
        # a burst cycle has a dozen await points or more (fewer since a save is one Redis
        # round trip: the record and every index in one script)
        assert k > 10
        assert Counter(posted_ids(w)) == Counter(dict.fromkeys(expected, 1))
        # a steady cycle (nothing new), stopped at each of its awaits, and with the answer to
        # each of its Redis commands unread
        await hook.run(w.services, 0, MODES[0])
        points, commands = hook.suspensions, hook.commands
        assert commands >= 5 and points > commands
        for mode, last in (("await-point", points), ("answer-unread", commands)):
            landed = 0
            for k in range(1, last + 1):
                landed += await hook.run(w.services, k, mode)
                await no_lease_held(w)
            # a cycle's awaits vary a little from one cycle to the next (a step due by the
            # clock, a Redis answer ready at once): a few of the last points may not recur
            assert landed >= 0.9 * last, (mode, landed, last)
        report = await poll_once(w.services, post_interval=0)
        assert report.skipped is None and report.new == []
        assert Counter(posted_ids(w)) == Counter(dict.fromkeys(expected, 1))


# ---- one button, two processes ------------------------------------------------------------


async def _click_in_both(w: World, rec: Any, kind: RemedyKind, users: tuple[str, str]) -> None:
    assert rec.slack is not None
    resps = await asyncio.gather(
        *(
            w.slack.click(
                bot.events_url,
                message_ts=rec.slack.ts,
                channel=rec.slack.channel,
                action_id=REMEDY_ACTIONS[kind].value,
                user_id=user,
            )
            for bot, user in zip(w.bots, users, strict=True)
        )
    )
    assert [r.status for r in resps] == [200, 200]


LOSER_PHRASES = ("already being handled by", "out of date", "Already resolved")
CLICKS: list[tuple[str, RemedyKind, tuple[str, str]]] = [
    ("recreated", RemedyKind.RECREATE_PAYMENT, (FINANCE_USER, FINANCE_USER_2)),
    ("recreated", RemedyKind.RECREATE_PAYMENT, (FINANCE_USER, FINANCE_USER)),
    ("paid-manually", RemedyKind.DISMISS_SYNC, (FINANCE_USER, FINANCE_USER_2)),
]


@pytest.mark.parametrize(
    ("cause", "kind", "users"),
    CLICKS,
    ids=["recreate-two-users", "recreate-double-click", "dismiss-two-users"],
)
async def test_one_button_clicked_in_two_processes_runs_one_remedy(
    redis_url: str, redis_prefix: str, cause: str, kind: RemedyKind, users: tuple[str, str]
) -> None:
    async with world(redis_url, redis_prefix, "all-causes", bots=2) as w:
        rec = (await seed(w, [cause]))[cause]
        qbo_before = len(w.company.all("Payment"))
        await _click_in_both(w, rec, kind, users)
        done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
        # the losing click is answered too (ephemeral), whichever process took it
        await w.slack.wait_until(
            lambda: any(
                any(phrase in e.text for phrase in LOSER_PHRASES)
                for u in set(users)
                for e in w.slack.ephemeral(u)
            )
        )

        assert done.remedy_attempts == 1
        assert done.remedy is not None and done.remedy.kind == kind
        oks = [
            a
            for a in await w.services.store.audit_entries(50)
            if a.action == kind.value and a.result == "ok"
        ]
        assert len(oks) == 1
        if kind == RemedyKind.RECREATE_PAYMENT:
            assert len(qbo_payments(w, rec.payment.reference)) == 1
            assert len(w.company.all("Payment")) == qbo_before + 1
        else:
            assert len(w.company.all("Payment")) == qbo_before
        assert w.cb.payments[rec.payment_id].sync.status.value == "dismissed"
        # and nothing more happens afterwards (a late duplicate would show here)
        await eventually(lambda: _no_work_left(w), within=10)
        after = await w.services.store.get_failure(rec.payment_id)
        assert after is not None and after.remedy_attempts == 1
        assert (
            len(
                [
                    a
                    for a in await w.services.store.audit_entries(50)
                    if a.action == kind.value and a.result == "ok"
                ]
            )
            == 1
        )


async def _no_work_left(w: World) -> bool:
    return all(not bot.services._inflight for bot in w.bots)
