"""The Redis state against a real Redis server."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from bot.models import (
    AuditEntry,
    Cause,
    Certainty,
    Diagnosis,
    FailureRecord,
    FailureStatus,
    RemedyKind,
    Resolution,
)
from bot.store import (
    SCHEMA_VERSION,
    CorruptRecord,
    Lease,
    SchemaTooNew,
    Store,
    StoreUnavailable,
    dump_versioned,
)
from bot.store.coordination import settle
from bot.store.state import REFUSALS_KEPT_PER_MINUTE
from cb.models import Payment

T0 = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)


def make_payment(i: int, *, amount: str = "1250.00", customer: str = "Northwind Dental") -> Payment:
    return Payment.model_validate(
        {
            "id": f"pmt_{i}",
            "reference": f"CB{10000 + i}",
            "customer": {"id": "cus_311", "name": customer, "qb_customer_id": "58"},
            "amount": amount,
            "paid_at": (T0 + timedelta(minutes=i)).isoformat(),
            "applications": [{"invoice_number": "1043", "qb_invoice_id": "130", "amount": amount}],
            "sync": {"status": "failed", "attempts": 1, "error": {"code": "6000", "message": "x"}},
            "updated_at": T0.isoformat(),
        }
    )


def make_record(i: int, cause: Cause = Cause.CREDIT_MEMO, **kw: object) -> FailureRecord:
    p = make_payment(i, **kw)  # type: ignore[arg-type]
    diag = Diagnosis(
        payment_id=p.id,
        reference=p.reference,
        cause=cause,
        certainty=Certainty.CERTAIN,
        findings=[],
        remedies=[RemedyKind.UNAPPLY_CREDIT_MEMO, RemedyKind.RECHECK],
        summary="s",
        next_step="n",
    )
    return FailureRecord(payment_id=p.id, payment=p, diagnosis=diag)


@pytest.fixture
def store(redis_client: aioredis.Redis, redis_prefix: str) -> Store:
    return Store(redis_client, redis_prefix)


async def test_failure_record_round_trip_and_indexes(store: Store) -> None:
    for i, cause in enumerate([Cause.CREDIT_MEMO, Cause.PAID_MANUALLY, Cause.CREDIT_MEMO]):
        await store.put_failure(make_record(i, cause))
    got = await store.get_failure("pmt_1")
    assert got is not None and got.payment.amount == Decimal("1250.00")
    assert got.payment.paid_at.tzinfo is not None
    assert await store.open_count() == 3
    assert await store.open_ids(Cause.CREDIT_MEMO) == ["pmt_2", "pmt_0"]  # newest first
    assert await store.find_by_reference("cb10001") == "pmt_1"
    rows = await store.open_summaries()
    assert [r.payment_id for r in rows] == ["pmt_2", "pmt_1", "pmt_0"]

    # a change of cause moves it between the cause indexes
    rec = make_record(0, Cause.RECREATED)
    await store.put_failure(rec)
    assert await store.open_ids(Cause.CREDIT_MEMO) == ["pmt_2"]
    assert await store.open_ids(Cause.RECREATED) == ["pmt_0"]

    # resolving removes it from the open indexes and records it as resolved
    rec.status = FailureStatus.RESOLVED
    rec.resolution = Resolution(how="dismissed", by="U1", at=T0 + timedelta(days=1))
    await store.put_failure(rec)
    assert await store.open_count() == 2
    assert await store.open_ids(Cause.RECREATED) == []
    assert await store.resolved_ids(T0) == ["pmt_0"]
    assert {r.payment_id for r in await store.open_summaries()} == {"pmt_1", "pmt_2"}


async def test_records_survive_a_new_client(
    store: Store, redis_url: str, redis_prefix: str
) -> None:
    await store.put_failure(make_record(7))
    await store.set_cursor(T0)
    fresh = aioredis.Redis.from_url(redis_url)
    try:
        again = Store(fresh, redis_prefix)
        rec = await again.get_failure("pmt_7")
        assert rec is not None and rec.payment.reference == "CB10007"
        assert await again.get_cursor() == T0
    finally:
        await fresh.aclose()


async def test_two_clients_contend_for_one_lease(
    store: Store, redis_url: str, redis_prefix: str
) -> None:
    other_client = aioredis.Redis.from_url(redis_url)
    try:
        other = Store(other_client, redis_prefix)
        a = store.lease("payment:pmt_1", "U_ALICE", ttl=30)
        b = other.lease("payment:pmt_1", "U_BOB", ttl=30)
        results = await asyncio.gather(a.acquire(), b.acquire())
        assert sorted(results) == [False, True]
        winner, loser = (a, b) if results[0] else (b, a)
        assert await store.lease_holder("payment:pmt_1") == winner.holder
        # the loser cannot release what it does not hold
        assert await loser.release() is False
        assert await store.lease_holder("payment:pmt_1") == winner.holder
        assert await winner.release() is True
        assert await store.lease_holder("payment:pmt_1") is None
        assert await loser.acquire() is True
    finally:
        await other_client.aclose()


async def test_lease_of_a_vanished_holder_frees_itself(store: Store) -> None:
    dead = store.lease("poller", "proc-1", ttl=0.2)
    assert await dead.acquire()
    # proc-1 dies without releasing: the lease's TTL runs out in Redis
    key = store.key("lease", "poller")
    ttl_ms = await store.redis.pttl(key)
    assert 0 < ttl_ms <= 200
    deadline = asyncio.get_running_loop().time() + 5
    while await store.redis.exists(key):
        assert asyncio.get_running_loop().time() < deadline, "lease never expired"
        await asyncio.sleep(0.02)
    assert await store.lease("poller", "proc-2", ttl=30).acquire()
    assert await store.lease_holder("poller") == "proc-2"


async def test_fifty_concurrent_once_attempts_have_one_winner(store: Store) -> None:
    results = await asyncio.gather(*(store.once("posted:pmt_1", f"w{i}") for i in range(50)))
    assert results.count(True) == 1
    winner = f"w{results.index(True)}"
    assert await store.once_value("posted:pmt_1") == winner
    assert await store.clear_once("posted:pmt_1", "somebody-else") is False
    assert await store.clear_once("posted:pmt_1", winner) is True
    assert await store.once("posted:pmt_1")


async def test_conversation_state_expires(store: Store) -> None:
    cid = await store.put_conversation("modal", {"payment_id": "pmt_1"}, ttl=0.15)
    assert await store.get_conversation("modal", cid) == {"payment_id": "pmt_1"}
    assert await store.get_conversation("modal", "../../etc") is None
    key = store.key("conv", "modal", cid)
    assert 0 < await store.redis.pttl(key) <= 150
    deadline = asyncio.get_running_loop().time() + 5
    while await store.get_conversation("modal", cid) is not None:
        assert asyncio.get_running_loop().time() < deadline, "conversation never expired"
        await asyncio.sleep(0.02)


async def test_two_prefixes_do_not_see_each_other(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    a = Store(redis_client, redis_prefix + "a:")
    b = Store(redis_client, redis_prefix + "b:")
    await a.put_failure(make_record(1))
    await a.set_cursor(T0)
    assert await a.once("x")
    assert await b.get_failure("pmt_1") is None
    assert await b.open_count() == 0
    assert await b.get_cursor() is None
    assert await b.once("x")
    assert await b.find_by_reference("CB10001") is None


async def test_newer_schema_is_refused_not_misread(store: Store) -> None:
    rec = make_record(3)
    doc = json.loads(dump_versioned(rec))
    doc["schema_version"] = SCHEMA_VERSION + 1
    await store.redis.set(store.key("failure", "pmt_3"), json.dumps(doc))
    with pytest.raises(SchemaTooNew, match="schema version"):
        await store.get_failure("pmt_3")
    await store.redis.set(store.key("failure", "pmt_4"), b"not json")
    with pytest.raises(CorruptRecord):
        await store.get_failure("pmt_4")


async def test_audit_stream_is_newest_first(store: Store) -> None:
    for i in range(5):
        await store.audit(
            AuditEntry(user="U1", action="dismiss_sync", payment_id=f"pmt_{i}", result="ok")
        )
    got = await store.audit_entries(3)
    assert [e.payment_id for e in got] == ["pmt_4", "pmt_3", "pmt_2"]


async def test_an_outsider_clicking_10000_times_pushes_no_audit_entry_out(store: Store) -> None:
    """Refused clicks go to their own stream, at most REFUSALS_KEPT_PER_MINUTE a person a
    minute; every one is counted; the real audit entries all stay."""
    for i in range(19):
        await store.audit(
            AuditEntry(user="U1", action="dismiss_sync", payment_id=f"pmt_{i}", result="ok")
        )
    # a remedy refused to a finance user (it did not fit) is a real audit entry
    await store.audit(
        AuditEntry(
            user="U1",
            action="recreate_payment",
            payment_id="pmt_19",
            result="refused",
            detail="the invoice was paid meanwhile",
        )
    )
    at = datetime.now(UTC)
    click = AuditEntry(
        at=at, user="U0OUTSIDER", action="dismiss_sync", payment_id="pmt_0", result="refused"
    )
    for _ in range(200):  # 10,000 clicks, 50 at a time
        await asyncio.gather(*(store.audit_refused_click(click) for _ in range(50)))
    real = await store.audit_entries(100, refused=False)
    assert [e.payment_id for e in real] == [f"pmt_{i}" for i in reversed(range(20))]
    assert await store.redis.xlen(store.key("audit")) == 20
    assert await store.redis.xlen(store.key("audit", "refused")) == REFUSALS_KEPT_PER_MINUTE
    assert await store.refusal_counts() == {"U0OUTSIDER": 10_000}
    # both read together, newest first: the refusals came last
    mixed = await store.audit_entries(REFUSALS_KEPT_PER_MINUTE + 2)
    assert [(e.user, e.result) for e in mixed] == (
        [("U0OUTSIDER", "refused")] * REFUSALS_KEPT_PER_MINUTE + [("U1", "refused"), ("U1", "ok")]
    )
    # a new minute keeps a few again
    await store.audit_refused_click(
        AuditEntry(
            at=at + timedelta(minutes=1),
            user="U0OUTSIDER",
            action="dismiss_sync",
            payment_id="pmt_0",
            result="refused",
        )
    )
    assert await store.redis.xlen(store.key("audit", "refused")) == REFUSALS_KEPT_PER_MINUTE + 1


async def test_cursor_requires_a_time_zone(store: Store) -> None:
    with pytest.raises(ValueError, match="time zone"):
        await store.set_cursor(datetime(2026, 1, 1))


async def test_unreachable_redis_is_a_clear_error() -> None:
    from tests.redis_server import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    client = aioredis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        with pytest.raises(StoreUnavailable, match="try again"):
            await Store(client).get_failure("pmt_1")
    finally:
        await client.aclose()


async def _stall_after_taking(lease: Lease, answer_after: asyncio.Event | None) -> asyncio.Event:
    """Make ``lease``'s Redis call take the lock, then stall before answering (until
    ``answer_after`` is set; forever when None). Returns the event set once it took it."""
    real_acquire = lease._lock.acquire
    taken = asyncio.Event()

    async def acquire_then_stall(**kw: object) -> bool:
        await real_acquire(**kw)  # the lock is now held in Redis
        taken.set()
        await (answer_after or asyncio.Event()).wait()  # the answer "is on its way"
        return True

    lease._lock.acquire = acquire_then_stall  # type: ignore[method-assign]
    return taken


async def test_a_lease_taken_as_its_taker_is_cancelled_is_given_back(store: Store) -> None:
    """A shutdown can cancel acquire() after Redis took the lock but before the answer was
    read; the call is let finish and the lease given back before the cancel is raised."""
    lease = store.lease("poller", "proc-1", ttl=60)
    answer = asyncio.Event()
    taken = await _stall_after_taking(lease, answer)
    task = asyncio.create_task(lease.acquire())
    await taken.wait()
    assert await store.lease_holder("poller") == "proc-1"
    task.cancel()
    await asyncio.sleep(0)
    assert not task.done()  # still waiting for Redis's answer, though cancelled
    task.cancel()  # a second cancel changes nothing
    answer.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.lease_holder("poller") is None
    assert await store.lease("poller", "proc-2").acquire()


async def test_a_cancelled_acquire_whose_answer_never_comes_gives_up_and_gives_back(
    store: Store,
) -> None:
    lease = store.lease("poller", "proc-1", ttl=60)
    lease.grace = 0.2
    taken = await _stall_after_taking(lease, None)
    task = asyncio.create_task(lease.acquire())
    await taken.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert await store.lease_holder("poller") is None


async def test_a_release_cancelled_midway_still_releases(store: Store) -> None:
    lease = store.lease("poller", "proc-1", ttl=60)
    assert await lease.acquire()
    real_release = lease._lock.release
    started = asyncio.Event()
    go_on = asyncio.Event()

    async def slow_release() -> None:
        started.set()
        await go_on.wait()  # cancelled here, before the script reached Redis
        await real_release()

    lease._lock.release = slow_release  # type: ignore[method-assign]
    task = asyncio.create_task(lease.release())
    await started.wait()
    task.cancel()
    await asyncio.sleep(0)
    go_on.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.lease_holder("poller") is None


async def test_settle_waits_for_the_work_and_reports_the_cancel() -> None:
    done = asyncio.Event()

    async def work() -> str:
        await done.wait()
        return "finished"

    inner = asyncio.ensure_future(work())
    waiter = asyncio.create_task(settle(inner, grace=5))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.sleep(0)
    assert not waiter.done()
    done.set()
    assert await waiter is True
    assert inner.result() == "finished"
    # not cancelled: returns False at once when the work is done
    assert await settle(asyncio.ensure_future(work()), grace=5) is False
