"""The small keyed state: the audit stream, the poll cursor, conversations, singletons, caches.

Each of these is one key read or written whole:

- ``P audit`` — a stream of who did what, trimmed by age (``XTRIM MINID``, the retention
  sweep: :meth:`KeyedStateStore.trim_audit`), never by count, so no burst of entries pushes
  real ones out;
- ``P audit:refused`` — clicks refused to people outside finance, apart from the audit: at
  most :data:`REFUSALS_KEPT_PER_MINUTE` per person a minute are kept (and at most about
  :data:`REFUSED_MAX_LEN` in all), while ``P audit:refused:count`` counts every one by
  person, so an outsider clicking 10,000 times costs a counter, not the audit trail;
- ``P poll:cursor`` — where the next poll starts (RFC 3339, always with a time zone);
- ``P conv:<kind>:<id>`` — short-lived conversation state (a modal's context, a list's
  paging), found by a random id and gone after its TTL;
- ``P alert:<name>`` and other versioned singletons — one model as versioned JSON;
- ``P cache:<name>`` — short-lived caches (a user group's members).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from bot.models import AuditEntry
from bot.store.base import StoreBase, as_text
from bot.store.errors import SchemaTooNew, translate_errors
from bot.store.versioned import SCHEMA_VERSION, M, dump_versioned, load_versioned

REFUSALS_KEPT_PER_MINUTE = 10
"""Refused clicks kept per person a minute; beyond that they are only counted."""
REFUSED_MAX_LEN = 10_000
"""About this many refused clicks are kept in all (on top of the trim by age)."""


def _stream_id(at: datetime) -> str:
    """The smallest stream id at or after ``at`` (ids start with the time in milliseconds)."""
    return f"{max(0, int(at.timestamp() * 1000))}-0"


def _entries(rows: Any) -> list[tuple[str, AuditEntry]]:
    out = []
    for sid, fields in rows or []:
        raw = (fields or {}).get(b"entry") or (fields or {}).get("entry")
        if raw is not None:
            out.append((as_text(sid), AuditEntry.model_validate_json(raw)))
    return out


def _id_order(sid: str) -> tuple[int, int]:
    ms, _, seq = sid.partition("-")
    return int(ms), int(seq or 0)


class KeyedStateStore(StoreBase):
    """The audit stream, the poll cursor, conversation state, versioned singletons, caches."""

    # -- audit ---------------------------------------------------------------------------
    async def audit(self, entry: AuditEntry) -> str:
        """Add ``entry`` (someone allowed to act did something) to the audit stream; returns
        its stream id."""
        with translate_errors():
            sid = await self.redis.xadd(self.key("audit"), {"entry": entry.model_dump_json()})
        return as_text(sid)

    async def audit_refused_click(self, entry: AuditEntry) -> str:
        """Note a click refused to someone outside finance: counted always, kept in the
        refused stream at most :data:`REFUSALS_KEPT_PER_MINUTE` times a minute per person.
        Returns the stream id ("" when only counted)."""
        user = entry.user if entry.user.isalnum() else "unknown"
        minute = int(entry.at.timestamp() // 60)
        rate_key = self.key("audit", "refused", "rate", user, str(minute))
        with translate_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hincrby(self.key("audit", "refused", "count"), user, 1)
                pipe.incr(rate_key)
                pipe.expire(rate_key, 120)
                _total, in_minute, _ = await pipe.execute()
            if int(in_minute) > REFUSALS_KEPT_PER_MINUTE:
                return ""  # counted, not kept
            sid = await self.redis.xadd(
                self.key("audit", "refused"),
                {"entry": entry.model_dump_json()},
                maxlen=REFUSED_MAX_LEN,
                approximate=True,
            )
        return as_text(sid)

    async def audit_entries(self, count: int = 100, *, refused: bool = True) -> list[AuditEntry]:
        """The newest ``count`` audit entries, newest first (with the refused clicks kept,
        unless ``refused`` is False)."""
        keys = [self.key("audit")] + ([self.key("audit", "refused")] if refused else [])
        rows: list[tuple[str, AuditEntry]] = []
        with translate_errors():
            for key in keys:
                rows.extend(_entries(await self.redis.xrevrange(key, count=count)))
        rows.sort(key=lambda row: _id_order(row[0]), reverse=True)
        return [entry for _sid, entry in rows[:count]]

    async def refusal_counts(self) -> dict[str, int]:
        """Every refused click counted, by person (kept in the stream or not)."""
        with translate_errors():
            raw = await self.redis.hgetall(self.key("audit", "refused", "count"))
        return {as_text(k): int(v) for k, v in raw.items()}

    async def trim_audit(self, before: datetime) -> int:
        """Drop audit and refused-click entries older than ``before``; how many went."""
        minid = _stream_id(before)
        with translate_errors():
            gone = await self.redis.xtrim(self.key("audit"), minid=minid, approximate=False)
            gone += await self.redis.xtrim(
                self.key("audit", "refused"), minid=minid, approximate=False
            )
        return int(gone)

    # -- versioned singletons (alert state, ...) ------------------------------------------
    async def get_model(self, cls: type[M], *parts: str) -> M | None:
        with translate_errors():
            raw = await self.redis.get(self.key(*parts))
        return None if raw is None else load_versioned(cls, raw)

    async def put_model(self, model: BaseModel, *parts: str, ttl: float | None = None) -> None:
        px = int(ttl * 1000) if ttl else None
        with translate_errors():
            await self.redis.set(self.key(*parts), dump_versioned(model), px=px)

    # -- poll cursor ---------------------------------------------------------------------
    async def get_cursor(self) -> datetime | None:
        with translate_errors():
            raw = await self.redis.get(self.key("poll", "cursor"))
        if raw is None:
            return None
        return datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else raw)

    async def set_cursor(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("the poll cursor must carry a time zone")
        with translate_errors():
            await self.redis.set(self.key("poll", "cursor"), at.isoformat())

    # -- conversation state --------------------------------------------------------------
    async def put_conversation(self, kind: str, data: dict[str, Any], ttl: float = 900) -> str:
        """Keep short-lived state (modal context, list paging); returns its id."""
        cid = secrets.token_urlsafe(12)
        doc = json.dumps({"schema_version": SCHEMA_VERSION, "data": data})
        with translate_errors():
            await self.redis.set(self.key("conv", kind, cid), doc, px=int(ttl * 1000))
        return cid

    async def get_conversation(self, kind: str, cid: str) -> dict[str, Any] | None:
        if not cid or len(cid) > 64 or not cid.replace("-", "").replace("_", "").isalnum():
            return None
        with translate_errors():
            raw = await self.redis.get(self.key("conv", kind, cid))
        if raw is None:
            return None
        doc = json.loads(raw)
        if int(doc.get("schema_version", 0)) > SCHEMA_VERSION:
            raise SchemaTooNew(f"conversation state {kind} has a newer schema version")
        data = doc.get("data")
        return data if isinstance(data, dict) else None

    async def delete_conversation(self, kind: str, cid: str) -> None:
        with translate_errors():
            await self.redis.delete(self.key("conv", kind, cid))

    # -- small caches --------------------------------------------------------------------
    async def cache_get(self, name: str) -> Any | None:
        with translate_errors():
            raw = await self.redis.get(self.key("cache", name))
        return None if raw is None else json.loads(raw)

    async def cache_put(self, name: str, value: Any, ttl: float) -> None:
        with translate_errors():
            await self.redis.set(self.key("cache", name), json.dumps(value), px=int(ttl * 1000))
