"""The QuickBooks webhook state in Redis (issue 17): the event stream the endpoint writes and
the worker reads, the done-markers that make each event count once, the last state acted on
per entity, the index from a QuickBooks entity to the failures that depend on it, the catch-up
cursor, and the warnings already posted for payments about to fail.

Keys (under the prefix ``P``; the table in :mod:`bot.store` lists them too):
``P wh:events`` (stream, consumer group ``workers``), ``P wh:done:<event id>`` (marker, TTL),
``P wh:seen`` (hash ``Type:id`` → LastUpdatedTime acted on), ``P wh:dep:<Type>:<id>`` (set of
payment ids), ``P wh:deps`` (hash payment id → its ``Type:id`` list, to unindex),
``P wh:cursor`` and ``P wh:reconciled`` (RFC 3339), ``P wh:warned`` (hash payment id →
JSON of the warning posted).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from redis.exceptions import ResponseError

from bot.store.base import StoreBase, as_text
from bot.store.errors import translate_errors

GROUP = "workers"
DONE_TTL = 14 * 86400
"""A processed event id is remembered this long (Intuit retries for days, not weeks)."""


def entity_key(entity: str, entity_id: str) -> str:
    """``Invoice:130``: how an entity is named in the index and in ``wh:seen``."""
    return f"{entity}:{entity_id}"


def _change_of(fields: Any) -> str:
    return as_text(fields.get(b"c") or fields.get("c") or b"")


class WebhookStore(StoreBase):
    """Typed access to the webhook keys."""

    @property
    def stream(self) -> str:
        return self.key("wh", "events")

    async def append(self, changes: Sequence[str]) -> None:
        """Keep each change (JSON) in the stream, in one round trip."""
        with translate_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for change in changes:
                    pipe.xadd(self.stream, {"c": change})
                await pipe.execute()

    async def ensure_group(self) -> None:
        """Create the consumer group (from the stream's start) unless it exists."""
        with translate_errors():
            try:
                await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def read(
        self, consumer: str, *, count: int, block_ms: int | None
    ) -> list[tuple[str, str]]:
        """New entries for ``consumer``: (entry id, change JSON)."""
        with translate_errors():
            reply: Any = await self.redis.xreadgroup(
                GROUP, consumer, {self.stream: ">"}, count=count, block=block_ms
            )
        out: list[tuple[str, str]] = []
        for _stream, entries in reply or []:
            out += [(as_text(eid), _change_of(fields)) for eid, fields in entries]
        return out

    async def reclaim(self, consumer: str, *, idle_ms: int, count: int) -> list[tuple[str, str]]:
        """Entries another consumer read and never acknowledged (it crashed), now ``consumer``'s."""
        with translate_errors():
            reply: Any = await self.redis.xautoclaim(
                self.stream, GROUP, consumer, min_idle_time=idle_ms, start_id="0-0", count=count
            )
        entries: list[Any] = reply[1] if reply else []
        return [(as_text(eid), _change_of(fields)) for eid, fields in entries if fields]

    async def acknowledge(self, entry_ids: Sequence[str]) -> None:
        """Acknowledge and drop processed entries."""
        if not entry_ids:
            return
        with translate_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.xack(self.stream, GROUP, *entry_ids)
                pipe.xdel(self.stream, *entry_ids)
                await pipe.execute()

    async def backlog(self) -> int:
        """Entries in the stream not yet acknowledged and dropped."""
        with translate_errors():
            return int(await self.redis.xlen(self.stream))

    async def done(self, event_ids: Sequence[str]) -> list[bool]:
        """For each event id: processed already."""
        if not event_ids:
            return []
        with translate_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for eid in event_ids:
                    pipe.exists(self.key("wh", "done", eid))
                return [bool(x) for x in await pipe.execute()]

    async def mark_done(self, event_ids: Iterable[str]) -> None:
        with translate_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for eid in event_ids:
                    pipe.set(self.key("wh", "done", eid), "1", ex=DONE_TTL)
                await pipe.execute()

    async def seen(self, keys: Sequence[str]) -> dict[str, str]:
        """``Type:id`` → the LastUpdatedTime last acted on (only those known)."""
        if not keys:
            return {}
        with translate_errors():
            values = await self.redis.hmget(self.key("wh", "seen"), list(keys))
        return {k: as_text(v) for k, v in zip(keys, values, strict=True) if v is not None}

    async def set_seen(self, values: dict[str, str]) -> None:
        if values:
            with translate_errors():
                await self.redis.hset(self.key("wh", "seen"), mapping=dict(values))  # type: ignore[arg-type]

    # ---- the index: QuickBooks entity -> failures ------------------------------------------
    async def indexed(self) -> dict[str, list[str]]:
        """Payment id → the ``Type:id`` keys it is indexed under."""
        with translate_errors():
            raw = await self.redis.hgetall(self.key("wh", "deps"))
        return {as_text(k): json.loads(as_text(v)) for k, v in raw.items()}

    async def index(self, payment_id: str, deps: Sequence[str], old: Sequence[str] = ()) -> None:
        """Index ``payment_id`` under ``deps`` (and no longer under ``old``)."""
        with translate_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                for k in set(old) - set(deps):
                    pipe.srem(self.key("wh", "dep", k), payment_id)
                for k in deps:
                    pipe.sadd(self.key("wh", "dep", k), payment_id)
                pipe.hset(self.key("wh", "deps"), payment_id, json.dumps(list(deps)))
                await pipe.execute()

    async def unindex(self, payment_id: str, old: Sequence[str]) -> None:
        with translate_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                for k in old:
                    pipe.srem(self.key("wh", "dep", k), payment_id)
                pipe.hdel(self.key("wh", "deps"), payment_id)
                await pipe.execute()

    async def dependents(self, keys: Sequence[str]) -> dict[str, set[str]]:
        """``Type:id`` → the payment ids indexed under it (only keys with some)."""
        if not keys:
            return {}
        with translate_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for k in keys:
                    pipe.smembers(self.key("wh", "dep", k))
                replies = await pipe.execute()
        return {k: {as_text(m) for m in r} for k, r in zip(keys, replies, strict=True) if r}

    # ---- times and warnings -----------------------------------------------------------------
    async def get_time(self, name: str) -> datetime | None:
        with translate_errors():
            raw = await self.redis.get(self.key("wh", name))
        return datetime.fromisoformat(as_text(raw)) if raw else None

    async def set_time(self, name: str, at: datetime) -> None:
        with translate_errors():
            await self.redis.set(self.key("wh", name), at.isoformat())

    async def warning(self, payment_id: str) -> dict[str, Any] | None:
        """The warning posted for ``payment_id`` (its digest and message), if any."""
        with translate_errors():
            raw = await self.redis.hget(self.key("wh", "warned"), payment_id)
        return json.loads(as_text(raw)) if raw else None

    async def set_warning(self, payment_id: str, value: dict[str, Any]) -> None:
        with translate_errors():
            await self.redis.hset(self.key("wh", "warned"), payment_id, json.dumps(value))

    async def warned_ids(self) -> list[str]:
        with translate_errors():
            return [as_text(k) for k in await self.redis.hkeys(self.key("wh", "warned"))]

    async def drop_warning(self, payment_id: str) -> None:
        with translate_errors():
            await self.redis.hdel(self.key("wh", "warned"), payment_id)
