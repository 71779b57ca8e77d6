"""The state marker: how the bot notices that Redis lost its state.

A Redis that answers may still have lost everything the bot kept (``FLUSHALL``, keys evicted
under memory pressure, a restart without persistence). Nothing in the data says so — an
empty Redis looks like a first start — so the bot writes a marker, ``P meta:born`` (a hash:
``born_at``, the Redis server's time it was written; ``instance``, the process that wrote it;
``recovery``, present until a poll cycle has recovered from Slack), the first time it finds
none:

- at start (``app.py``), and at the top of every poll cycle (``bot.poll.recovery``);
- written with ``recovery`` set, so the next poll cycle looks in Slack for the messages the
  bot already posted and adopts them instead of posting again; ``lost`` when this process
  had seen a marker before (the state was certainly lost while it ran), ``unknown`` when it
  had not (a first start, or a loss while no bot ran: the poll cycle tells them apart by
  the bot's own messages older than the marker).

The process remembers the marker it last saw (:attr:`MetaStore.seen_marker`); the marker
itself is the only key here, and :meth:`MetaStore.tokens_stored` tells whether the
QuickBooks tokens survived (a loss takes them too).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import redis.asyncio as aioredis
from pydantic import BaseModel

from bot.store.base import StoreBase, as_text, lua_script
from bot.store.errors import CorruptRecord, translate_errors
from bot.store.tokens import token_key

BORN_SCRIPT = "meta_born.lua"
RECOVERED_SCRIPT = "meta_recovered.lua"


class Recovery(StrEnum):
    """Why the next poll cycle must recover from Slack before it posts."""

    LOST = "lost"
    """This process saw the marker, and it is gone: the state was lost while it ran."""
    UNKNOWN = "unknown"
    """No marker at start: a first start, or a loss while no bot ran."""


class StateMarker(BaseModel):
    """``P meta:born``: when this Redis's state began, and whether it awaits recovery."""

    stamp: str
    """``born_at`` as Redis keeps it: the server's Unix time, ``<seconds>.<microseconds>``."""
    instance: str
    recovery: Recovery | None = None

    @property
    def born_ts(self) -> float:
        """When the marker was written, as a Unix time (Slack message ``ts`` compare with
        it)."""
        return float(self.stamp)

    @property
    def born_at(self) -> datetime:
        return datetime.fromtimestamp(self.born_ts, UTC)


def _marker_of(raw: dict[bytes | str, bytes | str]) -> StateMarker | None:
    if not raw:
        return None
    fields = {as_text(k): as_text(v) for k, v in raw.items()}
    try:
        marker = StateMarker(
            stamp=fields["born_at"],
            instance=fields.get("instance", "?"),
            recovery=Recovery(fields["recovery"]) if fields.get("recovery") else None,
        )
        marker.born_ts  # noqa: B018 - a stamp that is not a number is corrupt
    except (KeyError, ValueError) as exc:
        raise CorruptRecord("the state marker meta:born cannot be read") from exc
    return marker


class MetaStore(StoreBase):
    """The state marker ``P meta:born`` and what this process last saw of it."""

    def __init__(self, redis: aioredis.Redis, prefix: str = "fp:") -> None:
        super().__init__(redis, prefix)
        self.seen_marker: StateMarker | None = None

    async def state_marker(self) -> StateMarker | None:
        """The marker, or None when Redis has none (a first start, or the state was lost)."""
        with translate_errors():
            marker = _marker_of(await self.redis.hgetall(self.key("meta", "born")))
        if marker is not None:
            self.seen_marker = marker
        return marker

    async def mark_born(self, instance: str) -> tuple[StateMarker, bool]:
        """Write the marker when there is none (atomically: one writer wins), with
        ``recovery`` ``lost`` when this process had seen one, else ``unknown``. Returns the
        marker now in Redis and whether this call wrote it."""
        reason = Recovery.LOST if self.seen_marker is not None else Recovery.UNKNOWN
        with translate_errors():
            secs, micros = await self.redis.time()
            reply = await self.redis.eval(
                lua_script(BORN_SCRIPT),
                1,
                self.key("meta", "born"),
                f"{int(secs)}.{int(micros):06d}",
                instance,
                reason.value,
            )
        created = bool(int(reply[0]))
        pairs = reply[1]
        marker = _marker_of(dict(zip(pairs[::2], pairs[1::2], strict=True)))
        if marker is None:  # pragma: no cover - the script just wrote it
            raise CorruptRecord("the state marker meta:born was not written")
        self.seen_marker = marker
        return marker, created

    async def recovered(self, marker: StateMarker) -> None:
        """The poll cycle recovered from Slack: clear ``recovery`` (only on this marker)."""
        with translate_errors():
            await self.redis.eval(
                lua_script(RECOVERED_SCRIPT), 1, self.key("meta", "born"), marker.stamp
            )
        self.seen_marker = marker.model_copy(update={"recovery": None})

    async def tokens_stored(self, realm_id: str) -> bool:
        """Whether QuickBooks tokens for company ``realm_id`` are in Redis."""
        with translate_errors():
            return bool(await self.redis.exists(token_key(self.prefix, realm_id)))


__all__ = ["MetaStore", "Recovery", "StateMarker"]
