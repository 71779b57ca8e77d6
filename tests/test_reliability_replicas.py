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
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from bot.models import FailureStatus, RemedyKind
from bot.poll.cycle import LEASE_NAME, poll_once, run_poller
from bot.slack.ids import REMEDY_ACTIONS
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
    return [m for m in w.slack.all_messages(FAILED_CHANNEL)
            if m.metadata and m.metadata.get("event_type") == "failed_payment"]


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
            pid: n for pid, n in counts.items() if n != 1}
        digests = [m for m in w.slack.messages(FAILED_CHANNEL)
                   if m.metadata and m.metadata.get("event_type") == DIGEST_EVENT]
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


# ---- one button, two processes ------------------------------------------------------------


async def _click_in_both(w: World, rec: Any, kind: RemedyKind, users: tuple[str, str]) -> None:
    assert rec.slack is not None
    resps = await asyncio.gather(*(
        w.slack.click(bot.events_url, message_ts=rec.slack.ts, channel=rec.slack.channel,
                      action_id=REMEDY_ACTIONS[kind].value, user_id=user)
        for bot, user in zip(w.bots, users, strict=True)
    ))
    assert [r.status for r in resps] == [200, 200]


LOSER_PHRASES = ("already being handled by", "out of date", "Already resolved")
CLICKS: list[tuple[str, RemedyKind, tuple[str, str]]] = [
    ("recreated", RemedyKind.RECREATE_PAYMENT, (FINANCE_USER, FINANCE_USER_2)),
    ("recreated", RemedyKind.RECREATE_PAYMENT, (FINANCE_USER, FINANCE_USER)),
    ("paid-manually", RemedyKind.DISMISS_SYNC, (FINANCE_USER, FINANCE_USER_2)),
]


@pytest.mark.parametrize(("cause", "kind", "users"), CLICKS,
                         ids=["recreate-two-users", "recreate-double-click", "dismiss-two-users"])
async def test_one_button_clicked_in_two_processes_runs_one_remedy(
    redis_url: str, redis_prefix: str, cause: str, kind: RemedyKind, users: tuple[str, str]
) -> None:
    async with world(redis_url, redis_prefix, "all-causes", bots=2) as w:
        rec = (await seed(w, [cause]))[cause]
        qbo_before = len(w.company.all("Payment"))
        await _click_in_both(w, rec, kind, users)
        done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
        # the losing click is answered too (ephemeral), whichever process took it
        await w.slack.wait_until(lambda: any(
            any(phrase in e.text for phrase in LOSER_PHRASES)
            for u in set(users) for e in w.slack.ephemeral(u)))

        assert done.remedy_attempts == 1
        assert done.remedy is not None and done.remedy.kind == kind
        oks = [a for a in await w.services.store.audit_entries(50)
               if a.action == kind.value and a.result == "ok"]
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
        assert len([a for a in await w.services.store.audit_entries(50)
                    if a.action == kind.value and a.result == "ok"]) == 1


async def _no_work_left(w: World) -> bool:
    return all(not bot.services._inflight for bot in w.bots)
