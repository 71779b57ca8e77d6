"""Coordination between processes: leases and once-markers.

A *lease* (``P lease:<name>``) lets one process at a time work on something — the poll
cycle, one payment's remedy — and expires on its own if its holder dies. Its value is
``<holder>|<nonce>``, so anyone can ask who holds it, and only the holder can give it back.

A *once-marker* (``P once:<name>``) is ``SET NX``: the first caller gets True and every
later one False, until it is cleared or its TTL runs out (a card posted once, a digest sent
once a day). Both give a key back only while it still holds the value they wrote, with the
script ``del_if_value.lua``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio.lock import Lock
from redis.exceptions import LockError, LockNotOwnedError, RedisError

from bot.store.base import StoreBase, lua_script
from bot.store.errors import translate_errors

DEL_IF_VALUE_SCRIPT = "del_if_value.lua"


class Lease:
    """A per-name lease: only its holder can release it, and it expires if the holder dies."""

    def __init__(self, lock: Lock, holder: str) -> None:
        self._lock = lock
        self.holder = holder
        self.token = f"{holder}|{secrets.token_hex(8)}"

    async def acquire(self) -> bool:
        """Take the lease if nobody holds it; never waits.

        Cancelled mid-call (a shutdown), the lease may have been taken in Redis before the
        answer was read: it is then given back at once rather than left to expire."""
        try:
            with translate_errors():
                return bool(await self._lock.acquire(blocking=False, token=self.token))
        except asyncio.CancelledError:
            with contextlib.suppress(RedisError):
                await asyncio.shield(self._drop_if_ours())
            raise

    async def _drop_if_ours(self) -> None:
        await self._lock.redis.eval(
            lua_script(DEL_IF_VALUE_SCRIPT), 1, self._lock.name, self.token
        )

    async def release(self) -> bool:
        """Give the lease back; False when it had expired or was never held."""
        with translate_errors():
            try:
                await self._lock.release()
                return True
            except (LockNotOwnedError, LockError):
                return False

    async def extend(self, seconds: float) -> bool:
        with translate_errors():
            try:
                return bool(await self._lock.extend(seconds, replace_ttl=True))
            except (LockNotOwnedError, LockError):
                return False

    async def owned(self) -> bool:
        with translate_errors():
            return bool(await self._lock.owned())


class CoordinationStore(StoreBase):
    """Leases and once-markers."""

    # -- leases --------------------------------------------------------------------------
    def lease(self, name: str, holder: str, ttl: float = 60.0) -> Lease:
        """A lease on ``name`` (e.g. ``payment:<id>``) for ``holder``, expiring after ``ttl``."""
        lock = Lock(self.redis, self.key("lease", name), timeout=ttl, blocking=False)
        return Lease(lock, holder)

    async def lease_holder(self, name: str) -> str | None:
        """Who holds the lease on ``name`` now, or None."""
        with translate_errors():
            raw = await self.redis.get(self.key("lease", name))
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return text.split("|", 1)[0]

    @asynccontextmanager
    async def holding(
        self, name: str, holder: str, ttl: float = 60.0
    ) -> AsyncIterator[bool]:
        """``async with store.holding(name, who) as got:`` — the lease, released on exit."""
        lease = self.lease(name, holder, ttl)
        got = await lease.acquire()
        try:
            yield got
        finally:
            if got:
                await lease.release()

    # -- once-markers --------------------------------------------------------------------
    async def once(self, name: str, value: str = "1", ttl: float | None = None) -> bool:
        """True for exactly one caller per ``name`` (until ``ttl`` runs out, if given)."""
        px = int(ttl * 1000) if ttl else None
        with translate_errors():
            return bool(await self.redis.set(self.key("once", name), value, nx=True, px=px))

    async def once_value(self, name: str) -> str | None:
        with translate_errors():
            raw = await self.redis.get(self.key("once", name))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def set_once_value(self, name: str, value: str, ttl: float | None = None) -> None:
        px = int(ttl * 1000) if ttl else None
        with translate_errors():
            await self.redis.set(self.key("once", name), value, px=px)

    async def clear_once(self, name: str, value: str | None = None) -> bool:
        """Remove a marker (only when it still holds ``value``, if given)."""
        key = self.key("once", name)
        with translate_errors():
            if value is None:
                return bool(await self.redis.delete(key))
            return bool(await self.redis.eval(lua_script(DEL_IF_VALUE_SCRIPT), 1, key, value))
