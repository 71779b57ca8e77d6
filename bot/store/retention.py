"""Retention: resolved failures are deleted after ``RETENTION_DAYS``, with their index entries.

An open failure is kept however old it is. A resolved one is needed for ``stats`` (the longest
window is 90 days) and for a person looking back; after the retention period (the setting
``RETENTION_DAYS``, validated longer than every window the bot reads) its record and its
entries in the resolved index, the reference lookup and the summary hash are deleted, a small
batch at a time (:meth:`RetentionStore.expire_resolved`, called by the poll cycle's sweep,
``bot.poll.retention``).

An index entry whose record is already gone (lost) is removed too, but for its reference
lookup: the reference was in the record. That entry leads to no record, as a lookup of a
payment never seen would.

Each deletion is safe against a record changing meanwhile: the record is deleted only while it
still holds the bytes that were judged (``del_if_value.lua``), and an index entry only while
it still says "resolved before the cut-off" (``forget_resolved.lua``), so a failure that failed
again, or was resolved again, keeps what it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.models import FailureRecord, FailureStatus
from bot.store.base import as_text, lua_script
from bot.store.coordination import DEL_IF_VALUE_SCRIPT
from bot.store.errors import StoreError, translate_errors
from bot.store.records import RecordStore
from bot.store.versioned import load_versioned

FORGET_SCRIPT = "forget_resolved.lua"


class Verdict(StrEnum):
    """What the sweep does with one resolved-index entry older than the cut-off."""

    DELETE = "delete"  # resolved before the cut-off: the record and its index entries go
    MISSING = "missing"  # no record (deleted, lost): its index entries go
    UNINDEX = "unindex"  # open again: only the stale resolved entry goes
    RESCORE = "rescore"  # resolved after the cut-off by the record: the index is corrected
    KEEP = "keep"  # unreadable here (corrupt, or a newer release's): left alone


@dataclass
class ExpiryBatch:
    """What one call of :meth:`RetentionStore.expire_resolved` did."""

    examined: int = 0
    deleted: list[str] = field(default_factory=list)
    kept: int = 0
    """Entries left where they were (unreadable, or changed as they were being deleted): the
    next batch skips them. Entries corrected (re-scored, unindexed) left the range."""


def judge(raw: bytes | str | None, before: datetime) -> tuple[Verdict, FailureRecord | None]:
    """The verdict on one record (its stored bytes) for the cut-off ``before``."""
    if raw is None:
        return Verdict.MISSING, None
    try:
        rec = load_versioned(FailureRecord, raw)
    except StoreError:
        return Verdict.KEEP, None
    if rec.status != FailureStatus.RESOLVED:
        return Verdict.UNINDEX, rec
    at = rec.resolution.at if rec.resolution else rec.updated_at
    return (Verdict.DELETE if at < before else Verdict.RESCORE), rec


class RetentionStore(RecordStore):
    """Deleting resolved failures older than the retention period, index entries included."""

    async def expire_resolved(
        self, before: datetime, *, batch: int = 50, skip: int = 0
    ) -> ExpiryBatch:
        """Delete up to ``batch`` failures resolved before ``before`` (oldest first, after
        the ``skip`` first entries, which earlier batches left in place)."""
        cutoff = before.timestamp()
        out = ExpiryBatch()
        with translate_errors():
            ids = [
                as_text(i)
                for i in await self.redis.zrangebyscore(
                    self._resolved_key, "-inf", f"({cutoff}", start=skip, num=batch
                )
            ]
            if not ids:
                return out
            async with self.redis.pipeline(transaction=False) as pipe:
                for pid in ids:
                    pipe.get(self.key("failure", pid))
                raws = await pipe.execute()
            for pid, raw in zip(ids, raws, strict=True):
                out.examined += 1
                done = await self._expire_one(pid, raw, before)
                if done == Verdict.KEEP:
                    out.kept += 1
                elif done in (Verdict.DELETE, Verdict.MISSING):
                    out.deleted.append(pid)
        return out

    async def _expire_one(self, pid: str, raw: bytes | None, before: datetime) -> Verdict:
        """Act on one entry's verdict; answers what was done (``KEEP``: left in place)."""
        verdict, rec = judge(raw, before)
        if verdict == Verdict.KEEP:
            return verdict
        if verdict == Verdict.RESCORE and rec is not None:
            at = rec.resolution.at if rec.resolution else rec.updated_at
            await self.redis.zadd(self._resolved_key, {pid: at.timestamp()}, xx=True)
            return verdict
        if (
            verdict == Verdict.DELETE
            and raw is not None
            and not await self.redis.eval(
                lua_script(DEL_IF_VALUE_SCRIPT), 1, self.key("failure", pid), raw
            )
        ):
            return Verdict.KEEP  # changed since it was read: judged again next time
        gone = verdict in (Verdict.DELETE, Verdict.MISSING)
        reference = rec.payment.reference.upper() if rec is not None else ""
        await self.redis.eval(
            lua_script(FORGET_SCRIPT),
            4,
            self._resolved_key,
            self._ref_key,
            self._summary_key,
            self._open_key(),
            pid,
            reference,
            f"{before.timestamp():.6f}",
            "1" if gone else "0",
        )
        return verdict


__all__ = ["ExpiryBatch", "RetentionStore", "Verdict", "judge"]
