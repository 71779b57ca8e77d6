"""The list without its snoozed failures: :func:`query_without`, on top of
:mod:`bot.store.open_query`.

The snoozed are usually few, so they are read and taken away from what a filter covers: their
totals from the filter's running totals, their ids skipped in the filter's page (read only as
much longer as the skipped ids within it need). With no filter the awake failures' own index
value answers at once, whatever is snoozed; with very many snoozed passing a filter, the
awake value becomes one more filter.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.store.indexes import Constraint, tag_constraint
from bot.store.open_query import Totals, filter_rows, query, values_of

FEW_LEFT_OUT, EXCLUDE_CAP = 500, 5000
"""Up to ``FEW_LEFT_OUT`` left-out failures are tested one by one by their rows inside Redis
(about 10 µs each; cheaper than intersecting every failure a filter covers); more, and Redis
intersects them with the filter. Up to ``EXCLUDE_CAP`` that pass the filter are subtracted;
more, and the kept values become one more filter, which under a range filter (age, amount)
reads every kept failure: measured with ``bench.bench_scale --snoozed 3000`` at 100,000
open, ``older:3d`` took 540 ms that way against 31 ms subtracted."""


async def query_without(
    redis: aioredis.Redis,
    ix: str,
    cs: list[Constraint],
    left_out: tuple[str, str],
    offset: int,
    limit: int,
) -> tuple[Totals, list[str]]:
    """:func:`query` with the failures that have the value ``left_out[1]`` in the index
    ``left_out[0]`` left out (the snoozed, from the list). Without a filter the index's
    other values are read as they are (their running totals and zsets). Otherwise, when at
    most ``EXCLUDE_CAP`` of them pass ``cs``, they are subtracted — their totals from the
    totals, their ids skipped in a page read only as much longer as the skipped ids within
    it need — so the cost is that of ``cs`` plus the left-out failures, flat as the backlog
    grows; else the index's other values become one more constraint."""
    offset, limit = max(0, offset), max(0, limit)
    dim, value = left_out
    left = tag_constraint(dim, [value])
    if any(c.impossible for c in cs):
        return Totals(0, 0), []
    if not cs:  # no filter: the kept values' own running totals and zsets
        return await query(redis, ix, [await _kept(redis, ix, left_out)], offset, limit)
    if int(await redis.hget(f"{ix}:n:{dim}", value) or 0) <= FEW_LEFT_OUT:
        # few left out: theirs tested one by one, not the others' failures intersected
        cut_totals, cut_ids = await filter_rows(redis, ix, left, cs, 0, EXCLUDE_CAP)
    else:
        cut_totals, cut_ids = await query(redis, ix, [*cs, left], 0, EXCLUDE_CAP)
    if cut_totals.count > EXCLUDE_CAP:
        return await query(redis, ix, [*cs, await _kept(redis, ix, left_out)], offset, limit)
    totals, kept = await _page_skipping(redis, ix, cs, set(cut_ids), offset, limit)
    return Totals(totals.count - cut_totals.count, totals.micros - cut_totals.micros), kept


async def _kept(redis: aioredis.Redis, ix: str, left_out: tuple[str, str]) -> Constraint:
    """The failures with any other value of the index ``left_out[0]`` than ``left_out[1]``."""
    dim, value = left_out
    return tag_constraint(dim, [v for v in await values_of(redis, ix, dim) if v != value])


async def _page_skipping(
    redis: aioredis.Redis, ix: str, cs: list[Constraint], cut: set[str], offset: int, limit: int
) -> tuple[Totals, list[str]]:
    """:func:`query`'s totals of ``cs`` and its page ``offset .. offset + limit`` with the
    ids in ``cut`` skipped: read longer by twice the skipped ids it met each time, until the
    page is full or ``cs`` has no more."""
    want, extra = offset + limit, 0
    while True:
        totals, ids = await query(redis, ix, cs, 0, want + extra)
        kept = [pid for pid in ids if pid not in cut]
        if len(kept) >= want or len(ids) < want + extra:
            return totals, kept[offset:want]
        extra = 2 * (len(ids) - len(kept))  # more than before: the page is not full
