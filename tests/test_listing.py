"""Filtering and paging of open failures, against a real Redis: the indexed list
(``Store.open_page``) and the Python filter over every summary (``listing.filter_page``)
must agree, for every filter and every script of customer names."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from bot.commands import listing
from bot.commands.parse import ListFilters
from bot.models import (
    Cause,
    Certainty,
    Diagnosis,
    FailureRecord,
    FailureStatus,
    RemedyKind,
    Resolution,
)
from bot.store import Store
from cb.models import Payment

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
CUSTOMERS = [
    "Northwind Dental",
    "Acme & Sons",
    "Zürich Treuhand AG",
    "contoso ltd",
    "NORTHWIND TRADERS",
    "Globex <b>",
    "ŁÓDŹ Systems",
    "ZÜRICH RE",
    'Say "hi" \\ Co',
]


def record(
    i: int,
    *,
    cause: Cause = Cause.CREDIT_MEMO,
    amount: str = "100.00",
    customer: str = "Northwind Dental",
    paid: datetime | None = None,
    seen: datetime | None = None,
) -> FailureRecord:
    paid = paid or NOW - timedelta(hours=i)
    p = Payment.model_validate(
        {
            "id": f"pmt_{i}",
            "reference": f"CB{10000 + i}",
            "customer": {"id": f"cus_{i}", "name": customer},
            "amount": amount,
            "paid_at": paid.isoformat(),
            "applications": [],
            "sync": {"status": "failed", "attempts": 1},
            "updated_at": paid.isoformat(),
        }
    )
    diag = Diagnosis(
        payment_id=p.id,
        reference=p.reference,
        cause=cause,
        certainty=Certainty.CERTAIN,
        findings=[],
        remedies=[RemedyKind.RECHECK],
        summary="s",
        next_step="n",
    )
    return FailureRecord(
        payment_id=p.id,
        payment=p,
        diagnosis=diag,
        first_seen_at=seen or paid + timedelta(minutes=5),
    )


@pytest.fixture
def store(redis_client: aioredis.Redis, redis_prefix: str) -> Store:
    return Store(redis_client, redis_prefix)


async def seed_random(store: Store, n: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    causes = [c for c in Cause if c != Cause.NONE]
    for i in range(n):
        paid = NOW - timedelta(minutes=rnd.randint(0, 60 * 24 * 20))
        await store.put_failure(
            record(
                i,
                cause=rnd.choice(causes),
                customer=rnd.choice(CUSTOMERS),
                amount=f"{rnd.randint(0, 300000) / 100:.2f}",
                paid=paid,
                seen=paid + timedelta(seconds=rnd.randint(0, 7200)),
            )
        )


FILTER_CASES = [
    ListFilters(),
    ListFilters(cause=Cause.CREDIT_MEMO),
    ListFilters(customer="northwind"),
    ListFilters(customer="& sons"),
    ListFilters(older_than=timedelta(days=3)),
    ListFilters(min_amount=Decimal("1500.00")),
    ListFilters(min_amount=Decimal("1500.005")),
    ListFilters(
        cause=Cause.PAID_MANUALLY,
        customer="NORTH",
        older_than=timedelta(days=1),
        min_amount=Decimal(100),
    ),
    ListFilters(customer="zürich"),  # Latin-1 letters
    ListFilters(customer="łódź"),  # beyond Latin-1: the same path
    ListFilters(customer='"hi" \\'),  # JSON-escaped characters in names
    ListFilters(customer="nobody-has-this"),
]


@pytest.mark.parametrize("f", FILTER_CASES, ids=lambda f: f.describe() or "none")
async def test_indexed_list_agrees_with_python(store: Store, f: ListFilters) -> None:
    await seed_random(store, 150)
    everything = await store.open_summaries()
    for page in (1, 2, 5):
        want = listing.filter_page(everything, f, NOW, offset=(page - 1) * 10, limit=10)
        got = await listing.query(store, f, NOW, page=page)
        assert got == want
    fast = await store.open_page(
        cause=f.cause,
        customer=f.customer,
        min_amount=f.min_amount,
        seen_before=NOW - f.older_than if f.older_than else None,
    )
    everything_matching = listing.filter_page(everything, f, NOW, offset=0, limit=0)
    assert (fast.total, fast.total_amount) == everything_matching[:2]


async def test_filters_by_hand(store: Store) -> None:
    await store.put_failure(
        record(1, cause=Cause.CREDIT_MEMO, amount="499.99", customer="Northwind Dental")
    )
    await store.put_failure(
        record(2, cause=Cause.PAID_MANUALLY, amount="500.00", customer="Acme & Sons")
    )
    old = NOW - timedelta(days=4)
    await store.put_failure(
        record(
            3,
            cause=Cause.CREDIT_MEMO,
            amount="1200.50",
            customer="Zürich Treuhand AG",
            paid=old,
            seen=old,
        )
    )

    async def refs(f: ListFilters) -> list[str]:
        _, _, rows = await listing.query(store, f, NOW)
        return [r.reference for r in rows]

    assert await refs(ListFilters()) == ["CB10001", "CB10002", "CB10003"]  # newest paid first
    assert await refs(ListFilters(cause=Cause.CREDIT_MEMO)) == ["CB10001", "CB10003"]
    assert await refs(ListFilters(customer="acme")) == ["CB10002"]
    assert await refs(ListFilters(customer="ZÜRICH")) == ["CB10003"]
    assert await refs(ListFilters(older_than=timedelta(days=3))) == ["CB10003"]
    assert await refs(ListFilters(min_amount=Decimal(500))) == ["CB10002", "CB10003"]
    assert await refs(ListFilters(cause=Cause.CREDIT_MEMO, min_amount=Decimal(500))) == ["CB10003"]
    total, amount, _ = await listing.query(store, ListFilters(), NOW)
    assert (total, amount) == (3, Decimal("2200.49"))


async def test_other_time_zones_and_resolved_rows(store: Store) -> None:
    plus2 = timezone(timedelta(hours=2))
    seen = (NOW - timedelta(days=2)).astimezone(plus2)
    await store.put_failure(record(1, seen=seen))
    rec = record(2)
    await store.put_failure(rec)
    rec.status = FailureStatus.RESOLVED
    rec.resolution = Resolution(how="dismissed", by="U1", at=NOW)
    await store.put_failure(rec)
    got = await store.open_page(seen_before=NOW - timedelta(days=1))
    assert got is not None and [r.reference for r in got.rows] == ["CB10001"]
    got = await store.open_page(seen_before=NOW - timedelta(days=3))
    assert got is not None and got.total == 0 and got.total_amount == 0


async def test_paging_both_ways_and_state(store: Store) -> None:
    for i in range(23):
        await store.put_failure(record(i, amount="10.00"))
    first = await listing.first_page(store, ListFilters(), NOW, user="U1")
    assert (first.page, first.pages, first.total, first.total_amount) == (
        1,
        3,
        23,
        Decimal("230.00"),
    )
    assert [r.reference for r in first.rows][:2] == ["CB10000", "CB10001"]
    assert first.token
    third = await listing.page_at(store, first.token, 3, NOW, user="U1")
    assert [r.reference for r in third.rows] == ["CB10020", "CB10021", "CB10022"]
    second = await listing.page_at(store, first.token, 2, NOW, user="U1")
    assert second.rows[0].reference == "CB10010" and second.page == 2
    # live: failures resolved meanwhile leave; a page past the end shows the last one
    for i in range(20, 23):
        rec = record(i, amount="10.00")
        rec.status = FailureStatus.RESOLVED
        await store.put_failure(rec)
    gone = await listing.page_at(store, first.token, 3, NOW, user="U1")
    assert (gone.page, gone.pages, gone.total) == (2, 2, 20)
    with pytest.raises(listing.PagingExpired):
        await listing.page_at(store, first.token, 2, NOW, user="U2")  # someone else's
    with pytest.raises(listing.PagingExpired):
        await listing.page_at(store, "no-such-token", 2, NOW, user="U1")


async def test_one_page_needs_no_state(store: Store) -> None:
    await store.put_failure(record(1))
    res = await listing.first_page(store, ListFilters(), NOW, user="U1")
    assert (res.pages, res.token) == (1, "")
