"""The team's indexes of open failures (``owner``, ``state``) on a real Redis: kept in step
with the team keys by every team change (``team_index.lua``) and every save of the record
(``index_failure.lua``), including a remedy's save after a take and a resolve; rebuilt from
the team keys for a store written before them; read by ``list`` (snoozed apart) and
``mine`` without a scan."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from bot.commands import listing
from bot.commands.parse import ListFilters
from bot.models import Cause, FailureStatus, Resolution, Snooze, SnoozeKind
from bot.store import Store, open_without
from bot.store.versioned import dump_versioned
from bot.team import listing as team_listing
from tests.test_listing import NOW, record


@pytest.fixture
def store(redis_client: aioredis.Redis, redis_prefix: str) -> Store:
    return Store(redis_client, redis_prefix)


def idx(store: Store) -> str:
    return f"{store.prefix}{{{store.prefix}idx}}"


def snooze(by: str = "UA") -> Snooze:
    return Snooze(kind=SnoozeKind.UNTIL, by=by, reason="bank", at=NOW, until=NOW + timedelta(1))


async def counts(store: Store, dim: str) -> dict[str, int]:
    return {k: t.count for k, t in (await store.open_totals(dim)).items()}


async def members(store: Store, dim: str, value: str) -> set[str]:
    got = await store.redis.zrange(f"{idx(store)}:ix:{dim}:{value}", 0, -1)
    return {g.decode() for g in got}


async def test_team_changes_move_a_failure_between_the_indexes(store: Store) -> None:
    for i in range(3):
        await store.put_failure(record(i, amount="10.00"))
    assert await counts(store, "state") == {"active": 3}
    assert await counts(store, "owner") == {}
    assert await store.take_owner("pmt_0", "UA") is None
    assert await store.take_owner("pmt_0", "UB") == "UA"  # lost: nothing moves
    assert await members(store, "owner", "UA") == {"pmt_0"}
    await store.set_owner("pmt_0", "UB")
    assert await counts(store, "owner") == {"UB": 1}
    await store.put_snooze("pmt_1", snooze())
    totals = await store.open_totals("state")
    assert (totals["active"].count, totals["snoozed"].count) == (2, 1)
    assert totals["snoozed"].amount == Decimal("10.00")
    await store.drop_snooze("pmt_1")
    await store.release_owner("pmt_0", "UB")
    assert await counts(store, "state") == {"active": 3}
    assert await counts(store, "owner") == {}
    # a team change on a failure with no open row (unknown, resolved) indexes nothing
    await store.take_owner("pmt_99", "UA")
    assert await counts(store, "owner") == {} and await members(store, "state", "active") == {
        "pmt_0",
        "pmt_1",
        "pmt_2",
    }


async def test_a_remedy_save_after_a_take_keeps_the_owner_and_a_resolve_drops_it(
    store: Store,
) -> None:
    rec = record(1, amount="25.00")
    await store.put_failure(rec)
    await store.take_owner(rec.payment_id, "UA")
    await store.put_snooze(rec.payment_id, snooze())
    lease = store.lease(f"pay:{rec.payment_id}", "remedy", ttl=30)
    assert await lease.acquire()
    rec.payment.amount = Decimal("30.00")  # the remedy saves a changed record
    assert await store.put_failure_if_held(rec, lease)
    owner = (await store.open_totals("owner"))["UA"]
    assert (owner.count, owner.amount) == (1, Decimal("30.00"))
    assert await counts(store, "state") == {"snoozed": 1}
    rec.status = FailureStatus.RESOLVED
    rec.resolution = Resolution(how="dismissed", by="UA", at=NOW)
    assert await store.put_failure_if_held(rec, lease)
    assert await counts(store, "owner") == {} and await counts(store, "state") == {}
    assert await members(store, "owner", "UA") == set()
    assert await store.owner_of(rec.payment_id) == "UA"  # the team keys stay
    rec.status, rec.resolution = FailureStatus.OPEN, None  # opened again: tagged again
    await store.put_failure(rec)
    assert await counts(store, "owner") == {"UA": 1}
    assert await counts(store, "state") == {"snoozed": 1}


async def test_random_changes_keep_the_team_indexes_equal_to_the_team_keys(store: Store) -> None:
    rnd = random.Random(18)
    recs = {i: record(i, amount=f"{i + 1}.00") for i in range(30)}
    for step in range(300):
        i = rnd.randrange(30)
        pid, rec = f"pmt_{i}", recs[i]
        move = rnd.randrange(6)
        if move == 0:
            await store.take_owner(pid, rnd.choice(["UA", "UB"]))
        elif move == 1:
            await store.set_owner(pid, rnd.choice(["UA", "UB", None]))
        elif move == 2:
            await (store.put_snooze(pid, snooze()) if step % 2 else store.drop_snooze(pid))
        else:
            resolved = move == 5
            rec.status = FailureStatus.RESOLVED if resolved else FailureStatus.OPEN
            rec.resolution = Resolution(how="synced", by=None, at=NOW) if resolved else None
            await store.put_failure(rec)
    open_ids = await store.open_ids()
    owners = await store.owners_of(open_ids)
    snoozed = set(await store.snoozed_ids())
    for user in ("UA", "UB"):
        assert await members(store, "owner", user) == {p for p, o in owners.items() if o == user}
    assert await members(store, "state", "snoozed") == snoozed & set(open_ids)
    assert await members(store, "state", "active") == set(open_ids) - snoozed
    state = await counts(store, "state")
    assert sum(state.values()) == len(open_ids)
    assert not await store.ensure_indexes()


async def test_an_older_store_is_rebuilt_with_owners_and_snoozes(store: Store) -> None:
    for i in range(6):
        await store.put_failure(record(i))
    r = store.redis
    # what the release before these indexes left: team keys, rows without team tags
    await r.set(store.key("team", "owner", "pmt_1"), "UA")
    await r.set(store.key("team", "owner", "pmt_2"), "UA")
    await r.set(store.key("team", "snooze", "pmt_2"), dump_versioned(snooze()))
    for k in [k async for k in r.scan_iter(match=f"{idx(store)}:*")]:
        if b":ix:owner:" in k or b":ix:state:" in k or k.endswith((b":n:state", b":m:state")):
            await r.delete(k)
    await r.set(f"{idx(store)}:version", "an-older-release@x")
    fresh = Store(r, store.prefix)  # the next start
    assert await fresh.ensure_indexes()
    assert await counts(fresh, "owner") == {"UA": 2}
    assert await counts(fresh, "state") == {"active": 5, "snoozed": 1}
    rows, total = await team_listing.mine(fresh, "UA")
    assert total == 2 and {t.record.payment_id for t in rows} == {"pmt_1", "pmt_2"}


@pytest.mark.parametrize("cap", [500, 1])  # subtracted, or (more snoozed) intersected
async def test_list_leaves_snoozed_out_of_rows_and_totals_under_every_filter(
    store: Store, cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(open_without, "FEW_LEFT_OUT", cap)
    monkeypatch.setattr(open_without, "EXCLUDE_CAP", cap)
    for i in range(12):
        cause = Cause.CREDIT_MEMO if i % 2 else Cause.PAID_MANUALLY
        await store.put_failure(record(i, cause=cause, amount="100.00"))
    for pid in ("pmt_0", "pmt_1", "pmt_2"):
        await store.put_snooze(pid, snooze())
    cases = [
        (ListFilters(), 9, 3),
        (ListFilters(cause=Cause.PAID_MANUALLY), 4, 2),
        (ListFilters(customer="north"), 9, 3),
        (ListFilters(customer="nobody"), 0, 0),
        (ListFilters(min_amount=Decimal("50")), 9, 3),
        (ListFilters(older_than=timedelta(0)), 9, 2),  # pmt_0 is first seen after NOW
        (ListFilters(cause=Cause.CREDIT_MEMO, min_amount=Decimal(1)), 5, 1),
    ]
    for f, active, snoozed in cases:
        total, amount, rows = await listing.query(store, f, NOW, page=1)
        assert (total, amount) == (active, Decimal(100) * active), f.describe()
        assert not {r.payment_id for r in rows} & {"pmt_0", "pmt_1", "pmt_2"}
        everything = await store.open_summaries()
        awake = [x for x in everything if x.payment_id not in {"pmt_0", "pmt_1", "pmt_2"}]
        for page in (1, 2):
            want = listing.filter_page(awake, f, NOW, offset=(page - 1) * 4, limit=4)
            assert await listing.query(store, f, NOW, page=page, page_size=4) == want
        apart, n = await team_listing.snoozed_apart(store, f, NOW)
        assert n == snoozed and len(apart) == snoozed, f.describe()
        assert all(t.snooze is not None for t in apart)


async def test_a_zero_amount_failure_is_saved_again_and_re_tagged(store: Store) -> None:
    """A $0.00 failure (a refunded receipt) among others: taking its amount out of a running
    sum is 0, never "-0" (which Redis refuses as an integer)."""
    for i in range(2):
        await store.put_failure(record(i, amount="0.00"))
    await store.take_owner("pmt_0", "UA")
    await store.put_snooze("pmt_0", snooze())
    await store.put_failure(record(0, amount="0.00"))
    assert await counts(store, "state") == {"active": 1, "snoozed": 1}
    assert (await store.open_totals())["*"].amount == Decimal(0)
