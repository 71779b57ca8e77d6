"""The small keyed state: the audit stream, the poll cursor, conversations, singletons, caches.

Each of these is one key read or written whole:

- ``P audit`` — a capped stream (about :data:`AUDIT_MAX_LEN` entries) of who did what;
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
from bot.store.base import StoreBase
from bot.store.errors import SchemaTooNew, translate_errors
from bot.store.versioned import SCHEMA_VERSION, M, dump_versioned, load_versioned

AUDIT_MAX_LEN = 10_000


class KeyedStateStore(StoreBase):
    """The audit stream, the poll cursor, conversation state, versioned singletons, caches."""

    # -- audit ---------------------------------------------------------------------------
    async def audit(self, entry: AuditEntry) -> str:
        with translate_errors():
            sid = await self.redis.xadd(
                self.key("audit"),
                {"entry": entry.model_dump_json()},
                maxlen=AUDIT_MAX_LEN,
                approximate=True,
            )
        return sid.decode() if isinstance(sid, bytes) else str(sid)

    async def audit_entries(self, count: int = 100) -> list[AuditEntry]:
        """The newest ``count`` audit entries, newest first."""
        with translate_errors():
            rows = await self.redis.xrevrange(self.key("audit"), count=count)
        out = []
        for _sid, fields in rows or []:
            raw = (fields or {}).get(b"entry") or (fields or {}).get("entry")
            if raw is not None:
                out.append(AuditEntry.model_validate_json(raw))
        return out

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
