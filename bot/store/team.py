"""The team's keys: who owns each failure, the failures each person owns, and snoozes.

- ``P team:owner:<payment id>`` — the owner's Slack user id;
- ``P team:mine:<user>`` — set of the payment ids ``user`` owns;
- ``P team:snooze:<payment id>`` — the ``Snooze`` (versioned JSON);
- ``P team:snoozed`` — zset of snoozed payment ids, scored by when they wake (a snooze until
  ConnectBooster's next sync scores ``+inf``: the poller checks those against the record);
- ``P team:home:viewers`` — zset of who opened the App Home, scored by when (a week kept).

Taking is one Lua step (``take_owner.lua``): of two people taking at once exactly one wins and
the other is answered with the winner. Reassigning and releasing change the owner and both
``mine`` sets in one ``WATCH``/``MULTI`` transaction, retried when someone changed the owner
meanwhile. These keys are apart from the failure record on purpose: a remedy saving the
record can never undo a take, and ownership is never a status.

The open failures' ``owner``, ``state`` and ``queue`` indexes (``bot.store.indexes``:
``mine``, the list's active/snoozed split and the App Home's unowned read them, no scan)
are kept in step with these keys from both sides, inside Redis: every change here runs
``team_index.lua`` in the same transaction (it re-tags the failure from the keys as they now
are), and every save of the record reads the keys again (``index_failure.lua``), so a
remedy's save after a take keeps the owner, and a resolved failure leaves every index. (The
team keys and the index keys are in different hash slots: like the lease and the record,
they assume one Redis, not a cluster.)
"""

from __future__ import annotations

import math
from datetime import datetime

from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from bot.models import Snooze, SnoozeKind, TeamView
from bot.store.base import StoreBase, as_text, index_prefix, lua_script
from bot.store.errors import translate_errors
from bot.store.versioned import dump_versioned, load_versioned

TAKE_OWNER_SCRIPT = "take_owner.lua"
TEAM_INDEX_SCRIPTS = ("team_tags.lua", "team_index.lua")
_RETRIES = 20


class TeamStore(StoreBase):
    """Ownership and snoozes of failures (see the module doc)."""

    def _owner_key(self, payment_id: str) -> str:
        return self.key("team", "owner", payment_id)

    def _mine_key(self, user: str) -> str:
        return self.key("team", "mine", user)

    def _snooze_key(self, payment_id: str) -> str:
        return self.key("team", "snooze", payment_id)

    @property
    def _snoozed_key(self) -> str:
        return self.key("team", "snoozed")

    def _retag(self, pipe: Pipeline, payment_id: str) -> None:
        """Queue ``team_index.lua`` (re-tag ``payment_id``'s owner, state and queue indexes
        from the team keys) on ``pipe``, after the change, in the same transaction."""
        pipe.eval(
            "".join(lua_script(n) for n in TEAM_INDEX_SCRIPTS),
            2,
            self._owner_key(payment_id),
            self._snooze_key(payment_id),
            index_prefix(self.prefix),
            payment_id,
        )

    # -- ownership ---------------------------------------------------------------------------
    async def take_owner(self, payment_id: str, user: str) -> str | None:
        """Make ``user`` the owner if nobody is; ``None`` when taken now, else who owns it."""
        with translate_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.eval(
                    lua_script(TAKE_OWNER_SCRIPT),
                    2,
                    self._owner_key(payment_id),
                    self._mine_key(user),
                    user,
                    payment_id,
                )
                self._retag(pipe, payment_id)
                got, _ = await pipe.execute()
        cur = as_text(got)
        return cur or None

    async def set_owner(self, payment_id: str, user: str | None) -> str | None:
        """Make ``user`` the owner (``None``: nobody), whoever owned it; returns the owner
        before. One transaction, retried while the owner changes under it."""
        return await self._swap_owner(payment_id, user)

    async def release_owner(self, payment_id: str, user: str) -> str | None:
        """Let go of a failure ``user`` owns; returns the owner (``user`` when released,
        another person when it is theirs — then nothing changes — or ``None``)."""
        return await self._swap_owner(payment_id, None, only_from=user)

    async def _swap_owner(
        self, payment_id: str, user: str | None, *, only_from: str | None = None
    ) -> str | None:
        """Make ``user`` the owner (``None``: nobody) — only while ``only_from`` owns it,
        when given — moving the id between the ``mine`` sets and re-tagging the indexes in
        one ``WATCH``/``MULTI`` transaction, retried while the owner changes under it;
        returns the owner before."""
        key = self._owner_key(payment_id)
        with translate_errors():
            for _ in range(_RETRIES):
                async with self.redis.pipeline(transaction=True) as pipe:
                    try:
                        await pipe.watch(key)
                        raw = await pipe.get(key)
                        before = as_text(raw) if raw is not None else None
                        if only_from is not None and before != only_from:
                            await pipe.unwatch()
                            return before
                        pipe.multi()
                        if before:
                            pipe.srem(self._mine_key(before), payment_id)
                        if user:
                            pipe.set(key, user)
                            pipe.sadd(self._mine_key(user), payment_id)
                        else:
                            pipe.delete(key)
                        self._retag(pipe, payment_id)
                        await pipe.execute()
                        return before
                    except WatchError:
                        continue
        raise RuntimeError(f"owner of {payment_id} kept changing; try again")

    async def owner_of(self, payment_id: str) -> str | None:
        with translate_errors():
            raw = await self.redis.get(self._owner_key(payment_id))
        return as_text(raw) if raw is not None else None

    async def owners_of(self, payment_ids: list[str]) -> dict[str, str]:
        """Payment id -> owner, for the ids that have one (one ``MGET``)."""
        if not payment_ids:
            return {}
        with translate_errors():
            raws = await self.redis.mget([self._owner_key(p) for p in payment_ids])
        return {p: as_text(r) for p, r in zip(payment_ids, raws, strict=True) if r is not None}

    async def owned_by(self, user: str) -> list[str]:
        """The payment ids ``user`` owns (sorted)."""
        with translate_errors():
            ids = await self.redis.smembers(self._mine_key(user))
        return sorted(as_text(i) for i in ids)

    async def unowned_waiting(self, limit: int) -> tuple[int, list[str]]:
        """The open failures nobody owns and nobody snoozed (the ``queue`` index): how many,
        and the ids of the ``limit`` first seen longest ago, oldest first. Two reads of the
        index, whatever the number of open failures."""
        ix = index_prefix(self.prefix)
        with translate_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hget(f"{ix}:n:queue", "unowned")
                pipe.zrange(f"{ix}:ix:queue:unowned", 0, max(0, limit) - 1)
                count, ids = await pipe.execute()
        return int(count or 0), [as_text(i) for i in ids][: max(0, limit)]

    # -- App Home viewers ----------------------------------------------------------------------
    async def note_home_viewer(self, user: str, at: datetime) -> None:
        """``user`` opened the App Home at ``at`` (kept about a week)."""
        key = self.key("team", "home", "viewers")
        with translate_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zadd(key, {user: at.timestamp()})
                pipe.zremrangebyscore(key, "-inf", at.timestamp() - 7 * 86400)
                await pipe.execute()

    async def home_viewers(self, since: datetime, limit: int) -> list[str]:
        """Who opened the App Home since ``since``, the most recent first (at most ``limit``)."""
        with translate_errors():
            users = await self.redis.zrevrangebyscore(
                self.key("team", "home", "viewers"), "+inf", since.timestamp(), start=0, num=limit
            )
        return [as_text(u) for u in users]

    # -- snoozes -----------------------------------------------------------------------------
    async def put_snooze(self, payment_id: str, snooze: Snooze) -> None:
        """Snooze a failure (replacing any snooze it had)."""
        score = (
            snooze.until.timestamp()
            if snooze.kind == SnoozeKind.UNTIL and snooze.until
            else math.inf
        )
        with translate_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(self._snooze_key(payment_id), dump_versioned(snooze))
                pipe.zadd(self._snoozed_key, {payment_id: score})
                self._retag(pipe, payment_id)
                await pipe.execute()

    async def drop_snooze(self, payment_id: str) -> Snooze | None:
        """Wake a failure; returns the snooze it had (``None``: it was not snoozed)."""
        with translate_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.get(self._snooze_key(payment_id))
                pipe.delete(self._snooze_key(payment_id))
                pipe.zrem(self._snoozed_key, payment_id)
                self._retag(pipe, payment_id)
                raw, *_ = await pipe.execute()
        return None if raw is None else load_versioned(Snooze, raw)

    async def snooze_of(self, payment_id: str) -> Snooze | None:
        with translate_errors():
            raw = await self.redis.get(self._snooze_key(payment_id))
        return None if raw is None else load_versioned(Snooze, raw)

    async def snoozed_ids(self) -> list[str]:
        """Every snoozed payment id, soonest to wake first."""
        with translate_errors():
            ids = await self.redis.zrange(self._snoozed_key, 0, -1)
        return [as_text(i) for i in ids]

    async def snoozed_count(self) -> int:
        with translate_errors():
            return int(await self.redis.zcard(self._snoozed_key))

    async def snoozes_due_or_sync(self, now: datetime) -> list[str]:
        """Snoozed ids whose date has passed, and every snooze until the next sync."""
        with translate_errors():
            due = await self.redis.zrangebyscore(self._snoozed_key, "-inf", now.timestamp())
            sync = await self.redis.zrangebyscore(self._snoozed_key, "+inf", "+inf")
        return [as_text(i) for i in [*due, *sync]]

    async def snoozes_of(self, payment_ids: list[str]) -> dict[str, Snooze]:
        """Payment id -> snooze, for the ids that have one (one ``MGET``)."""
        if not payment_ids:
            return {}
        with translate_errors():
            raws = await self.redis.mget([self._snooze_key(p) for p in payment_ids])
        return {
            p: load_versioned(Snooze, r)
            for p, r in zip(payment_ids, raws, strict=True)
            if r is not None
        }

    async def team_view(self, payment_id: str) -> TeamView:
        """The owner and snooze of one failure (one round trip)."""
        with translate_errors():
            owner, snooze = await self.redis.mget(
                [self._owner_key(payment_id), self._snooze_key(payment_id)]
            )
        return TeamView(
            owner=as_text(owner) if owner is not None else None,
            snooze=load_versioned(Snooze, snooze) if snooze is not None else None,
        )
