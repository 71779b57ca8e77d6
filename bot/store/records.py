"""Failure records and the indexes that find them.

The record ``P failure:<payment id>`` is the truth; the index keys (open zset, one open zset
per cause, summary hash, reference hash, resolved zset) all share the hash tag
``{P idx}``, so the one transaction that keeps them in step with a record lands in one
Redis Cluster slot. :meth:`RecordStore.put_failure` writes the record first, then the
index: a crash between the two leaves an index that can be rebuilt from the records.
:meth:`RecordStore.put_failure_if_held` is the save a remedy makes: only while it still holds
the payment's lease (``set_if_held.lua``), so a remedy that lost its lease to another process
cannot overwrite what that process saved.

A save writes the record and brings every index in step in one atomic step inside Redis
(``index_failure.lua``): the open and per-cause zsets, the summary and reference hashes, the
resolved zset, and the indexes and running totals of :mod:`bot.store.indexes` (customer,
amount, first seen, paid day; adding one is a line there). ``/failed-payments list`` and its
totals read those (:meth:`RecordStore.open_page`, :mod:`bot.store.open_query`) without
reading every open failure. :meth:`RecordStore.ensure_indexes` (at start, and before the
first read of a process) rebuilds them from the summaries when they were written by an
older release or are out of step.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime
from decimal import Decimal

import redis.asyncio as aioredis
from pydantic import BaseModel
from redis.commands.core import AsyncScript

from bot.models import Cause, FailureRecord, FailureStatus, FailureSummary
from bot.store import open_query, open_without
from bot.store.base import StoreBase, as_text, index_prefix, lua_script
from bot.store.coordination import Lease
from bot.store.errors import translate_errors
from bot.store.indexes import INDEX_VERSION, day_of, hour_of, row_of
from bot.store.versioned import dump_versioned, load_versioned

log = logging.getLogger(__name__)

INDEX_SCRIPT = "index_failure.lua"
TEAM_TAGS_SCRIPT = "team_tags.lua"
REBUILD_BATCH = 500
_BY_CAUSE_SINCE = {
    "paid": ("paid", "paid_hour", "open"),
    "seen": ("seen_cause", "seen_cause_hour", "by:seen"),
}
"""``open_by_cause_since``'s day index, hour index and the zset scored by the same time."""


class LeaseNotHeld(Exception):
    """A save refused because the payment's lease is no longer held by whoever saves: it
    expired, or another process took it. Nothing was written."""


class OpenPage(BaseModel):
    """One page of open failures matching a filter, with the count and sum of all matches."""

    total: int
    total_amount: Decimal
    rows: list[FailureSummary]


def _by_cause(
    totals: list[tuple[str, open_query.Totals]], edge: list[tuple[str, int]]
) -> dict[Cause, tuple[int, Decimal]]:
    """Counts and amounts by cause from ``<cause>|<day or hour>`` totals and single
    failures ``(cause, millionths)``."""
    out: dict[Cause, tuple[int, Decimal]] = {}

    def add(cause: str, count: int, amount: Decimal) -> None:
        n, a = out.get(Cause(cause), (0, Decimal(0)))
        out[Cause(cause)] = (n + count, a + amount)

    for key, t in totals:
        add(key.rpartition("|")[0], t.count, t.amount)
    for cause, micro in edge:
        add(cause, 1, Decimal(micro).scaleb(-6))
    return out


class RecordStore(StoreBase):
    """Failure records, the open and resolved indexes, and the reference lookup."""

    def __init__(self, redis: aioredis.Redis, prefix: str = "fp:") -> None:
        super().__init__(redis, prefix)
        self._idx = index_prefix(prefix)
        self._index_script: AsyncScript | None = None
        self._indexes_checked = False
        self._fresh_version = f"{INDEX_VERSION}@{uuid.uuid4().hex}"

    # -- index keys ----------------------------------------------------------------------
    def _open_key(self, cause: Cause | None = None) -> str:
        return f"{self._idx}:open" + (f":{cause.value}" if cause else "")

    @property
    def _summary_key(self) -> str:
        return f"{self._idx}:summary"

    @property
    def _ref_key(self) -> str:
        return f"{self._idx}:ref"

    @property
    def _resolved_key(self) -> str:
        return f"{self._idx}:resolved"

    # -- records -------------------------------------------------------------------------
    async def get_failure(self, payment_id: str) -> FailureRecord | None:
        with translate_errors():
            raw = await self.redis.get(self.key("failure", payment_id))
        return None if raw is None else load_versioned(FailureRecord, raw)

    async def get_failures(self, payment_ids: list[str]) -> list[FailureRecord]:
        """Records for these ids, in order, skipping ids with none."""
        if not payment_ids:
            return []
        with translate_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for pid in payment_ids:
                    pipe.get(self.key("failure", pid))
                raws = await pipe.execute()
        return [load_versioned(FailureRecord, r) for r in raws if r is not None]

    async def find_by_reference(self, reference: str) -> str | None:
        with translate_errors():
            pid = await self.redis.hget(self._ref_key, reference.upper())
        return pid.decode() if isinstance(pid, bytes) else pid

    async def put_failure(self, rec: FailureRecord) -> None:
        """Write the record and bring every index in step with it, in one atomic step."""
        await self._save(rec, None)

    async def put_failure_if_held(self, rec: FailureRecord, lease: Lease) -> bool:
        """Write the record only while ``lease`` (the payment's, taken by a remedy) is still
        held by its taker — checked, written and indexed in one step inside Redis
        (``index_failure.lua``). False, and nothing written, when the lease expired or another
        process holds it now: a remedy that lost its lease never overwrites what the new
        holder saved. (Under Redis Cluster the lease and the record would have to share a
        slot; the bot runs on one Redis.)"""
        return await self._save(rec, lease)

    def _script(self) -> AsyncScript:
        if self._index_script is None:
            text = lua_script(TEAM_TAGS_SCRIPT) + lua_script(INDEX_SCRIPT)
            self._index_script = self.redis.register_script(text)
        return self._index_script

    def _team_keys(self, payment_id: str) -> list[str]:
        """The team keys a save reads to tag an open failure with its owner and state
        (``bot.store.team`` owns them; ``team_tags.lua`` reads them)."""
        return [self.key("team", "owner", payment_id), self.key("team", "snooze", payment_id)]

    def _index_args(self, summary: FailureSummary, *, resolved_at: float | None) -> list[str]:
        return [
            self._idx,
            summary.payment_id,
            summary.reference.upper(),
            "0" if resolved_at is not None else "1",
            repr(resolved_at or 0.0),
            summary.model_dump_json(),
            "" if resolved_at is not None else row_of(summary),
        ]

    async def _save(self, rec: FailureRecord, lease: Lease | None) -> bool:
        summary = FailureSummary.of(rec)
        resolved_at: float | None = None
        if rec.status == FailureStatus.RESOLVED:
            resolved_at = (rec.resolution.at if rec.resolution else rec.updated_at).timestamp()
        legacy = [f"open:{c.value}" for c in Cause]
        with translate_errors():
            wrote = await self._script()(
                keys=[
                    self.key("failure", rec.payment_id),
                    lease.key if lease else "-",
                    *self._team_keys(rec.payment_id),
                ],
                args=[
                    dump_versioned(rec),
                    lease.token if lease else "",
                    *self._index_args(summary, resolved_at=resolved_at),
                    "0",
                    self._fresh_version,
                    *legacy,
                ],
            )
        return bool(wrote)

    async def ensure_indexes(self) -> bool:
        """Check the indexes were built by this release and count what the open zset holds;
        otherwise rebuild them from the summaries (a store written by an older release keeps
        working). True when a rebuild was done."""
        with translate_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.get(f"{self._idx}:version")
                pipe.hget(f"{self._idx}:n:all", "*")
                pipe.zcard(self._open_key())
                pipe.hlen(self._summary_key)
                version, counted, zcard, summaries = await pipe.execute()
        self._indexes_checked = True
        built = as_text(version or b"").partition("@")[0]
        if built == INDEX_VERSION and int(counted or 0) == zcard == summaries:
            return False
        started = time.monotonic()
        done = await self.rebuild_indexes()
        log.info(
            "open failures' indexes rebuilt (%s): %d failures in %.1f s",
            "a new release's indexes" if built != INDEX_VERSION else "counts out of step",
            done,
            time.monotonic() - started,
        )
        return True

    async def rebuild_indexes(self) -> int:
        """Rebuild every index of open failures from the summary hash; the failures indexed.
        Safe while the bot saves: each failure is indexed by the same atomic step a save uses,
        and only while its summary is the one read."""
        keep = {self._summary_key, self._ref_key, self._resolved_key}
        with translate_errors():
            stale = [
                k
                async for k in self.redis.scan_iter(match=f"{self._idx}:*", count=1000)
                if as_text(k) not in keep
            ]
            for i in range(0, len(stale), REBUILD_BATCH):
                await self.redis.delete(*stale[i : i + REBUILD_BATCH])
            done = 0
            batch: list[tuple[str, str]] = []
            async for pid, raw in self.redis.hscan_iter(self._summary_key, count=REBUILD_BATCH):
                batch.append((as_text(pid), as_text(raw)))
                if len(batch) >= REBUILD_BATCH:
                    done += await self._reindex(batch)
                    batch = []
            done += await self._reindex(batch)
            await self.redis.set(f"{self._idx}:version", f"{INDEX_VERSION}@{uuid.uuid4().hex}")
        return done

    async def _reindex(self, batch: list[tuple[str, str]]) -> int:
        script = self._script()
        async with self.redis.pipeline(transaction=False) as pipe:
            for _pid, raw in batch:
                summary = FailureSummary.model_validate_json(raw)
                args = ["", "", *self._index_args(summary, resolved_at=None), "1", ""]
                args[7] = raw  # compare with the stored bytes, not a re-dump
                keys = ["-", "-", *self._team_keys(summary.payment_id)]
                await script(keys=keys, args=args, client=pipe)
            return sum(int(x) for x in await pipe.execute())

    # -- open failures -------------------------------------------------------------------
    async def open_ids(
        self,
        cause: Cause | None = None,
        *,
        start: int = 0,
        stop: int = -1,
        newest_first: bool = True,
    ) -> list[str]:
        key = self._open_key(cause)
        with translate_errors():
            if newest_first:
                ids = await self.redis.zrevrange(key, start, stop)
            else:
                ids = await self.redis.zrange(key, start, stop)
        return [as_text(i) for i in ids]

    async def which_open(self, payment_ids: list[str]) -> set[str]:
        """Those of ``payment_ids`` that are open (one ``ZMSCORE``)."""
        if not payment_ids:
            return set()
        with translate_errors():
            scores = await self.redis.zmscore(self._open_key(), payment_ids)
        return {pid for pid, sc in zip(payment_ids, scores, strict=True) if sc is not None}

    async def open_count(self, cause: Cause | None = None) -> int:
        with translate_errors():
            return int(await self.redis.zcard(self._open_key(cause)))

    async def open_summaries(self) -> list[FailureSummary]:
        """Every open failure's summary row, newest paid first."""
        with translate_errors():
            raw = await self.redis.hgetall(self._summary_key)
        rows = [FailureSummary.model_validate_json(v) for v in raw.values()]
        rows.sort(key=lambda s: (s.paid_at, s.payment_id), reverse=True)
        return rows

    async def open_page(
        self,
        *,
        cause: Cause | None = None,
        customer: str | None = None,
        min_amount: Decimal | None = None,
        seen_before: datetime | None = None,
        tags: dict[str, list[str]] | None = None,
        left_out: tuple[str, str] | None = None,
        offset: int = 0,
        limit: int = 10,
    ) -> OpenPage:
        """Open failures newest paid first, through the indexes: those of ``cause``, whose
        customer name contains ``customer`` (case-insensitive, any script), of at least
        ``min_amount``, first seen at or before ``seen_before``, with any of the values of
        each index named in ``tags`` (e.g. ``{"owner": ["U123"]}``), and without those
        whose index ``left_out[0]`` has the value ``left_out[1]`` (e.g. ``("state",
        "snoozed")``: subtracted while few, :func:`open_without.query_without`). Answers their
        count, their amounts' sum and the rows ``offset .. offset+limit``."""
        if not self._indexes_checked:
            await self.ensure_indexes()
        with translate_errors():
            cs = await open_query.constraints_for(
                self.redis,
                self._idx,
                cause=cause.value if cause is not None else None,
                customer=customer,
                min_amount=min_amount,
                seen_before=seen_before,
                tags=tags,
            )
            if left_out is None:
                totals, pids = await open_query.query(self.redis, self._idx, cs, offset, limit)
            else:
                totals, pids = await open_without.query_without(
                    self.redis, self._idx, cs, left_out, offset, limit
                )
            raws = await self.redis.hmget(self._summary_key, pids) if pids else []
        rows = [FailureSummary.model_validate_json(r) for r in raws if r is not None]
        return OpenPage(total=totals.count, total_amount=totals.amount, rows=rows)

    async def open_totals(self, dim: str = "all") -> dict[str, open_query.Totals]:
        """The running count and amount of open failures by each value of the index
        ``dim`` (``all``: the one value ``*``; ``cause``; ``paid``: ``<cause>|<day>``)."""
        if not self._indexes_checked:
            await self.ensure_indexes()
        with translate_errors():
            return await open_query.totals_by(self.redis, self._idx, dim)

    async def open_by_cause_since(
        self, since: datetime, *, by: str = "paid"
    ) -> dict[Cause, tuple[int, Decimal]]:
        """Open failures paid (``by="paid"``) or first seen (``by="seen"``) at or after
        ``since``, counted and summed by cause: the running totals of the days after
        ``since``'s, of the hours after its hour in its day, and the failures of its own
        hour one by one. The cost follows the days the open failures span, not their
        number."""
        return (await self.open_by_cause_since_each([since], by=by))[0]

    async def open_by_cause_since_each(
        self, sinces: list[datetime], *, by: str = "paid"
    ) -> list[dict[Cause, tuple[int, Decimal]]]:
        """:meth:`open_by_cause_since` for each of ``sinces``, the days' totals read once."""
        if not self._indexes_checked:
            await self.ensure_indexes()
        day_dim, hour_dim, zset = _BY_CAUSE_SINCE[by]
        with translate_errors():
            days = await open_query.totals_by(self.redis, self._idx, day_dim)
            causes = {k.partition("|")[0] for k in days}
            out = []
            for since in sinces:
                first_day, first_hour = day_of(since), hour_of(since)
                hours = range(first_hour + 1, (first_day + 1) * 24)
                by_hour = await open_query.totals_of(
                    self.redis, self._idx, hour_dim, [f"{c}|{h}" for c in causes for h in hours]
                )
                edge = await open_query.edge_by_cause(self.redis, self._idx, zset, since)
                later = {k: t for k, t in days.items() if int(k.rpartition("|")[2]) > first_day}
                out.append(_by_cause([*later.items(), *by_hour.items()], edge))
        return out

    # -- resolved failures ---------------------------------------------------------------
    async def resolved_ids(self, since: datetime, until: datetime | None = None) -> list[str]:
        hi: float | str = until.timestamp() if until else "+inf"
        with translate_errors():
            ids = await self.redis.zrangebyscore(self._resolved_key, since.timestamp(), hi)
        return [as_text(i) for i in ids]
