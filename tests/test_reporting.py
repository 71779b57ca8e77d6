"""Stats over a window, the open-failure gauges, and the recheck reply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from bot.alerts.rules import CauseCount
from bot.commands.stats import OUTSIDE_SLACK, recheck_message, refresh_gauges, summarise
from bot.models import Cause, FailureRecord, FailureStatus, Resolution
from bot.runtime.metrics import Metrics
from bot.store import Store
from sandbox.slack import validate_blocks
from tests.test_listing import record

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=7)


def resolved(
    i: int, *, cause: Cause, amount: str, paid: datetime, took: timedelta, how: str, by: str | None
) -> FailureRecord:
    rec = record(i, cause=cause, amount=amount, paid=paid, seen=paid)
    rec.status = FailureStatus.RESOLVED
    rec.resolution = Resolution(how=how, by=by, at=paid + took)
    return rec


def test_summarise_counts_the_window_only() -> None:
    open_rows = [
        (Cause.CREDIT_MEMO, Decimal("100.00"), NOW - timedelta(days=1)),
        (Cause.CREDIT_MEMO, Decimal("50.50"), NOW - timedelta(days=2)),
        (Cause.UNKNOWN, Decimal("999.00"), NOW - timedelta(days=30)),  # before the window
    ]
    done = [
        resolved(
            1,
            cause=Cause.PAID_MANUALLY,
            amount="200.00",
            paid=NOW - timedelta(days=3),
            took=timedelta(hours=2),
            how="dismissed",
            by="U1",
        ),
        resolved(
            2,
            cause=Cause.CREDIT_MEMO,
            amount="10.00",
            paid=NOW - timedelta(days=4),
            took=timedelta(hours=6),
            how="unapplied",
            by="U2",
        ),
        resolved(
            3,
            cause=Cause.RECREATED,
            amount="70.00",
            paid=NOW - timedelta(days=20),
            took=timedelta(days=15),
            how="synced",
            by=None,
        ),  # paid before the window
    ]
    r = summarise(
        window_days=7,
        payments=200,
        failures=5,
        rate=Decimal("0.025"),
        threshold=Decimal("0.10"),
        since=SINCE,
        open_rows=open_rows,
        resolved=done,
    )
    by = {c.cause: c for c in r.by_cause}
    assert by[Cause.CREDIT_MEMO] == CauseCount(
        cause=Cause.CREDIT_MEMO, count=3, amount=Decimal("160.50")
    )
    assert by[Cause.PAID_MANUALLY].amount == Decimal("200.00")
    assert Cause.UNKNOWN not in by and Cause.RECREATED not in by
    assert r.resolved_by_remedy == {"dismissed": 1, "unapplied": 1, "synced": 1}
    assert r.resolved_by_person == {"U1": 1, "U2": 1, OUTSIDE_SLACK: 1}
    assert r.median_time_to_resolve == timedelta(hours=6)
    assert (r.payments, r.failures, r.rate) == (200, 5, Decimal("0.025"))


def test_summarise_with_nothing() -> None:
    r = summarise(
        window_days=90,
        payments=0,
        failures=0,
        rate=Decimal(0),
        threshold=Decimal("0.1"),
        since=SINCE,
        open_rows=[],
        resolved=[],
    )
    assert r.by_cause == [] and r.median_time_to_resolve is None


@pytest.fixture
def store(redis_client: aioredis.Redis, redis_prefix: str) -> Store:
    return Store(redis_client, redis_prefix)


async def test_refresh_gauges_sets_open_failures_by_cause(store: Store) -> None:
    for i, cause in enumerate([Cause.CREDIT_MEMO, Cause.CREDIT_MEMO, Cause.DELETED]):
        await store.put_failure(record(i, cause=cause))

    class Svc:
        metrics = Metrics()

    svc = Svc()
    svc.store = store  # type: ignore[attr-defined]
    await refresh_gauges(svc)  # type: ignore[arg-type]
    text = svc.metrics.render().decode()
    assert 'failed_payments_open{cause="credit-memo"} 2.0' in text
    assert 'failed_payments_open{cause="deleted"} 1.0' in text
    assert 'failed_payments_open{cause="voided"} 0.0' in text
    rec = record(2, cause=Cause.DELETED)
    rec.status = FailureStatus.RESOLVED
    await store.put_failure(rec)
    await refresh_gauges(svc)  # type: ignore[arg-type]
    assert 'failed_payments_open{cause="deleted"} 0.0' in svc.metrics.render().decode()


def test_recheck_message() -> None:
    text, blocks = recheck_message(new=["CB1", "CB2"], resolved=["CB3"], still_open=7, now=NOW)
    assert "2 new, 1 resolved, 7 still open" in text
    body = str(blocks)
    assert "`CB1`, `CB2`" in body and "`CB3`" in body
    assert validate_blocks(blocks) == []
    text, blocks = recheck_message(new=[], resolved=[], still_open=3, now=NOW)
    assert "nothing changed" in str(blocks)
    many = [f"CB{i}" for i in range(20)]
    text, blocks = recheck_message(new=many, resolved=[], still_open=5000, new_count=5000, now=NOW)
    assert "and 4,980 more" in str(blocks) and validate_blocks(blocks) == []
    text, blocks = recheck_message(
        new=[], resolved=[], still_open=0, now=NOW, skipped="another poll holds the lease"
    )
    assert "already running" in text
