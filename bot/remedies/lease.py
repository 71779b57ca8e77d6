"""The payment's lease, kept alive for a whole remedy run (``KeptLease``).

A remedy takes the lease ``payment:<id>`` before it reads anything and keeps it until its
journal is finished: a background task renews it every third of its ``ttl``, so a slow
QuickBooks or ConnectBooster call never lets the lease lapse while the run still works (and a
second process resume the same remedy under it). When a renewal is refused (the lease expired
or another process took it) or Redis has not confirmed one for a whole ``ttl``, the lease is
*lost*: the run stops before its next write (``check``), and every save it makes is
conditional on still holding the lease (``Store.put_failure_if_held``), so a late save never
overwrites what the new holder recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.store import Lease, StoreError
from bot.store.records import LeaseNotHeld

log = logging.getLogger(__name__)


class KeptLease:
    """``lease`` (taken or about to be), renewed for ``ttl`` seconds every ``ttl / 3``."""

    def __init__(self, lease: Lease, ttl: float) -> None:
        self.lease = lease
        self.ttl = ttl
        self._refused = False
        self._held_until = 0.0
        self._task: asyncio.Task[None] | None = None

    async def acquire(self) -> bool:
        """Take the lease (never waits for another holder); renewed from then on."""
        if not await self.lease.acquire():
            return False
        self.start()
        return True

    def start(self) -> None:
        """Start renewing a lease already taken."""
        loop = asyncio.get_running_loop()
        self._held_until = loop.time() + self.ttl
        if self._task is None:
            self._task = loop.create_task(self._renew(), name="remedy-lease")

    @property
    def lost(self) -> bool:
        """The lease is no longer ours (or no longer known to be)."""
        if self._refused:
            return True
        return self._task is not None and asyncio.get_running_loop().time() >= self._held_until

    def check(self) -> None:
        """Raise ``LeaseNotHeld`` once the lease is lost: the run stops before its next write."""
        if self.lost:
            raise LeaseNotHeld(f"the lease {self.lease.key} was lost during the remedy")

    async def _renew(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                renewed = await self.lease.extend(self.ttl)
            except StoreError as exc:  # Redis away: try again; lost once a ttl has passed
                log.warning("lease %s not renewed: %s", self.lease.key, exc)
                continue
            if not renewed:
                self._refused = True
                log.warning("lease %s lost: another process holds it now", self.lease.key)
                return
            self._held_until = loop.time() + self.ttl

    async def stop(self) -> None:
        """Stop renewing (the lease is kept until it is released or expires)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def release(self) -> None:
        """Stop renewing and give the lease back."""
        await self.stop()
        await self.lease.release()


__all__ = ["KeptLease"]
