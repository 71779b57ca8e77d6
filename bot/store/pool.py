"""The Redis connection pool the bot uses: after a connection fails, the idle ones go too.

redis-py's pool checks an idle connection before handing it out (``ensure_connection``: it
reconnects one whose socket shows its end) and PINGs one idle for longer than
``health_check_interval``. Neither catches a connection to a Redis that was stopped a moment
ago when the stop's end of stream has not been read yet: the next command on it fails with
"Connection closed by server", after Redis is back. ``tests/test_reliability_redis.py``
caught it as one "try again" answer right after a restart, about one run in six.

:class:`FreshAfterFailurePool` closes every idle connection as soon as one comes back to the
pool disconnected (redis-py disconnects a connection whose command failed to reach Redis).
Every connection after an outage is then a new one. Nothing is retried: a command that
failed is still answered "nothing was changed" (``bot.store.errors``), so no write can
happen twice.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis


class FreshAfterFailurePool(aioredis.ConnectionPool):
    """A ``ConnectionPool`` whose idle connections are closed when one comes back failed."""

    async def release(self, connection: Any) -> None:
        failed = not connection.is_connected
        await super().release(connection)
        if failed:
            await self.disconnect(inuse_connections=False)


def redis_from_url(url: str, **options: Any) -> aioredis.Redis:
    """A client on a :class:`FreshAfterFailurePool` for ``url`` (options as redis-py's)."""
    pool = FreshAfterFailurePool.from_url(url, **options)
    return aioredis.Redis(connection_pool=pool)
