"""Coordination between processes: leases and once-markers.

A *lease* (``P lease:<name>``) lets one process at a time work on something — the poll
cycle, one payment's remedy — and expires on its own if its holder dies. Its value is
``<holder>|<nonce>``, so anyone can ask who holds it, and only the holder can give it back.

A *once-marker* (``P once:<name>``) is ``SET NX``: the first caller gets True and every
later one False, until it is cleared or its TTL runs out (a card posted once, a digest sent
once a day). Both give a key back only while it still holds the value they wrote, with the
script ``del_if_value.lua``.

Taking and giving back a lease survive a cancel (a shutdown stopping the poller wherever it
is): the Redis call runs to its end in a task of its own (:func:`settle`), and only then is
the cancel honoured — a lease taken as its taker was being cancelled is given back, and a
release that was cut short is finished — so a stopped process never keeps a lease until it
expires. A Redis that does not answer is waited for at most ``Lease.grace`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from redis.asyncio.lock import Lock
from redis.exceptions import LockError, LockNotOwnedError, RedisError

from bot.store.base import StoreBase, lua_script
from bot.store.errors import translate_errors

DEL_IF_VALUE_SCRIPT = "del_if_value.lua"
SETTLE_GRACE = 15.0
"""Seconds a cancelled lease call still waits for Redis's answer (more than the client's
socket timeout) before it gives up on it."""
T = TypeVar("T")


async def settle(task: asyncio.Future[Any], grace: float = SETTLE_GRACE) -> bool:
    """Wait until ``task`` is done, even when the caller is cancelled meanwhile (then at most
    ``grace`` seconds more, after which ``task`` is cancelled). True when the caller was
    cancelled: it must then raise ``CancelledError`` itself, once it has dealt with the
    task's outcome."""
    loop = asyncio.get_running_loop()
    interrupted = False
    deadline: float | None = None
    while not task.done():
        timeout = None if deadline is None else max(0.0, deadline - loop.time())
        try:
            await asyncio.wait({task}, timeout=timeout)
        except asyncio.CancelledError:
            interrupted = True
            if deadline is None:
                deadline = loop.time() + grace
            continue
        if deadline is not None and not task.done() and loop.time() >= deadline:
            task.cancel()
            deadline = loop.time() + grace  # let the cancel land, then look again
    return interrupted


def _outcome_seen(task: asyncio.Future[Any]) -> BaseException | None:
    """The task's exception (None when it returned or was cancelled), marked as retrieved."""
    return None if task.cancelled() else task.exception()


async def _uncancellable(work: Awaitable[T], grace: float) -> T:
    """``await work`` to its end though the caller be cancelled; then honour the cancel."""
    task = asyncio.ensure_future(work)
    if await settle(task, grace):
        _outcome_seen(task)
        raise asyncio.CancelledError
    return task.result()


class Lease:
    """A per-name lease: only its holder can release it, and it expires if the holder dies."""

    grace: float = SETTLE_GRACE

    def __init__(self, lock: Lock, holder: str) -> None:
        self._lock = lock
        self.holder = holder
        self.token = f"{holder}|{secrets.token_hex(8)}"

    @property
    def key(self) -> str:
        """The Redis key the lease lives at (``RecordStore.put_failure_if_held`` reads it)."""
        return str(self._lock.name)

    async def acquire(self) -> bool:
        """Take the lease if nobody holds it; never waits for another holder.

        Cancelled mid-call (a shutdown), the ``SET`` may reach Redis anyway: the call is let
        finish, the lease given back if it was taken, and only then the cancel raised."""
        take = asyncio.ensure_future(self._take())
        if not await settle(take, self.grace):
            return take.result()
        failed = _outcome_seen(take)
        if take.cancelled() or failed is not None or take.result():
            # taken, or perhaps taken (no answer): give it back while it is still ours
            with contextlib.suppress(RedisError, asyncio.CancelledError):
                await _uncancellable(self._drop_if_ours(), self.grace)
        raise asyncio.CancelledError

    async def _take(self) -> bool:
        with translate_errors():
            return bool(await self._lock.acquire(blocking=False, token=self.token))

    async def _drop_if_ours(self) -> None:
        await self._lock.redis.eval(lua_script(DEL_IF_VALUE_SCRIPT), 1, self._lock.name, self.token)

    async def release(self) -> bool:
        """Give the lease back; False when it had expired or was never held. A cancel while
        Redis works on it waits for the answer first: the lease is given back either way."""
        return await _uncancellable(self._release(), self.grace)

    async def _release(self) -> bool:
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
    async def holding(self, name: str, holder: str, ttl: float = 60.0) -> AsyncIterator[bool]:
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
