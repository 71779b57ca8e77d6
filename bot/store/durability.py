"""Whether this Redis can keep the books' state: no eviction, and persistence on.

The bot's state is not a cache. Evicting a key under memory pressure, or restarting a Redis
that keeps nothing on disk, loses failure records (the next poll would post every open
failure again) and the rotated QuickBooks refresh token (the one in the environment is then
refused: ``invalid_grant``). So the bot starts (and ``check`` passes) only on a Redis with:

- ``maxmemory-policy noeviction`` — a full Redis refuses writes (the bot says "try again")
  instead of silently dropping keys;
- persistence: the append-only file (``appendonly yes``, best: at most a second of writes
  lost) or RDB snapshots (``save`` not empty: the writes since the last snapshot are lost).

Both are read with ``CONFIG GET`` (:func:`require_durable`, by ``check`` and, with the state
marker, by :func:`check_at_start`). A managed Redis may refuse ``CONFIG`` (renamed or denied):
then the bot cannot tell, and refuses unless ``REDIS_DURABILITY_CHECK=off`` says the operator
made sure of both themselves. The demo turns the check off (its Redis is throwaway).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from bot.store.base import as_text
from bot.store.errors import StoreError, translate_errors
from bot.store.meta import MetaStore, StateMarker

log = logging.getLogger(__name__)

OVERRIDE = "REDIS_DURABILITY_CHECK=off"
"""The setting that skips the check (for a Redis whose CONFIG cannot be read)."""


class RedisNotDurable(StoreError):
    """This Redis could lose the bot's state; the message says what to change."""


@dataclass(frozen=True)
class Durability:
    """What ``CONFIG GET`` said (``readable`` False when CONFIG was refused)."""

    readable: bool
    policy: str = ""
    appendonly: bool = False
    save: str = ""
    refused_because: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.readable and not self.problems

    def describe(self) -> str:
        """One line: what keeps the state, or what is wrong and what to change."""
        if not self.readable:
            return (
                f"cannot read the Redis configuration (CONFIG GET refused: "
                f"{self.refused_because}; a managed Redis?). Make sure it has "
                f"maxmemory-policy noeviction and persistence (appendonly yes) on, then set "
                f"{OVERRIDE}"
            )
        if self.problems:
            return "; ".join(self.problems)
        kept = (
            "append-only file (appendonly yes)"
            if self.appendonly
            else f"RDB snapshots only (save {self.save!r}): a crash loses the writes "
            "since the last snapshot; appendonly yes is safer"
        )
        return f"maxmemory-policy noeviction, persistence: {kept}"


def _config_value(reply: Any, name: str) -> str:
    """One value of a ``CONFIG GET`` reply (a dict; bytes unless the client decodes)."""
    if isinstance(reply, dict):
        for k, v in reply.items():
            if as_text(k) == name:
                return as_text(v)
    return ""


def problems_of(policy: str, appendonly: bool, save: str) -> list[str]:
    """What is wrong with these settings for the bot's state (empty: nothing)."""
    problems = []
    if policy != "noeviction":
        problems.append(
            f"maxmemory-policy is {policy or 'unset'}: Redis may evict the bot's keys when "
            "memory fills; set maxmemory-policy noeviction"
        )
    if not appendonly and not save.strip():
        problems.append(
            'persistence is off (appendonly no, save ""): a restart loses every record and '
            "the QuickBooks tokens; set appendonly yes (or an RDB save schedule)"
        )
    return problems


async def read_durability(redis: aioredis.Redis) -> Durability:
    """Read eviction and persistence settings with ``CONFIG GET``. Raises ``StoreUnavailable``
    when Redis does not answer."""
    try:
        with translate_errors():
            policy = _config_value(await redis.config_get("maxmemory-policy"), "maxmemory-policy")
            appendonly = _config_value(await redis.config_get("appendonly"), "appendonly")
            save = _config_value(await redis.config_get("save"), "save")
    except ResponseError as exc:  # unknown command (renamed), NOPERM (ACL), ...
        return Durability(readable=False, refused_because=str(exc) or type(exc).__name__)
    is_aof = appendonly.lower() == "yes"
    return Durability(
        readable=True,
        policy=policy,
        appendonly=is_aof,
        save=save,
        problems=problems_of(policy, is_aof, save),
    )


async def require_durable(redis: aioredis.Redis, *, check: bool = True) -> str:
    """The line saying how this Redis keeps the state; raises :class:`RedisNotDurable` when
    it could lose it (or cannot tell) and ``check`` is on."""
    if not check:
        return f"durability not checked ({OVERRIDE}): it is the operator's to ensure"
    found = await read_durability(redis)
    if not found.ok:
        raise RedisNotDurable(
            f'this Redis can lose the bot\'s state: {found.describe()}. See the README, "Redis".'
        )
    return found.describe()


async def check_at_start(store: MetaStore, *, check: bool, instance: str) -> StateMarker:
    """``python app.py run``'s look at Redis: it must keep the state (unless ``check`` is
    off: then a warning), and the state marker is read, or written at a first start (the
    first poll then looks in Slack before posting). Logs what it found; raises
    :class:`RedisNotDurable` (or ``StoreUnavailable``)."""
    kept = await require_durable(store.redis, check=check)
    log.log(logging.INFO if check else logging.WARNING, "Redis: %s", kept)
    marker = await store.state_marker()
    if marker is None:
        marker, _written = await store.mark_born(instance)
    born = marker.born_at.isoformat(timespec="seconds")
    if marker.recovery is not None:
        log.info(
            "state marker written %s: the first poll looks in Slack for messages already "
            "posted (a first start, or Redis lost the state)",
            born,
        )
    else:
        log.info("state kept in Redis since %s", born)
    return marker


__all__ = [
    "OVERRIDE",
    "Durability",
    "RedisNotDurable",
    "check_at_start",
    "problems_of",
    "read_durability",
    "require_durable",
]
