"""Benchmark: what the bot's reads cost as the backlog grows — 1,000, 10,000, 100,000 open.

    python -m bench.bench_scale [--sizes 1000,10000,100000] [--runs 30]

For each size, on a fresh key prefix of a real Redis, this process stores that many open
failures through ``Store.put_failure`` (the save that keeps every index and running total in
step), then ``--resolved`` resolved ones (the same number at every size: how many failures
a team resolves in a stats window is its pace, not its backlog; so are the ``TAKEN`` open
failures it has taken and the ``SNOOZED`` it has snoozed), and times, in this process (as
the bot calls them):

- **list**: the first page and header totals of ``/failed-payments`` (``listing.first_page``)
  for each filter kind — none, cause, customer (Latin-1 and beyond), age, amount, all
  combined;
- **stats**: ``/failed-payments stats 7d`` (``commands.stats.build_stats``; ConnectBooster's
  counts answered by a stub, so only the bot's own reads are timed);
- **App Home**: what a finance user's Home tab shows (``team.home.gather``: by cause and
  age, theirs, the unowned waiting longest, the snoozed);
- **poll cycle**: the store side of a cycle that finds nothing new — the sweep
  (``poll.sweep.sweep_resolved``: ConnectBooster's lists stubbed empty, its rotating window
  of 50 reads answered "still failing") and the open count it reports;

and measures Redis memory per open failure and per resolved record (``MEMORY USAGE`` of every
key under the prefix, exact, summed: other users of the same Redis do not blur it) and this
process's resident memory. The figures should stay flat (or grow slowly) from 1,000 to
100,000: every read goes through the running totals and per-value indexes, never a scan of
the open failures. (The list leaves the snoozed out by subtracting them while few
(``open_without.FEW_LEFT_OUT``, ``EXCLUDE_CAP``): its cost then grows with the snoozed, which
``--snoozed`` sets.) Writes ``.bench-results/scale-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

from bench.bench_command import _record
from bench.common import percentile, write_result
from bot.commands import listing
from bot.commands.parse import parse_command
from bot.models import FailureStatus, Resolution, Snooze, SnoozeKind
from bot.store import Store

KINDS = {
    "none": "",
    "cause": "cause:credit-memo",
    "customer": "customer:northwind",
    "customer (Łódź)": "customer:łódź",
    "older": "older:3d",
    "min": "min:500",
    "combined": "cause:paid-manually customer:dental older:1d min:100",
}
OWNER = "U0OWNER"
TAKEN, SNOOZED = 300, 100
FLAT_RATIO = 3.0  # 100x the failures may cost at most this many times the time


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


async def _memory(store: Store) -> int:
    """Bytes of every key under the store's prefix (exact ``MEMORY USAGE``)."""
    r = store.redis
    keys = [k async for k in r.scan_iter(match=f"{store.prefix}*", count=2000)]
    total = 0
    for i in range(0, len(keys), 1000):
        async with r.pipeline(transaction=False) as pipe:
            for k in keys[i : i + 1000]:
                pipe.memory_usage(k, samples=0)
            total += sum(int(x or 0) for x in await pipe.execute())
    return total


async def _seed(
    store: Store, n: int, first: int, now: datetime, resolved: bool, snoozed: int = SNOOZED
) -> None:
    rnd = random.Random(first)
    pending: list[Awaitable[Any]] = []
    for i in range(first, first + n):
        rec = _record(i, rnd, now)
        if resolved:
            rec.status = FailureStatus.RESOLVED
            rec.resolution = Resolution(how="synced", by=None, at=now - timedelta(days=1))
        pending.append(_save(store, rec, now, snoozed if not resolved else None))
        if len(pending) == 50:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)


async def _save(store: Store, rec: Any, now: datetime, snoozed: int | None) -> None:
    """Save ``rec``; of the first open ones (``snoozed`` not ``None``), ``TAKEN`` are taken
    and ``snoozed`` snoozed."""
    await store.put_failure(rec)
    i = int(rec.payment_id.split("_")[1])
    if snoozed is not None and i % 3 == 0 and i < 3 * TAKEN:
        await store.take_owner(rec.payment_id, OWNER)
    if snoozed is not None and i % 7 == 1 and i < 7 * snoozed:
        await store.put_snooze(
            rec.payment_id, Snooze(kind=SnoozeKind.NEXT_SYNC, by=OWNER, reason="later", at=now)
        )


class _CB:
    """ConnectBooster as the stats and the sweep see it when nothing changed."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    async def sync_stats(self, since: datetime) -> Any:
        from cb.models import SyncStats

        return SyncStats(since=since, total=1000, failed=10, synced=990)

    async def list_payments(self, *_a: Any, **_k: Any) -> AsyncIterator[Any]:
        for _ in ():
            yield None

    async def get_payment(self, pid: str) -> Any:
        rnd = random.Random(pid)
        return _record(int(pid.split("_")[1]), rnd, self.now).payment


def _measures(store: Store, now: datetime) -> dict[str, Callable[[], Awaitable[Any]]]:
    """What is timed, by name, for one store."""
    from bot.commands.stats import build_stats
    from bot.poll.report import PollReport
    from bot.poll.sweep import sweep_resolved
    from bot.team.home import gather

    services = cast(
        Any,
        SimpleNamespace(
            store=store,
            cb=_CB(now),
            contract=lambda: _CB(now),
            clock=lambda: now,
            settings=SimpleNamespace(alert_threshold=Decimal("0.05")),
        ),
    )
    out: dict[str, Callable[[], Awaitable[Any]]] = {}
    for kind, text in KINDS.items():
        f = parse_command(text).filters  # type: ignore[union-attr]
        out[f"list {kind}"] = lambda f=f: listing.first_page(store, f, now, user="U1")
    out["stats 7d"] = lambda: build_stats(services, 7, now)
    out["App Home"] = lambda: gather(services, OWNER)

    async def cycle() -> None:
        report = PollReport(started_at=now)
        await sweep_resolved(services, report, now, set(), page=100)
        report.still_open = await store.open_count()

    out["poll cycle (store side)"] = cycle
    return out


async def _prepare(
    redis: Any, n: int, resolved: int, now: datetime, snoozed: int = SNOOZED
) -> tuple[Store, dict[str, Any]]:
    """A store holding ``n`` open and ``resolved`` resolved failures, and its memory."""
    store = Store(redis, f"fpscale:{uuid.uuid4().hex[:8]}:")
    t0 = time.perf_counter()
    await _seed(store, n, 0, now, resolved=False, snoozed=snoozed)
    seed_s = time.perf_counter() - t0
    mem_open = await _memory(store)
    await _seed(store, resolved, n, now, resolved=True)
    mem_all = await _memory(store)
    assert await store.open_count() == n
    for fn in _measures(store, now).values():
        await fn()  # warm: the indexes' values read once, scripts loaded
    return store, {
        "open": n,
        "resolved": resolved,
        "seed_s": round(seed_s, 1),
        "redis_bytes_per_open": round(mem_open / n),
        "redis_bytes_per_resolved": round((mem_all - mem_open) / max(1, resolved)),
        "rss_mb": _rss_mb(),
        "customers": int(await redis.hlen(f"{store.prefix}{{{store.prefix}idx}}:n:customer")),
    }


async def _drop(store: Store) -> None:
    keys = [k async for k in store.redis.scan_iter(match=f"{store.prefix}*", count=2000)]
    for i in range(0, len(keys), 1000):
        await store.redis.delete(*keys[i : i + 1000])


def table(r: dict[str, Any]) -> str:
    """The scale table: one row per measure, one column per size, and the growth."""
    sizes = r["sizes"]
    head = f"{'measure (p50 / p99 ms)':<28}" + "".join(f"{s['open']:>18,}" for s in sizes)
    lines = [head + f"{'growth':>9}{'last x10':>10}"]
    measures = [k for k in sizes[0] if isinstance(sizes[0][k], dict)]
    for m in measures:
        cells = "".join(f"{s[m]['p50']:>10} /{s[m]['p99']:>6}" for s in sizes)
        grow = sizes[-1][m]["p50"] / max(sizes[0][m]["p50"], 0.01)
        last = sizes[-1][m]["p50"] / max(sizes[-2][m]["p50"], 0.01) if len(sizes) > 1 else 1
        lines.append(f"{m:<28}{cells}{grow:>8.1f}x{last:>9.1f}x")
    for m, label in (
        ("redis_bytes_per_open", "Redis bytes / open failure"),
        ("redis_bytes_per_resolved", "Redis bytes / resolved"),
        ("rss_mb", "RSS after seeding (MB)"),
        ("customers", "distinct customer names"),
    ):
        lines.append(f"{label:<28}" + "".join(f"{s[m]:>18,}" for s in sizes))
    lines.append(
        f"target: each time at the largest size within {FLAT_RATIO}x of the smallest: "
        + ("met" if r["flat"] else f"MISSED ({', '.join(r['not_flat'])})")
    )
    return "\n".join(lines)


async def run(sizes: list[int], resolved: int, runs: int, snoozed: int = SNOOZED) -> dict[str, Any]:
    """Seed every size first, then time the sizes in turn, run after run (a load that comes
    and goes on a shared machine falls on every size alike)."""
    import redis.asyncio as aioredis

    from tests.redis_server import ensure_redis

    redis = aioredis.Redis.from_url(ensure_redis())
    now = datetime.now(UTC)
    stores: list[Store] = []
    try:
        rows = []
        for n in sizes:
            store, row = await _prepare(redis, n, resolved, now, snoozed)
            stores.append(store)
            rows.append(row)
        measures = [_measures(st, now) for st in stores]
        samples: list[dict[str, list[float]]] = [{m: [] for m in ms} for ms in measures]
        for _ in range(runs):
            for ms, got in zip(measures, samples, strict=True):
                for name, fn in ms.items():
                    t0 = time.perf_counter()
                    await fn()
                    got[name].append((time.perf_counter() - t0) * 1000)
        for row, got in zip(rows, samples, strict=True):
            for name, xs in got.items():
                row[name] = {
                    "p50": round(statistics.median(xs), 2),
                    "p99": round(percentile(xs, 0.99), 2),
                }
    finally:
        for st in stores:
            await _drop(st)
        await redis.aclose()
    names = [k for k in rows[0] if isinstance(rows[0][k], dict)]
    not_flat = [m for m in names if rows[-1][m]["p50"] > FLAT_RATIO * max(rows[0][m]["p50"], 1.0)]
    return {
        "bench": "scale",
        "at": datetime.now(UTC).isoformat(),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
        "taken": TAKEN,
        "snoozed": snoozed,
        "sizes": rows,
        "flat_ratio": FLAT_RATIO,
        "not_flat": not_flat,
        "flat": not not_flat,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table and write ``.bench-results/scale-<time>.json``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--resolved", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--snoozed", type=int, default=SNOOZED, help="snoozed at every size")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    result = asyncio.run(run(sizes, args.resolved, args.runs, args.snoozed))
    print(table(result))
    print(f"wrote {write_result('scale', result)}")
    return result


if __name__ == "__main__":
    main()
