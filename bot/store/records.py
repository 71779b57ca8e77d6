"""Failure records and the indexes that find them.

The record ``P failure:<payment id>`` is the truth; the index keys (open zset, one open zset
per cause, summary hash, reference hash, resolved zset) all share the hash tag
``{P idx}``, so the one transaction that keeps them in step with a record lands in one
Redis Cluster slot. :meth:`RecordStore.put_failure` writes the record first, then the
index: a crash between the two leaves an index that can be rebuilt from the records.
:meth:`RecordStore.put_failure_if_held` is the save a remedy makes: only while it still holds
the payment's lease (``set_if_held.lua``), so a remedy that lost its lease to another process
cannot overwrite what that process saved.

``/failed-payments list`` over thousands of open failures is answered inside Redis by the
script ``open_page.lua`` (:meth:`RecordStore.open_page`): one round trip that filters,
counts, sums and pages the summary rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError

from bot.models import Cause, FailureRecord, FailureStatus, FailureSummary
from bot.store.base import StoreBase, as_text, lua_script
from bot.store.coordination import Lease
from bot.store.errors import translate_errors
from bot.store.versioned import dump_versioned, load_versioned

OPEN_PAGE_SCRIPT = "open_page.lua"
SET_IF_HELD_SCRIPT = "set_if_held.lua"
_MICRO = Decimal("0.000001")


class LeaseNotHeld(Exception):
    """A save refused because the payment's lease is no longer held by whoever saves: it
    expired, or another process took it. Nothing was written."""


class OpenPage(BaseModel):
    """One page of open failures matching a filter, with the count and sum of all matches."""

    total: int
    total_amount: Decimal
    rows: list[FailureSummary]


def _open_page_args(
    *,
    cause: Cause | None,
    customer: str | None,
    min_amount: Decimal | None,
    seen_before: datetime | None,
    offset: int,
    limit: int,
) -> list[str] | None:
    """The ``ARGV`` of ``open_page.lua`` for these filters, or ``None`` when the script
    cannot apply them exactly (letters beyond Latin-1, an amount finer than a millionth)."""
    needle = (customer or "").lower()
    latin1 = not needle.isascii()
    if latin1 and not all(
        c.isascii() or ("\u00df" <= c <= "\u00fe" and c != "\u00f7") for c in needle
    ):
        return None  # the script lowercases ASCII and Latin-1 letters only
    min_args = ["", ""]
    if min_amount is not None:
        q = min_amount.quantize(_MICRO)
        if q != min_amount or abs(q) >= Decimal(10) ** 13:
            return None
        whole = int(q)  # toward zero, as the script splits amounts
        min_args = [str(whole), str(int((q - whole) * 1_000_000))]
    return [
        needle,
        *min_args,
        str(int(seen_before.timestamp())) if seen_before is not None else "",
        str(max(0, offset)),
        str(max(0, limit)),
        cause.value if cause is not None else "",
        "1" if latin1 else "0",
        seen_before.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        if seen_before is not None
        else "",
    ]


def _open_page_of(reply: list[Any]) -> OpenPage | None:
    """The script's answer as an :class:`OpenPage`; ``None`` when it asked for a fallback."""
    if as_text(reply[0]) != "ok":
        return None
    count, whole_sum, frac_sum = (int(x) for x in reply[1:4])
    total_amount = Decimal(whole_sum) + Decimal(frac_sum).scaleb(-6)
    if total_amount == total_amount.quantize(Decimal("0.01")):
        total_amount = total_amount.quantize(Decimal("0.01"))
    rows = [FailureSummary.model_validate_json(r) for r in reply[4]]
    return OpenPage(total=count, total_amount=total_amount, rows=rows)


class RecordStore(StoreBase):
    """Failure records, the open and resolved indexes, and the reference lookup."""

    def __init__(self, redis: aioredis.Redis, prefix: str = "fp:") -> None:
        super().__init__(redis, prefix)
        self._idx = f"{prefix}{{{prefix}idx}}"
        self._open_page_script: AsyncScript | None = None

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
        """Write the record, then bring the open/resolved indexes in step with it."""
        with translate_errors():
            await self.redis.set(self.key("failure", rec.payment_id), dump_versioned(rec))
        await self._index(rec)

    async def put_failure_if_held(self, rec: FailureRecord, lease: Lease) -> bool:
        """Write the record only while ``lease`` (the payment's, taken by a remedy) is still
        held by its taker — checked and written in one step inside Redis
        (``set_if_held.lua``) — then bring the indexes in step. False, and nothing written,
        when the lease expired or another process holds it now: a remedy that lost its lease
        never overwrites what the new holder saved. (Under Redis Cluster the lease and the
        record would have to share a slot; the bot runs on one Redis.)"""
        with translate_errors():
            wrote = await self.redis.eval(
                lua_script(SET_IF_HELD_SCRIPT),
                2,
                lease.key,
                self.key("failure", rec.payment_id),
                lease.token,
                dump_versioned(rec),
            )
        if not wrote:
            return False
        await self._index(rec)
        return True

    async def _index(self, rec: FailureRecord) -> None:
        """Bring the open/resolved indexes in step with the record (one transaction)."""
        summary = FailureSummary.of(rec)
        with translate_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(self._ref_key, rec.payment.reference.upper(), rec.payment_id)
                for cause in Cause:
                    pipe.zrem(self._open_key(cause), rec.payment_id)
                if rec.status == FailureStatus.RESOLVED:
                    pipe.zrem(self._open_key(), rec.payment_id)
                    pipe.hdel(self._summary_key, rec.payment_id)
                    at = rec.resolution.at if rec.resolution else rec.updated_at
                    pipe.zadd(self._resolved_key, {rec.payment_id: at.timestamp()})
                else:
                    score = rec.payment.paid_at.timestamp()
                    pipe.zadd(self._open_key(), {rec.payment_id: score})
                    pipe.zadd(self._open_key(rec.cause), {rec.payment_id: score})
                    pipe.hset(self._summary_key, rec.payment_id, summary.model_dump_json())
                    pipe.zrem(self._resolved_key, rec.payment_id)
                await pipe.execute()

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
        offset: int = 0,
        limit: int = 10,
    ) -> OpenPage | None:
        """Open failures newest paid first, filtered inside Redis in one round trip: those
        of ``cause``, whose customer name contains ``customer`` (case-insensitive), of at
        least ``min_amount``, first seen at or before ``seen_before``. Answers their count,
        their amounts' sum and the rows ``offset .. offset+limit``; ``None`` when Redis
        cannot filter these rows itself (a customer text with letters beyond Latin-1, an
        amount it cannot read exactly, scripting refused): then filter ``open_summaries()``
        instead."""
        args = _open_page_args(
            cause=cause,
            customer=customer,
            min_amount=min_amount,
            seen_before=seen_before,
            offset=offset,
            limit=limit,
        )
        if args is None:
            return None
        if self._open_page_script is None:
            self._open_page_script = self.redis.register_script(lua_script(OPEN_PAGE_SCRIPT))
        with translate_errors():
            try:
                reply = await self._open_page_script(
                    keys=[self._open_key(cause), self._summary_key], args=args
                )
            except ResponseError:
                return None
        return _open_page_of(reply)

    # -- resolved failures ---------------------------------------------------------------
    async def resolved_ids(self, since: datetime, until: datetime | None = None) -> list[str]:
        hi: float | str = until.timestamp() if until else "+inf"
        with translate_errors():
            ids = await self.redis.zrangebyscore(self._resolved_key, since.timestamp(), hi)
        return [as_text(i) for i in ids]
