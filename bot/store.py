"""The bot's only state, in Redis.

Key layout, all under the configured prefix ``P`` (default ``fp:``):

====================================  ==================================================
``P failure:<payment id>``            the ``FailureRecord`` (versioned JSON)
``P {P idx}:open``                    zset of open failures, scored by paid time
``P {P idx}:open:<cause>``            the same, one zset per cause (for filters)
``P {P idx}:summary``                 hash payment id -> ``FailureSummary`` JSON
``P {P idx}:ref``                     hash ``CB…`` reference -> payment id
``P {P idx}:resolved``                zset of resolved failures, scored by resolve time
``P lease:<name>``                    a lease (redis-py ``Lock``), value ``<holder>|<nonce>``
``P once:<name>``                     a posted-once / done-once marker (``SET NX``)
``P audit``                           capped stream of ``AuditEntry``
``P alert:<name>``                    alert state (versioned JSON)
``P poll:cursor``                     the poll cursor (RFC 3339)
``P conv:<kind>:<id>``                short-lived conversation state, with a TTL
``P cache:<name>``                    short-lived caches (user group members)
====================================  ==================================================

The index keys share one hash tag, so the multi-key transaction that keeps them in step
lands in one Redis Cluster slot; every other operation touches one key. The failure record
is written first and is the truth: the index can be rebuilt from the records.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from typing import Any, TypeVar

import redis.asyncio as aioredis
from pydantic import BaseModel, ValidationError
from redis.asyncio.lock import Lock
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, LockNotOwnedError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.models import AuditEntry, Cause, FailureRecord, FailureStatus, FailureSummary

SCHEMA_VERSION = 1
AUDIT_MAX_LEN = 10_000
M = TypeVar("M", bound=BaseModel)


class StoreError(Exception):
    """Base of the state errors."""


class StoreUnavailable(StoreError):
    """Redis did not answer; nothing was changed. Try again shortly."""


class SchemaTooNew(StoreError):
    """A record was written by a newer release of the bot; it is not read, to avoid misreading it."""


class CorruptRecord(StoreError):
    """A record could not be read as what it should be."""


@contextmanager
def _translate() -> Iterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise StoreUnavailable("Redis is not answering; nothing was changed — try again") from exc


def dump_versioned(model: BaseModel, version: int = SCHEMA_VERSION) -> str:
    """A model as JSON with its schema version."""
    return json.dumps({"schema_version": version, "data": model.model_dump(mode="json")})


def load_versioned(cls: type[M], raw: bytes | str, version: int = SCHEMA_VERSION) -> M:
    """Read what ``dump_versioned`` wrote; refuse a newer schema instead of misreading it."""
    try:
        doc = json.loads(raw)
        found = int(doc["schema_version"])
        data = doc["data"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptRecord(f"{cls.__name__} record is not versioned JSON") from exc
    if found > version:
        raise SchemaTooNew(
            f"{cls.__name__} record has schema version {found}; this release reads up to "
            f"{version}. Upgrade the bot, or run the release that wrote it."
        )
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise CorruptRecord(f"{cls.__name__} record does not validate") from exc


class Lease:
    """A per-name lease: only its holder can release it, and it expires if the holder dies."""

    def __init__(self, lock: Lock, holder: str) -> None:
        self._lock = lock
        self.holder = holder
        self.token = f"{holder}|{secrets.token_hex(8)}"

    async def acquire(self) -> bool:
        """Take the lease if nobody holds it; never waits."""
        with _translate():
            return bool(await self._lock.acquire(blocking=False, token=self.token))

    async def release(self) -> bool:
        """Give the lease back; False when it had expired or was never held."""
        with _translate():
            try:
                await self._lock.release()
                return True
            except (LockNotOwnedError, LockError):
                return False

    async def extend(self, seconds: float) -> bool:
        with _translate():
            try:
                return bool(await self._lock.extend(seconds, replace_ttl=True))
            except (LockNotOwnedError, LockError):
                return False

    async def owned(self) -> bool:
        with _translate():
            return bool(await self._lock.owned())


class Store:
    """Typed access to everything the bot keeps in Redis."""

    def __init__(self, redis: aioredis.Redis, prefix: str = "fp:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._idx = f"{prefix}{{{prefix}idx}}"

    # -- keys -------------------------------------------------------------------------
    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

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

    async def ping(self) -> bool:
        with _translate():
            return bool(await self.redis.ping())

    # -- failure records ----------------------------------------------------------------
    async def get_failure(self, payment_id: str) -> FailureRecord | None:
        with _translate():
            raw = await self.redis.get(self.key("failure", payment_id))
        return None if raw is None else load_versioned(FailureRecord, raw)

    async def get_failures(self, payment_ids: list[str]) -> list[FailureRecord]:
        """Records for these ids, in order, skipping ids with none."""
        if not payment_ids:
            return []
        with _translate():
            async with self.redis.pipeline(transaction=False) as pipe:
                for pid in payment_ids:
                    pipe.get(self.key("failure", pid))
                raws = await pipe.execute()
        return [load_versioned(FailureRecord, r) for r in raws if r is not None]

    async def find_by_reference(self, reference: str) -> str | None:
        with _translate():
            pid = await self.redis.hget(self._ref_key, reference.upper())
        return pid.decode() if isinstance(pid, bytes) else pid

    async def put_failure(self, rec: FailureRecord) -> None:
        """Write the record, then bring the open/resolved indexes in step with it."""
        summary = FailureSummary.of(rec)
        with _translate():
            await self.redis.set(self.key("failure", rec.payment_id), dump_versioned(rec))
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

    async def open_ids(
        self, cause: Cause | None = None, *, start: int = 0, stop: int = -1, newest_first: bool = True
    ) -> list[str]:
        key = self._open_key(cause)
        with _translate():
            if newest_first:
                ids = await self.redis.zrevrange(key, start, stop)
            else:
                ids = await self.redis.zrange(key, start, stop)
        return [i.decode() if isinstance(i, bytes) else i for i in ids]

    async def open_count(self, cause: Cause | None = None) -> int:
        with _translate():
            return int(await self.redis.zcard(self._open_key(cause)))

    async def open_summaries(self) -> list[FailureSummary]:
        """Every open failure's summary row, newest paid first."""
        with _translate():
            raw = await self.redis.hgetall(self._summary_key)
        rows = [FailureSummary.model_validate_json(v) for v in raw.values()]
        rows.sort(key=lambda s: (s.paid_at, s.payment_id), reverse=True)
        return rows

    async def resolved_ids(self, since: datetime, until: datetime | None = None) -> list[str]:
        hi: float | str = until.timestamp() if until else "+inf"
        with _translate():
            ids = await self.redis.zrangebyscore(self._resolved_key, since.timestamp(), hi)
        return [i.decode() if isinstance(i, bytes) else i for i in ids]

    # -- leases and once-markers -----------------------------------------------------------
    def lease(self, name: str, holder: str, ttl: float = 60.0) -> Lease:
        """A lease on ``name`` (e.g. ``payment:<id>``) for ``holder``, expiring after ``ttl``."""
        lock = Lock(self.redis, self.key("lease", name), timeout=ttl, blocking=False)
        return Lease(lock, holder)

    async def lease_holder(self, name: str) -> str | None:
        """Who holds the lease on ``name`` now, or None."""
        with _translate():
            raw = await self.redis.get(self.key("lease", name))
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return text.split("|", 1)[0]

    async def once(self, name: str, value: str = "1", ttl: float | None = None) -> bool:
        """True for exactly one caller per ``name`` (until ``ttl`` runs out, if given)."""
        px = int(ttl * 1000) if ttl else None
        with _translate():
            return bool(await self.redis.set(self.key("once", name), value, nx=True, px=px))

    async def once_value(self, name: str) -> str | None:
        with _translate():
            raw = await self.redis.get(self.key("once", name))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def set_once_value(self, name: str, value: str, ttl: float | None = None) -> None:
        px = int(ttl * 1000) if ttl else None
        with _translate():
            await self.redis.set(self.key("once", name), value, px=px)

    async def clear_once(self, name: str, value: str | None = None) -> bool:
        """Remove a marker (only when it still holds ``value``, if given)."""
        key = self.key("once", name)
        with _translate():
            if value is None:
                return bool(await self.redis.delete(key))
            script = (
                "if redis.call('get', KEYS[1]) == ARGV[1] then "
                "return redis.call('del', KEYS[1]) else return 0 end"
            )
            return bool(await self.redis.eval(script, 1, key, value))  # type: ignore[misc]

    # -- audit ---------------------------------------------------------------------------
    async def audit(self, entry: AuditEntry) -> str:
        with _translate():
            sid = await self.redis.xadd(
                self.key("audit"),
                {"entry": entry.model_dump_json()},
                maxlen=AUDIT_MAX_LEN,
                approximate=True,
            )
        return sid.decode() if isinstance(sid, bytes) else str(sid)

    async def audit_entries(self, count: int = 100) -> list[AuditEntry]:
        """The newest ``count`` audit entries, newest first."""
        with _translate():
            rows = await self.redis.xrevrange(self.key("audit"), count=count)
        out = []
        for _sid, fields in rows:
            raw = fields.get(b"entry") or fields.get("entry")
            out.append(AuditEntry.model_validate_json(raw))
        return out

    # -- versioned singletons (alert state, ...) ------------------------------------------
    async def get_model(self, cls: type[M], *parts: str) -> M | None:
        with _translate():
            raw = await self.redis.get(self.key(*parts))
        return None if raw is None else load_versioned(cls, raw)

    async def put_model(self, model: BaseModel, *parts: str, ttl: float | None = None) -> None:
        px = int(ttl * 1000) if ttl else None
        with _translate():
            await self.redis.set(self.key(*parts), dump_versioned(model), px=px)

    # -- poll cursor ---------------------------------------------------------------------
    async def get_cursor(self) -> datetime | None:
        with _translate():
            raw = await self.redis.get(self.key("poll", "cursor"))
        if raw is None:
            return None
        return datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else raw)

    async def set_cursor(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("the poll cursor must carry a time zone")
        with _translate():
            await self.redis.set(self.key("poll", "cursor"), at.isoformat())

    # -- conversation state --------------------------------------------------------------
    async def put_conversation(self, kind: str, data: dict[str, Any], ttl: float = 900) -> str:
        """Keep short-lived state (modal context, list paging); returns its id."""
        cid = secrets.token_urlsafe(12)
        doc = json.dumps({"schema_version": SCHEMA_VERSION, "data": data})
        with _translate():
            await self.redis.set(self.key("conv", kind, cid), doc, px=int(ttl * 1000))
        return cid

    async def get_conversation(self, kind: str, cid: str) -> dict[str, Any] | None:
        if not cid or len(cid) > 64 or not cid.replace("-", "").replace("_", "").isalnum():
            return None
        with _translate():
            raw = await self.redis.get(self.key("conv", kind, cid))
        if raw is None:
            return None
        doc = json.loads(raw)
        if int(doc.get("schema_version", 0)) > SCHEMA_VERSION:
            raise SchemaTooNew(f"conversation state {kind} has a newer schema version")
        data = doc.get("data")
        return data if isinstance(data, dict) else None

    async def delete_conversation(self, kind: str, cid: str) -> None:
        with _translate():
            await self.redis.delete(self.key("conv", kind, cid))

    # -- small caches --------------------------------------------------------------------
    async def cache_get(self, name: str) -> Any | None:
        with _translate():
            raw = await self.redis.get(self.key("cache", name))
        return None if raw is None else json.loads(raw)

    async def cache_put(self, name: str, value: Any, ttl: float) -> None:
        with _translate():
            await self.redis.set(self.key("cache", name), json.dumps(value), px=int(ttl * 1000))

    @asynccontextmanager
    async def holding(self, name: str, holder: str, ttl: float = 60.0) -> AsyncIterator[bool]:
        """``async with store.holding(name, who) as got:`` — the lease, released on exit."""
        lease = self.lease(name, holder, ttl)
        got = await lease.acquire()
        try:
            yield got
        finally:
            if got:
                await lease.release()
