"""The open failures' indexes and running totals (``bot.store.indexes``, ``open_query``),
against a real Redis: kept in step by every save (open, changed, resolved, opened again),
by retention, rebuilt for a store written before them, and extended by one line."""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from bot.commands import listing
from bot.commands.parse import ListFilters
from bot.models import Cause, FailureStatus, FailureSummary, Resolution, Snooze, SnoozeKind
from bot.store import Store, indexes, open_without, records
from bot.store.indexes import AMOUNT_BOUNDS, DAY, Index
from tests.test_listing import CUSTOMERS, NOW, record


@pytest.fixture
def store(redis_client: aioredis.Redis, redis_prefix: str) -> Store:
    return Store(redis_client, redis_prefix)


def idx(store: Store) -> str:
    return f"{store.prefix}{{{store.prefix}idx}}"


async def agree(store: Store, cases: list[ListFilters]) -> None:
    """Every case's totals and first pages equal the Python filter over every summary."""
    everything = await store.open_summaries()
    for f in cases:
        for page in (1, 3):
            want = listing.filter_page(everything, f, NOW, offset=(page - 1) * 10, limit=10)
            assert await listing.query(store, f, NOW, page=page) == want, f.describe()


CASES = [
    ListFilters(),
    ListFilters(cause=Cause.CREDIT_MEMO),
    ListFilters(customer="north"),
    ListFilters(customer="ŁÓDŹ"),
    ListFilters(customer="ü"),
    ListFilters(min_amount=AMOUNT_BOUNDS[60]),  # exactly a bucket's lower bound
    ListFilters(min_amount=Decimal("1234.567891")),
    ListFilters(min_amount=Decimal("0.0000001")),
    ListFilters(older_than=timedelta(days=2)),
    ListFilters(older_than=timedelta(hours=12 * 24 + 7)),
    ListFilters(older_than=timedelta(minutes=3 * 24 * 60 + 37)),  # mid-hour
    ListFilters(cause=Cause.PAID_MANUALLY, min_amount=Decimal(50)),
    ListFilters(customer="dental", older_than=timedelta(days=1), min_amount=Decimal(10)),
]


async def test_saves_keep_totals_and_pages_in_step(store: Store) -> None:
    rnd = random.Random(3)
    causes = [c for c in Cause if c != Cause.NONE]
    recs = {}
    for step in range(400):
        i = rnd.randrange(120)
        rec = recs.get(i) or record(i)
        rec.payment.amount = Decimal(rnd.randint(0, 400000)) / 100
        rec.payment.customer.name = rnd.choice(CUSTOMERS)
        rec.diagnosis.cause = rnd.choice(causes)
        rec.first_seen_at = NOW - timedelta(minutes=rnd.randint(0, 60 * 24 * 15))
        if step % 5 == 4:
            rec.status = FailureStatus.RESOLVED
            rec.resolution = Resolution(how="dismissed", by="U1", at=NOW)
        else:
            rec.status, rec.resolution = FailureStatus.OPEN, None
        recs[i] = rec
        await store.put_failure(rec)
    open_now = [r for r in recs.values() if r.status != FailureStatus.RESOLVED]
    totals = (await store.open_totals())["*"]
    assert totals.count == len(open_now) == await store.open_count()
    assert totals.amount == sum(r.payment.amount for r in open_now)
    assert not await store.ensure_indexes()  # in step: nothing to rebuild
    await agree(store, CASES)
    by_cause = await store.open_totals("cause")
    for c in causes:
        n = sum(1 for r in open_now if r.cause == c)
        assert (by_cause[c.value].count if c.value in by_cause else 0) == n


async def test_an_older_store_is_rebuilt_and_keeps_working(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.store.records")
    for i in range(60):
        await store.put_failure(record(i, customer=CUSTOMERS[i % len(CUSTOMERS)]))
    r = store.redis
    # what an older release left: the open zsets and summaries, none of the new keys
    new_keys = [k async for k in r.scan_iter(match=f"{idx(store)}:*") if b":open" not in k]
    keep = (b":summary", b":ref", b":resolved")
    await r.delete(*[k for k in new_keys if not k.endswith(keep)])
    fresh = Store(r, store.prefix)  # a new process
    assert await fresh.ensure_indexes()  # rebuilt, and the operator is told
    assert "indexes rebuilt (a new release's indexes): 60 failures" in caplog.text
    assert (await fresh.open_totals())["*"].count == 60
    await agree(fresh, CASES)
    # totals out of step with the open zset (e.g. a hand edit): verified and rebuilt
    await r.hset(f"{idx(store)}:n:all", "*", 7)
    assert await Store(r, store.prefix).ensure_indexes()
    assert (await fresh.open_totals())["*"].count == 60


async def test_retention_leaves_the_totals_right(store: Store) -> None:
    for i in range(10):
        rec = record(i, amount="5.00")
        await store.put_failure(rec)
        if i < 4:
            rec.status = FailureStatus.RESOLVED
            rec.resolution = Resolution(how="synced", by=None, at=NOW - timedelta(days=400))
            await store.put_failure(rec)
    batch = await store.expire_resolved(NOW - timedelta(days=365))
    assert len(batch.deleted) == 4
    totals = (await store.open_totals())["*"]
    assert (totals.count, totals.amount) == (6, Decimal("30.00"))
    assert not await store.ensure_indexes()


async def test_a_day_edge_and_a_bucket_edge(store: Store) -> None:
    cutoff = NOW - timedelta(days=3)
    day_start = cutoff - timedelta(seconds=cutoff.timestamp() % DAY)
    await store.put_failure(record(1, seen=day_start))  # on the cutoff's day, before it
    await store.put_failure(record(2, seen=cutoff))  # exactly at it: older enough
    await store.put_failure(record(3, seen=cutoff + timedelta(microseconds=1)))  # not
    got = await store.open_page(seen_before=cutoff)
    assert sorted(r.payment_id for r in got.rows) == ["pmt_1", "pmt_2"]
    low = AMOUNT_BOUNDS[120]  # 1000.00
    await store.put_failure(record(4, amount=str(low - Decimal("0.01"))))
    await store.put_failure(record(5, amount=str(low)))
    got = await store.open_page(min_amount=low)
    assert [r.payment_id for r in got.rows] == ["pmt_5"] and got.total_amount == low


async def test_adding_an_index_is_one_line(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(30):
        await store.put_failure(record(i))
    extra = Index("decade", lambda s: [s.reference[:6]])  # e.g. owner, snoozed
    monkeypatch.setattr(indexes, "INDEXES", (*indexes.INDEXES, extra))
    monkeypatch.setattr(records, "INDEX_VERSION", "test-with-decade")
    fresh = Store(store.redis, store.prefix)
    got = await fresh.open_page(tags={"decade": ["CB1001"]})  # rebuilt at first read
    assert got.total == 10 and {r.reference[:6] for r in got.rows} == {"CB1001"}
    assert (await fresh.open_totals("decade"))["CB1002"].count == 10
    rec = record(10)
    rec.status = FailureStatus.RESOLVED
    await fresh.put_failure(rec)
    assert (await fresh.open_totals("decade"))["CB1001"].count == 9


def test_rows_keep_every_digit() -> None:
    rec = record(1, amount="123456789.123456")
    row = indexes.Row.parse("pmt_1", indexes.row_of(FailureSummary.of(rec)))
    assert row.amount == 123456789123456
    assert row.paid == rec.payment.paid_at.timestamp()


async def test_open_by_cause_since_counts_the_window(store: Store) -> None:
    rnd = random.Random(5)
    causes = [c for c in Cause if c != Cause.NONE]
    recs = [
        record(
            i,
            cause=rnd.choice(causes),
            amount=f"{rnd.randint(1, 90000) / 100:.2f}",
            paid=NOW - timedelta(minutes=rnd.randint(0, 60 * 24 * 20)),
        )
        for i in range(300)
    ]
    for rec in recs:
        await store.put_failure(rec)
    for since in (NOW - timedelta(days=7, hours=5), NOW - timedelta(days=3, minutes=517)):
        want: dict[Cause, tuple[int, Decimal]] = {}
        for rec in recs:
            if rec.payment.paid_at >= since:
                n, a = want.get(rec.cause, (0, Decimal(0)))
                want[rec.cause] = (n + 1, a + rec.payment.amount)
        assert await store.open_by_cause_since(since) == want


async def test_a_new_customer_is_found_by_the_next_list(store: Store) -> None:
    await store.put_failure(record(1, customer="Northwind Dental"))
    assert (await store.open_page(customer="fjord")).total == 0  # names read and kept
    await store.put_failure(record(2, customer="Fjordbank ÅS"))
    got = await store.open_page(customer="fjord")
    assert [r.payment_id for r in got.rows] == ["pmt_2"]
    rec = record(2, customer="Fjordbank ÅS")
    rec.status = FailureStatus.RESOLVED
    await store.put_failure(rec)
    assert (await store.open_page(customer="fjord")).total == 0


async def test_a_zero_amount_failure_is_saved_again_and_resolved(store: Store) -> None:
    """A refund the client kept nothing of is a failure of 0.00: taking its old row out of
    the totals must not send HINCRBY a "-0" (not an integer to Redis)."""
    await store.put_failure(record(2))  # shares the zero one's index values: counts stay > 0
    rec = record(1, amount="0.00")
    await store.put_failure(rec)
    rec.diagnosis.cause = Cause.PAID_MANUALLY
    await store.put_failure(rec)  # its old row is taken out: -0
    assert (await store.open_totals())["*"].count == 2
    rec.status = FailureStatus.RESOLVED
    rec.resolution = Resolution(how="dismissed", by="U1", at=NOW)
    await store.put_failure(rec)
    assert await store.open_count() == 1
    assert (await store.open_totals())["*"].amount == Decimal("100.00")
    assert not await store.ensure_indexes()


@pytest.mark.parametrize(
    "few,cap", [(open_without.FEW_LEFT_OUT, open_without.EXCLUDE_CAP), (100, 5000), (100, 100)]
)  # tested one by one, or intersected, then subtracted; or (over the cap) the kept values
async def test_the_list_leaves_the_snoozed_out_and_owner_tags_agree(
    store: Store, few: int, cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With failures snoozed and owned, every filter's totals and pages (the awake ones,
    the snoozed ones apart, one owner's) equal the Python filter over the summaries, on
    each path: few snoozed (subtracted), many (the awake value as one more filter), and a
    smallest value filter whose failures are tested one by one (``filter_rows.lua``)."""
    monkeypatch.setattr(open_without, "FEW_LEFT_OUT", few)
    monkeypatch.setattr(open_without, "EXCLUDE_CAP", cap)
    rnd = random.Random(11)
    causes = [c for c in Cause if c != Cause.NONE]
    for i in range(700):
        paid = NOW - timedelta(hours=i % 90)  # many paid at the same time: ties ordered by id
        rec = record(i, customer=rnd.choice(CUSTOMERS), cause=rnd.choice(causes), paid=paid)
        rec.payment.amount = Decimal(rnd.randint(0, 400000)) / 100
        rec.first_seen_at = NOW - timedelta(minutes=rnd.randint(0, 60 * 24 * 15))
        await store.put_failure(rec)
    everything = await store.open_summaries()
    ids = [s.payment_id for s in everything]
    for few_or_many in (12, 560):  # under and over a cap of 100 snoozed
        for pid in rnd.sample(ids, few_or_many):
            await store.put_snooze(
                pid, Snooze(kind=SnoozeKind.NEXT_SYNC, by="U1", reason="r", at=NOW)
            )
        for pid in rnd.sample(ids, 40):
            await store.take_owner(pid, "U7")
        snoozed = set(await store.snoozed_ids())
        owned = set(await store.owned_by("U7"))
        for f in CASES:
            for page in (1, 2):
                want = listing.filter_page(
                    [s for s in everything if s.payment_id not in snoozed],
                    f,
                    NOW,
                    offset=(page - 1) * 10,
                    limit=10,
                )
                assert await listing.query(store, f, NOW, page=page) == want, f.describe()
                apart = listing.filter_page(
                    [s for s in everything if s.payment_id in snoozed], f, NOW, offset=0, limit=10
                )
                got = await listing.query(store, f, NOW, state=listing.SNOOZED)
                assert got == apart, f.describe()
            mine = await store.open_page(
                cause=f.cause,
                customer=f.customer,
                min_amount=f.min_amount,
                seen_before=NOW - f.older_than if f.older_than is not None else None,
                tags={"owner": ["U7"]},
                limit=10,
            )
            want_mine = listing.filter_page(
                [s for s in everything if s.payment_id in owned], f, NOW, offset=0, limit=10
            )
            assert (mine.total, mine.total_amount, mine.rows) == want_mine, f.describe()
