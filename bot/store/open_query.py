"""Open failures read through the indexes: a filtered first page and totals without a scan.

:func:`open_page` answers ``/failed-payments list`` (and any index a caller names) from the
indexes of :mod:`bot.store.indexes`, in a few round trips whatever the number of open
failures:

- no filter: the running totals and ``ZREVRANGE`` of the page;
- one filter (a cause, a customer text, a minimum amount, an age, a tag such as an owner):
  the totals are the running totals of the values it covers (the customer text is matched,
  in Python and so in every script, against the distinct customer names, not the failures),
  plus the failures of the one partial bucket of a range filter, read by score; the page is
  merged from the top of each value's zset;
- several filters: the smallest filter's failures (by its running count) are the
  candidates, each tested against the others by its small ``row``.

The cost follows the number of distinct values a filter covers and the failures of the
smallest filter, not the number of open failures.
"""

from __future__ import annotations

import heapq
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis

from bot.store import indexes
from bot.store.base import as_text, lua_script
from bot.store.indexes import (
    HOUR,
    Constraint,
    Row,
    min_amount_constraint,
    seen_before_constraint,
    tag_constraint,
)

TOP_SCRIPT = "open_top.lua"
MONEY_SCRIPT = "add_millionths.lua"  # prepended to the three that add amounts
SUM_SCRIPT = "sum_totals.lua"
FILTER_SCRIPT = "filter_page.lua"
ROWS_SCRIPT = "filter_rows.lua"
_FIELDS = {"by:amount": "a", "by:seen": "s"}  # a range's zset -> its field of the row


def _with_money(name: str) -> str:
    return lua_script(MONEY_SCRIPT) + lua_script(name)


@dataclass(frozen=True)
class Totals:
    """How many open failures, and their amounts in millionths."""

    count: int
    micros: int

    @property
    def amount(self) -> Decimal:
        total = Decimal(self.micros).scaleb(-6)
        cents = total.quantize(Decimal("0.01"))
        return cents if cents == total else total


_VALUES: dict[tuple[str, str], tuple[str, list[str]]] = {}
"""The values of each index as last read, by (index prefix, dim): read again only when the
index's values changed (the counter ``values`` the save script bumps when a value appears
or goes), so a filter over thousands of customer names costs one ``HGET``."""


async def values_of(redis: aioredis.Redis, ix: str, dim: str) -> list[str]:
    """The values of the index ``dim`` that have open failures (cached until they change)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hget(f"{ix}:values", dim)
        pipe.get(f"{ix}:version")  # a rebuild's nonce: a counter reset is never mistaken
        changed, built = await pipe.execute()
    version = f"{as_text(changed or b'0')}@{as_text(built or b'')}"
    cached = _VALUES.get((ix, dim))
    if cached is not None and cached[0] == version:
        return cached[1]
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hget(f"{ix}:values", dim)
        pipe.get(f"{ix}:version")
        pipe.hkeys(f"{ix}:n:{dim}")
        changed, built, values = await pipe.execute()
    got = [as_text(v) for v in values]
    if len(_VALUES) > 1000:  # many stores in one process (tests): start over
        _VALUES.clear()
    _VALUES[(ix, dim)] = (f"{as_text(changed or b'0')}@{as_text(built or b'')}", got)
    return got


async def constraints_for(
    redis: aioredis.Redis,
    ix: str,
    *,
    cause: str | None,
    customer: str | None,
    min_amount: Decimal | None,
    seen_before: datetime | None,
    tags: dict[str, list[str]] | None,
) -> list[Constraint]:
    """The filters as constraints on the indexes."""
    out: list[Constraint] = []
    if cause is not None:
        out.append(tag_constraint("cause", [cause]))
    if customer:
        needle = customer.lower()
        names = await values_of(redis, ix, "customer")
        out.append(tag_constraint("customer", [n for n in names if needle in n]))
    if min_amount is not None:
        out.append(min_amount_constraint(min_amount, await values_of(redis, ix, "amount")))
    if seen_before is not None:
        out.append(seen_before_constraint(seen_before, await values_of(redis, ix, "seen")))
    for dim, values in (tags or {}).items():
        out.append(tag_constraint(dim, values))
    return out


async def _rows(redis: aioredis.Redis, ix: str, pids: list[str]) -> list[Row]:
    if not pids:
        return []
    raws = await redis.hmget(f"{ix}:row", pids)
    return [Row.parse(p, r) for p, r in zip(pids, raws, strict=True) if r is not None]


async def _edge_rows(redis: aioredis.Redis, ix: str, c: Constraint) -> list[Row]:
    if c.edge is None:
        return []
    key, lo, hi = c.edge
    pids = [as_text(p) for p in await redis.zrangebyscore(f"{ix}:{key}", lo, hi)]
    return [r for r in await _rows(redis, ix, pids) if c.test(r)]


def _zset(ix: str, dim: str, value: str) -> str:
    for i in indexes.INDEXES:
        if i.dim == dim and i.key is not None:
            return f"{ix}:{i.key(dim, value)}"
    raise KeyError(f"the index {dim!r} keeps no zset")


async def _sizes(redis: aioredis.Redis, ix: str, c: Constraint) -> tuple[int, int]:
    """The running count and amount of ``c``'s full values, added up inside Redis
    (``sum_totals.lua``, one call per index)."""
    by_dim: dict[str, list[str]] = {}
    for dim, v in c.parts:
        by_dim.setdefault(dim, []).append(v)
    count = micros = 0
    for dim, values in by_dim.items():
        n, whole, frac = await redis.eval(
            _with_money(SUM_SCRIPT), 2, f"{ix}:n:{dim}", f"{ix}:m:{dim}", *values
        )
        count += int(n)
        micros += int(whole) * 1_000_000 + int(frac)
    return count, micros


async def _union_top(
    redis: aioredis.Redis, ix: str, keys: list[list[str]], want: int
) -> list[tuple[float, str]]:
    """The intersection of the unions ``keys`` (each a list of zsets scored by paid time),
    computed inside Redis in one transaction on throwaway keys: its top ``want`` (every
    member when ``want`` is negative) as ``(paid, id)``."""
    tmp = f"{ix}:tmp:{uuid.uuid4().hex}"
    parts: list[str] = []
    async with redis.pipeline(transaction=True) as pipe:
        for i, union in enumerate(keys):
            if len(union) == 1:
                parts.append(union[0])
            else:
                parts.append(f"{tmp}:{i}")
                pipe.zunionstore(parts[-1], union, aggregate="MAX")
        if len(parts) > 1:
            pipe.zinterstore(tmp, parts, aggregate="MAX")
            top = tmp
        else:
            top = parts[0]
        pipe.zrevrange(top, 0, want - 1 if want > 0 else -1, withscores=True)
        temporary = [k for k in [*parts, tmp] if k.startswith(tmp)]
        pipe.unlink(*temporary)
        got = (await pipe.execute())[-2]
    return [(float(sc), as_text(m)) for m, sc in got]


def _keys(ix: str, c: Constraint) -> list[str]:
    return [_zset(ix, dim, v) for dim, v in c.parts]


async def _single(
    redis: aioredis.Redis, ix: str, c: Constraint, offset: int, limit: int
) -> tuple[Totals, list[str]]:
    """Totals and page of one constraint: running totals, plus its edge; the page is the
    top of each of its values' zsets, merged inside Redis (``open_top.lua``), then with the
    edge."""
    count, amount = await _sizes(redis, ix, c)
    edge = await _edge_rows(redis, ix, c)
    count += len(edge)
    amount += sum(r.amount for r in edge)
    want = offset + limit
    heads = [(r.paid, r.pid) for r in edge]
    if c.parts and want > 0:
        keys = _keys(ix, c)
        got = await redis.eval(lua_script(TOP_SCRIPT), len(keys), *keys, want)
        heads += [(float(got[i + 1]), as_text(got[i])) for i in range(0, len(got), 2)]
    top = heapq.nlargest(want, heads)
    return Totals(count, amount), [pid for _, pid in top[offset:want]]


async def _filtered(
    redis: aioredis.Redis, ix: str, cs: list[Constraint], offset: int, limit: int
) -> tuple[Totals, list[str]]:
    """Several filters, some of them values: their intersection built inside Redis, then
    the range filters, the count, the sum and the page in one pass there
    (``filter_page.lua``), all in one transaction on throwaway keys."""
    plain = [c for c in cs if c.bounds is None]
    ranged = [c.bounds for c in cs if c.bounds is not None]
    tmp = f"{ix}:tmp:{uuid.uuid4().hex}"
    parts: list[str] = []
    bounds = {f"{ix}:by:amount": (float("-inf"), float("inf"))}
    for key, lo, hi in ranged:
        bounds[f"{ix}:{key}"] = (lo, hi)
    args: list[Any] = [offset, limit]
    for lo, hi in bounds.values():
        args += [_score(lo), _score(hi)]
    async with redis.pipeline(transaction=True) as pipe:
        for i, c in enumerate(plain):
            keys = _keys(ix, c)
            if len(keys) == 1:
                parts.append(keys[0])
            else:
                parts.append(f"{tmp}:{i}")
                pipe.zunionstore(parts[-1], keys, aggregate="MAX")
        candidates = parts[0]
        if len(parts) > 1:
            pipe.zinterstore(tmp, parts, aggregate="MAX")
            candidates = tmp
        pipe.eval(_with_money(FILTER_SCRIPT), 1 + len(bounds), candidates, *bounds, *args)
        pipe.unlink(tmp, *[p for p in parts if p.startswith(tmp)])
        got = (await pipe.execute())[-2]
    count, whole, frac = (int(x) for x in got[:3])
    return Totals(count, whole * 1_000_000 + frac), [as_text(x) for x in got[3:]]


def _score(x: float) -> str:
    return "-inf" if x == float("-inf") else "+inf" if x == float("inf") else repr(x)


async def filter_rows(
    redis: aioredis.Redis,
    ix: str,
    drive: Constraint,
    others: list[Constraint],
    offset: int,
    limit: int,
) -> tuple[Totals, list[str]]:
    """``drive`` (a value filter with few failures) and ``others``: ``drive``'s failures are
    the candidates, each tested against the others by its row inside Redis
    (``filter_rows.lua``), so the cost follows ``drive``'s failures alone."""
    spec = {
        "tags": [[c.dim, c.full] for c in others if c.bounds is None],
        "ranges": [
            [_FIELDS[c.bounds[0]], _finite(c.bounds[1]), _finite(c.bounds[2])]
            for c in others
            if c.bounds is not None
        ],
    }
    keys = _keys(ix, drive)
    got = await redis.eval(
        _with_money(ROWS_SCRIPT),
        1 + len(keys),
        f"{ix}:row",
        *keys,
        offset,
        limit,
        json.dumps(spec, ensure_ascii=False),
    )
    count, whole, frac = (int(x) for x in got[:3])
    return Totals(count, whole * 1_000_000 + frac), [as_text(x) for x in got[3:]]


def _finite(x: float) -> float | None:
    return None if x in (float("inf"), float("-inf")) else x


async def _several(
    redis: aioredis.Redis, ix: str, cs: list[Constraint], offset: int, limit: int
) -> tuple[Totals, list[str]]:
    """Totals and page of several constraints: filtered inside Redis when any is a value
    filter; else (ranges only) the smaller range's failures, each tested."""
    if any(c.bounds is None for c in cs):
        return await _filtered(redis, ix, cs, offset, limit)
    sizes = [(await _sizes(redis, ix, c))[0] for c in cs]
    drive = cs[sizes.index(min(sizes))]
    pids = []
    if drive.parts:
        pids = [pid for _, pid in await _union_top(redis, ix, [_keys(ix, drive)], -1)]
    rows = await _rows(redis, ix, pids) + await _edge_rows(redis, ix, drive)
    keep = [r for r in rows if all(c.test(r) for c in cs)]
    keep.sort(key=lambda r: (r.paid, r.pid), reverse=True)
    totals = Totals(len(keep), sum(r.amount for r in keep))
    return totals, [r.pid for r in keep[offset : offset + limit]]


async def query(
    redis: aioredis.Redis, ix: str, cs: list[Constraint], offset: int, limit: int
) -> tuple[Totals, list[str]]:
    """Totals of the open failures passing every constraint, and the ids of the page
    ``offset .. offset + limit`` newest paid first."""
    offset, limit = max(0, offset), max(0, limit)
    if any(c.impossible for c in cs):
        return Totals(0, 0), []  # a filter nothing can pass (a customer nobody has)
    if not cs:
        cs = [tag_constraint("all", ["*"])]
    if len(cs) == 1:
        return await _single(redis, ix, cs[0], offset, limit)
    return await _several(redis, ix, cs, offset, limit)


async def edge_by_cause(
    redis: aioredis.Redis, ix: str, zset: str, since: datetime
) -> list[tuple[str, int]]:
    """``(cause, amount in millionths)`` of the open failures whose score in ``zset``
    (``open``: paid time; ``by:seen``: first-seen time) is from ``since`` to the end of its
    hour (the partial hour of a window)."""
    end = (int(since.timestamp() // HOUR) + 1) * HOUR
    pids = [
        as_text(p) for p in await redis.zrangebyscore(f"{ix}:{zset}", since.timestamp(), f"({end}")
    ]
    return [(next(iter(r.tags["cause"])), r.amount) for r in await _rows(redis, ix, pids)]


async def totals_by(redis: aioredis.Redis, ix: str, dim: str) -> dict[str, Totals]:
    """The running totals of every value of the index ``dim``."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hgetall(f"{ix}:n:{dim}")
        pipe.hgetall(f"{ix}:m:{dim}")
        ns, ms = await pipe.execute()
    return {as_text(k): Totals(int(n), int(ms.get(k, 0))) for k, n in ns.items()}


async def totals_of(
    redis: aioredis.Redis, ix: str, dim: str, values: list[str]
) -> dict[str, Totals]:
    """The running totals of these values of the index ``dim`` (those that have failures)."""
    if not values:
        return {}
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hmget(f"{ix}:n:{dim}", values)
        pipe.hmget(f"{ix}:m:{dim}", values)
        ns, ms = await pipe.execute()
    return {v: Totals(int(n), int(m or 0)) for v, n, m in zip(values, ns, ms, strict=True) if n}
