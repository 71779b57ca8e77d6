"""The poller end to end: the QBO, ConnectBooster and Slack stand-ins over loopback HTTP,
the real clients, a real Redis (tests/harness.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from bot.models import Cause, FailureStatus, RemedyJournal, RemedyKind
from bot.poll.cycle import LEASE_NAME, poll_once, run_poller
from bot.store import Store
from cb.models import SyncStatus
from qb.models import Payment as QBPayment
from tests.harness import FAILED_CHANNEL, World, world

FAST: dict[str, Any] = {"post_interval": 0}


def posted_ids(w: World, *, thread_ts: str | None = None) -> list[str]:
    """Payment ids of every failure message in the channel (or in one thread)."""
    msgs = (
        w.slack.thread(FAILED_CHANNEL, thread_ts)
        if thread_ts
        else w.slack.all_messages(FAILED_CHANNEL)
    )
    return [
        m.metadata["event_payload"]["payment_id"]
        for m in msgs
        if m.metadata and m.metadata.get("event_type") == "failed_payment"
    ]


def has_buttons(blocks: list[dict[str, Any]]) -> bool:
    return any(b.get("type") == "actions" for b in blocks)


def crash_after_posts(store: Store, n: int) -> None:
    """Make the process "die" right after Slack accepted its ``n``-th message, before the
    record saying so is stored (the window exactly-once must survive)."""
    real = store.put_failure
    seen = {"posted": 0}

    async def put_failure(rec: Any) -> None:
        if rec.slack is not None and rec.history and rec.history[-1].what.startswith("Posted"):
            seen["posted"] += 1
            if seen["posted"] >= n:
                raise RuntimeError("process killed")
        await real(rec)

    store.put_failure = put_failure  # type: ignore[method-assign]


# ---- exactly once ---------------------------------------------------------------------------


async def test_two_pollers_at_once_post_each_failure_once(redis_url: str, redis_prefix: str):
    async with world(redis_url, redis_prefix, "all-causes", bots=2) as w:
        w.slack.rate_limit_enabled = False  # pacing has its own test
        expected = w.scenario.failed_ids
        a, b = await asyncio.gather(
            poll_once(w.bots[0].services, **FAST), poll_once(w.bots[1].services, **FAST)
        )
        assert sorted([a.skipped is None, b.skipped is None]) == [False, True]
        ran = a if a.skipped is None else b
        assert set(ran.new) == expected
        assert Counter(posted_ids(w)) == Counter(dict.fromkeys(expected, 1))

        again = await asyncio.gather(*(poll_once(bot.services, **FAST) for bot in w.bots))
        assert all(not r.new for r in again)
        assert len(posted_ids(w)) == len(expected)
        for pid in expected:
            rec = await w.services.store.get_failure(pid)
            assert rec is not None and rec.slack is not None and rec.diagnosis is not None
        assert w.services.metrics.poll_cycles.labels("ok")._value.get() >= 1


async def test_crash_between_slack_and_store_posts_nothing_twice(redis_url: str, redis_prefix: str):
    async with world(redis_url, redis_prefix, "all-causes", bots=2) as w:
        w.slack.rate_limit_enabled = False
        expected = w.scenario.failed_ids
        first, second = w.bots
        crash_after_posts(first.services.store, 3)
        with pytest.raises(RuntimeError, match="killed"):
            await poll_once(first.services, **FAST)
        assert len(posted_ids(w)) == 3  # three accepted by Slack; the third never recorded

        report = await poll_once(second.services, **FAST)  # another process carries on
        assert len(report.adopted) == 1  # found in the channel by its metadata, not reposted
        assert Counter(posted_ids(w)) == Counter(dict.fromkeys(expected, 1))
        for pid in expected:
            rec = await second.services.store.get_failure(pid)
            assert rec is not None and rec.slack is not None
        assert not (await poll_once(second.services, **FAST)).new


async def test_lease_passes_on_when_its_holder_dies(redis_url: str, redis_prefix: str):
    async with world(redis_url, redis_prefix, "credit-memo") as w:
        store = w.services.store
        dead = store.lease(LEASE_NAME, "crashed-bot", ttl=0.4)
        assert await dead.acquire()  # and never released nor extended
        skipped = await poll_once(w.services, **FAST)
        assert skipped.skipped and "crashed-bot" in skipped.skipped
        assert posted_ids(w) == []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while await store.lease_holder(LEASE_NAME) is not None:
            assert loop.time() < deadline, "the lease never expired"
            await asyncio.sleep(0.05)
        report = await poll_once(w.services, **FAST)
        assert report.skipped is None and report.new == list(w.scenario.failed_ids)


async def test_run_poller_backs_off_on_an_outage_and_recovers(redis_url: str, redis_prefix: str):
    async with world(redis_url, redis_prefix, "credit-memo") as w:
        w.cb.inject(401)  # ConnectBooster refuses the first request of the first cycle
        delays: list[float] = []

        async def sleep(seconds: float) -> None:
            delays.append(seconds)
            await asyncio.sleep(0.01)  # stands in for the delay, without waiting it out

        metrics = w.services.metrics.poll_cycles
        task = asyncio.create_task(run_poller(w.services, sleep=sleep, post_interval=0))
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while metrics.labels("ok")._value.get() < 1:
                assert loop.time() < deadline and not task.done(), "the poller did not recover"
                await asyncio.sleep(0.02)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert metrics.labels("error")._value.get() == 1
        assert len(posted_ids(w)) == 1
        assert delays and delays[0] <= 10  # a short first backoff, then the normal interval


# ---- keeping messages current ----------------------------------------------------------------


async def _credit_memo_failure(w: World) -> tuple[str, Any]:
    report = await poll_once(w.services, **FAST)
    (pid,) = report.new
    rec = await w.services.store.get_failure(pid)
    assert rec is not None and rec.diagnosis is not None
    assert rec.diagnosis.cause == Cause.CREDIT_MEMO
    return pid, rec


async def test_resolved_when_synced_after_the_credit_memo_is_unapplied(
    redis_url: str, redis_prefix: str
):
    async with world(redis_url, redis_prefix, "credit-memo") as w:
        pid, rec = await _credit_memo_failure(w)
        zero_id = next(
            f.credit_memo_payment_id for f in rec.diagnosis.findings if f.credit_memo_payment_id
        )
        qbo = w.services.qbo
        zero = await qbo.get(QBPayment, zero_id)
        await qbo.delete_payment(zero_id, zero.sync_token or "0", request_id=f"t-{zero_id}")
        run = await w.cb.sync_run()
        assert pid in run.synced

        report = await poll_once(w.services, **FAST)
        assert report.resolved == [pid] and report.still_open == 0
        after = await w.services.store.get_failure(pid)
        assert after is not None and after.status == FailureStatus.RESOLVED
        assert after.resolution is not None
        assert (after.resolution.how, after.resolution.by) == ("synced", None)
        msg = w.slack.message(FAILED_CHANNEL, rec.slack.ts)
        assert msg is not None and msg.versions  # updated in place
        assert not has_buttons(msg.blocks)
        assert "Synced to QuickBooks" in str(msg.blocks)
        assert len(w.slack.messages(FAILED_CHANNEL)) == 1


async def test_failing_again_after_a_remedy_updates_the_same_message(
    redis_url: str, redis_prefix: str
):
    async with world(redis_url, redis_prefix, "credit-memo") as w:
        pid, rec = await _credit_memo_failure(w)
        # a remedy ran (say, a Resync) and the record waits for the sync
        rec.status = FailureStatus.WAITING_SYNC
        rec.remedy = RemedyJournal(kind=RemedyKind.RECHECK, user="U0FINANCE1", outcome="ok")
        await w.services.store.put_failure(rec)
        w.cb.resync(pid)
        run = await w.cb.sync_run()
        assert pid in run.failed  # the credit memo is still applied

        report = await poll_once(w.services, **FAST)
        assert report.updated == [pid] and report.new == []
        after = await w.services.store.get_failure(pid)
        assert after is not None and after.status == FailureStatus.OPEN
        assert after.payment.sync.attempts == rec.payment.sync.attempts + 1
        assert after.diagnosis is not None and after.diagnosis.diagnosed_at > (
            rec.diagnosis.diagnosed_at
        )
        assert len(w.slack.messages(FAILED_CHANNEL)) == 1
        msg = w.slack.message(FAILED_CHANNEL, rec.slack.ts)
        assert msg is not None and msg.versions and "failed again" in str(msg.blocks)
        assert has_buttons(msg.blocks)
        assert not (await poll_once(w.services, **FAST)).updated  # nothing new: no redraw


async def test_dismissed_or_deleted_in_the_portal_resolves_the_message(
    redis_url: str, redis_prefix: str
):
    async with world(redis_url, redis_prefix, "all-causes") as w:
        w.slack.rate_limit_enabled = False
        await poll_once(w.services, **FAST)
        gone, dismissed, *_ = sorted(w.scenario.failed_ids)
        w.cb.delete_history(gone)
        w.cb.dismiss(dismissed)
        report = await poll_once(w.services, **FAST)
        assert sorted(report.resolved) == sorted([gone, dismissed])
        for pid, how in ((gone, "deleted"), (dismissed, "dismissed")):
            rec = await w.services.store.get_failure(pid)
            assert rec is not None and rec.resolution is not None and rec.slack is not None
            assert (rec.status, rec.resolution.how, rec.resolution.by) == (
                FailureStatus.RESOLVED,
                how,
                None,
            )
            msg = w.slack.message(FAILED_CHANNEL, rec.slack.ts)
            assert msg is not None and not has_buttons(msg.blocks)
        assert report.still_open == len(w.scenario.failed_ids) - 2


# ---- bursts -----------------------------------------------------------------------------------


async def test_a_burst_gets_one_digest_and_replies_in_its_thread_paced(
    redis_url: str, redis_prefix: str
):
    async with world(redis_url, redis_prefix, "all-causes", bot_overrides={"digest_after": 3}) as w:
        expected = w.scenario.failed_ids
        # Slack's pace, scaled up: 8/s with a burst of 1; the poller posts at 5/s
        w.slack.channel_rate_per_second, w.slack.burst = 8.0, 1
        report = await poll_once(w.services, post_interval=0.2)
        top = w.slack.messages(FAILED_CHANNEL)
        assert len(top) == 1 and report.top_level_posts == 1
        digest = top[0]
        assert report.digest_ts == digest.ts
        assert Counter(posted_ids(w, thread_ts=digest.ts)) == Counter(dict.fromkeys(expected, 1))
        assert w.slack.rate_limited_count() == 0
        assert report.first_post_seconds is not None and report.first_post_seconds < 5
        # redrawn with the counts by cause once all were diagnosed
        assert digest.versions
        assert f"{len(expected)} new failed payments" in str(digest.blocks)
        assert Cause.CREDIT_MEMO.label in str(digest.blocks)
        for pid in expected:
            rec = await w.services.store.get_failure(pid)
            assert rec is not None and rec.slack is not None
            assert rec.slack.thread_ts == digest.ts


async def test_a_restart_mid_burst_finishes_the_same_digest_thread(
    redis_url: str, redis_prefix: str
):
    async with world(
        redis_url, redis_prefix, "all-causes", bots=2, bot_overrides={"digest_after": 3}
    ) as w:
        w.slack.rate_limit_enabled = False
        expected = w.scenario.failed_ids
        crash_after_posts(w.bots[0].services.store, 4)
        with pytest.raises(RuntimeError, match="killed"):
            await poll_once(w.bots[0].services, **FAST)
        (digest,) = w.slack.messages(FAILED_CHANNEL)
        assert len(posted_ids(w, thread_ts=digest.ts)) == 4

        report = await poll_once(w.bots[1].services, **FAST)
        assert report.digest_ts == digest.ts and len(report.adopted) == 1
        assert len(w.slack.messages(FAILED_CHANNEL)) == 1  # no second digest
        assert Counter(posted_ids(w, thread_ts=digest.ts)) == Counter(dict.fromkeys(expected, 1))


async def test_cursor_overlap_rereads_without_reposting(redis_url: str, redis_prefix: str):
    async with world(redis_url, redis_prefix, "credit-memo") as w:
        await poll_once(w.services, **FAST)
        cursor = await w.services.store.get_cursor()
        assert cursor is not None
        (pid,) = w.scenario.failed_ids
        assert cursor == w.cb.payments[pid].updated_at
        # a payment that failed earlier but shows up late (its update within the overlap)
        late = w.cb.payments[pid].model_copy(
            update={
                "id": "pmt_late",
                "reference": "CB99999",
                "updated_at": cursor - timedelta(minutes=5),
            }
        )
        w.cb.add_payment(late)
        report = await poll_once(w.services, **FAST)
        assert report.new == ["pmt_late"]
        assert w.cb.payments["pmt_late"].sync.status == SyncStatus.FAILED
        assert sorted(posted_ids(w)) == sorted([pid, "pmt_late"])
