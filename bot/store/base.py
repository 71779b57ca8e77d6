"""What every part of the store shares: the Redis client, the key prefix, the Lua scripts.

:class:`StoreBase` holds the one ``redis`` client and the ``prefix`` every key starts with;
each part of the store (records, coordination, keyed state) is a subclass of it, and
:class:`bot.store.Store` is all of them at once. The Lua scripts live beside this module as
``.lua`` files (shipped as package data) and are read once by :func:`lua_script`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import redis.asyncio as aioredis

from bot.store.errors import translate_errors


def as_text(value: Any) -> str:
    """A Redis reply as text (redis-py answers bytes unless told to decode)."""
    return value.decode() if isinstance(value, bytes) else str(value)


@cache
def lua_script(name: str) -> str:
    """The text of the Lua script ``name`` (e.g. ``index_failure.lua``) shipped in ``bot.store``."""
    return resources.files("bot.store").joinpath(name).read_text(encoding="utf-8")


def index_prefix(prefix: str) -> str:
    """The prefix of every index key: ``P{P idx}`` (one hash tag, so one cluster slot)."""
    return f"{prefix}{{{prefix}idx}}"


class StoreBase:
    """The Redis client and the key prefix every part of the store builds on."""

    def __init__(self, redis: aioredis.Redis, prefix: str = "fp:") -> None:
        self.redis = redis
        self.prefix = prefix

    def key(self, *parts: str) -> str:
        """The full key for ``parts``: ``key("once", "x")`` is ``<prefix>once:x``."""
        return self.prefix + ":".join(parts)

    async def ping(self) -> bool:
        with translate_errors():
            return bool(await self.redis.ping())
