"""Retention: resolved failures, their index entries and old audit entries are deleted after
``RETENTION_DAYS`` (by the services' clock), open failures never; each deletion is safe against
a record changing meanwhile. A real Redis and the stand-ins (tests/harness.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from bot.models import AuditEntry, Cause, FailureStatus, RemedyKind, Resolution, ResolutionHow
from bot.poll.cycle import poll_once
from bot.runtime.settings import SettingsError, load_settings
from bot.store import Store, dump_versioned
from tests.harness import OUTSIDER, world
from tests.test_remedies_e2e import click, seed
from tests.test_store import make_record

DAY = timedelta(days=1)


class Clock:
    """The services' clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def index_entries(store: Store, pid: str, reference: str) -> dict[str, bool]:
    idx = f"{store.prefix}{{{store.prefix}idx}}"
    r = store.redis
    return {
        "record": bool(await r.exists(store.key("failure", pid))),
        "resolved": await r.zscore(f"{idx}:resolved", pid) is not None,
        "ref": await r.hget(f"{idx}:ref", reference.upper()) is not None,
        "summary": await r.hget(f"{idx}:summary", pid) is not None,
        "open": await r.zscore(f"{idx}:open", pid) is not None,
    }


async def test_resolved_failures_and_old_audit_go_after_the_retention_period(
    redis_url: str, redis_prefix: str
) -> None:
    async with world(
        redis_url, redis_prefix, "all-causes", bot_overrides={"retention_days": 120}
    ) as w:
        w.slack.rate_limit_enabled = False
        clock = Clock()
        s = w.services
        s.clock = clock
        await poll_once(s, post_interval=0, check_alerts=False)
        gone, dismissed, *still = sorted(w.scenario.failed_ids)
        w.cb.delete_history(gone)
        w.cb.dismiss(dismissed)
        report = await poll_once(s, post_interval=0, check_alerts=False)
        assert sorted(report.resolved) == sorted([gone, dismissed])
        refs = {
            pid: (await s.store.get_failure(pid)).payment.reference  # type: ignore[union-attr]
            for pid in w.scenario.failed_ids
        }
        await s.store.audit(
            AuditEntry(user="U0FINANCE1", action="dismiss_sync", payment_id=dismissed, result="ok")
        )
        await s.store.audit_refused_click(
            AuditEntry(
                user="U0OUTSIDER", action="dismiss_sync", payment_id=dismissed, result="refused"
            )
        )

        clock.now += 119 * DAY  # within the period: everything stays
        report = await poll_once(s, post_interval=0, check_alerts=False)
        assert report.expired == []
        assert len(await s.store.audit_entries(10)) == 2
        for pid in (gone, dismissed):
            assert (await index_entries(s.store, pid, refs[pid]))["record"]

        clock.now += 2 * DAY  # 121 days after they were resolved
        report = await poll_once(s, post_interval=0, check_alerts=False)
        assert sorted(report.expired) == sorted([gone, dismissed])
        for pid in (gone, dismissed):
            assert await index_entries(s.store, pid, refs[pid]) == dict.fromkeys(
                ("record", "resolved", "ref", "summary", "open"), False
            )
            assert await s.store.find_by_reference(refs[pid]) is None
        assert await s.store.audit_entries(10) == []  # trimmed by time, refusals too
        # open failures are kept however old, with every index entry
        for pid in still:
            entries = await index_entries(s.store, pid, refs[pid])
            assert entries == {
                "record": True,
                "resolved": False,
                "ref": True,
                "summary": True,
                "open": True,
            }
        assert sorted(await s.store.open_ids()) == sorted(still)
        # a new audit entry (now) survives the next sweep; nothing else goes
        await s.store.audit(
            AuditEntry(user="U0FINANCE1", action="recheck", payment_id=still[0], result="ok")
        )
        clock.now = datetime.now(UTC)
        report = await poll_once(s, post_interval=0, check_alerts=False)
        assert report.expired == [] and len(await s.store.audit_entries(10)) == 1


@pytest.fixture
def store(redis_client: aioredis.Redis, redis_prefix: str) -> Store:
    return Store(redis_client, redis_prefix)


def resolved(i: int, at: datetime, **kw: object):  # type: ignore[no-untyped-def]
    rec = make_record(i, Cause.CREDIT_MEMO, **kw)  # type: ignore[arg-type]
    rec.status = FailureStatus.RESOLVED
    rec.resolution = Resolution(how=ResolutionHow.DISMISSED, by=None, at=at)
    return rec


async def test_a_sweep_goes_in_batches_and_spares_what_changed(store: Store) -> None:
    now = datetime.now(UTC)
    old = now - 500 * DAY
    for i in range(8):
        await store.put_failure(resolved(i, old + i * timedelta(minutes=1)))
    resolved_key = f"{store.prefix}{{{store.prefix}idx}}:resolved"
    # pmt_5 failed again (open) and a crash left its resolved entry behind; pmt_6 was
    # resolved again lately, and its index entry lags behind the record
    await store.put_failure(make_record(5))
    await store.redis.zadd(resolved_key, {"pmt_5": (old + timedelta(minutes=10)).timestamp()})
    await store.redis.set(store.key("failure", "pmt_6"), dump_versioned(resolved(6, now - DAY)))
    # pmt_4's record is gone already (lost): its index entries go too; pmt_7's cannot be read
    await store.redis.delete(store.key("failure", "pmt_4"))
    await store.redis.set(store.key("failure", "pmt_7"), b"not json")

    before = now - 400 * DAY
    # in the index's order: 0 1 2 | 3 4 6 | 7 5
    first = await store.expire_resolved(before, batch=3)
    assert (first.deleted, first.kept, first.examined) == (["pmt_0", "pmt_1", "pmt_2"], 0, 3)
    second = await store.expire_resolved(before, batch=3, skip=first.kept)
    assert (second.deleted, second.kept) == (["pmt_3", "pmt_4"], 0)  # pmt_6 re-scored
    third = await store.expire_resolved(before, batch=3, skip=second.kept)
    assert (third.deleted, third.kept, third.examined) == ([], 1, 2)  # pmt_7 kept, 5 unindexed
    last = await store.expire_resolved(before, batch=3, skip=third.kept)
    assert last.examined == 0
    assert await store.get_failure("pmt_5") is not None  # open: kept with its entries
    assert await store.open_ids() == ["pmt_5"]
    assert await store.find_by_reference("CB10005") == "pmt_5"
    assert await store.get_failure("pmt_6") is not None  # resolved lately: kept, re-scored
    assert await store.resolved_ids(now - 2 * DAY) == ["pmt_6"]
    assert await store.redis.get(store.key("failure", "pmt_7")) == b"not json"
    for i in (0, 1, 2, 3, 4):
        assert await store.get_failure(f"pmt_{i}") is None
    for i in (0, 1, 2, 3):
        assert await store.find_by_reference(f"CB1000{i}") is None
    # a record that vanished by itself takes its reference with it (unknown): that entry stays
    # and leads nowhere
    assert await store.find_by_reference("CB10004") == "pmt_4"


async def test_a_record_changed_between_read_and_delete_is_not_deleted(store: Store) -> None:
    now = datetime.now(UTC)
    await store.put_failure(resolved(1, now - 500 * DAY))

    async def change_it() -> None:  # another process saves the record meanwhile
        changed = resolved(1, now - 500 * DAY)
        changed.updated_at = now
        await store.redis.set(store.key("failure", "pmt_1"), dump_versioned(changed))

    # the sweep reads records through a pipeline; change the record right after that read
    real_pipeline = store.redis.pipeline

    def pipeline(*a: object, **kw: object):  # type: ignore[no-untyped-def]
        pipe = real_pipeline(*a, **kw)
        real_execute = pipe.execute

        async def execute(*ea: object, **ekw: object) -> object:
            out = await real_execute(*ea, **ekw)
            await change_it()
            return out

        pipe.execute = execute
        return pipe

    store.redis.pipeline = pipeline  # type: ignore[method-assign]
    try:
        batch = await store.expire_resolved(now - 400 * DAY)
    finally:
        store.redis.pipeline = real_pipeline  # type: ignore[method-assign]
    assert batch.deleted == [] and batch.kept == 1
    assert await store.get_failure("pmt_1") is not None


def test_retention_must_outlast_every_window_the_bot_reads() -> None:
    base = {
        "slack_bot_token": "xoxb-x",
        "slack_signing_secret": "s",
        "failed_payments_channel": "C1",
        "alert_channel": "C2",
        "qbo_client_id": "id",
        "qbo_client_secret": "sec",
        "qbo_realm_id": "1",
        "cb_base_url": "http://cb",
        "cb_api_key": "k",
        "finance_users": "U1",
    }
    assert load_settings(_env_file=None, **base).retention_days == 400
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None, retention_days=90, **base)  # the 90-day stats window
    assert any(line.startswith("RETENTION_DAYS") and "90 days" in line for line in err.value.lines)
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None, retention_days=120, alert_window_days=200, **base)
    assert any("RETENTION_DAYS" in line and "200 days" in line for line in err.value.lines)
    assert load_settings(_env_file=None, retention_days=91, **base).retention_days == 91


async def test_an_outsider_s_clicks_are_kept_apart_from_the_audit(
    redis_url: str, redis_prefix: str
) -> None:
    """Through Slack: an outsider's clicks are counted and (a few) kept in the refused
    stream; the audit stream, which retention keeps for the period, holds none of them."""
    async with world(redis_url, redis_prefix, "credit-memo") as w:
        rec = next(iter((await seed(w)).values()))
        for _ in range(3):
            await click(w, rec, RemedyKind.RECHECK, user=OUTSIDER)
        await w.slack.wait_until(lambda: len(w.slack.ephemeral(OUTSIDER)) >= 3)
        store = w.services.store
        assert await store.refusal_counts() == {OUTSIDER: 3}
        assert await store.audit_entries(10, refused=False) == []
        kept = await store.audit_entries(10)
        assert [(e.user, e.result) for e in kept] == [(OUTSIDER, "refused")] * 3
