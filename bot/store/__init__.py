"""The bot's only state, in Redis.

Key layout, all under the configured prefix ``P`` (default ``fp:``):

====================================  ==================================================
``P failure:<payment id>``            the ``FailureRecord`` (versioned JSON)
``P {P idx}:open``                    zset of open failures, scored by paid time
``P {P idx}:open:<cause>``            the same, one zset per cause (for filters)
``P {P idx}:summary``                 hash payment id -> ``FailureSummary`` JSON
``P {P idx}:ref``                     hash ``CB…`` reference -> payment id
``P {P idx}:resolved``                zset of resolved failures, scored by resolve time
``P lease:<name>``                    a lease (redis-py ``Lock``), value ``<holder>|<nonce>``
``P once:<name>``                     a posted-once / done-once marker (``SET NX``)
``P audit``                           capped stream of ``AuditEntry``
``P alert:<name>``                    alert state (versioned JSON)
``P poll:cursor``                     the poll cursor (RFC 3339)
``P conv:<kind>:<id>``                short-lived conversation state, with a TTL
``P cache:<name>``                    short-lived caches (user group members)
====================================  ==================================================

The index keys share one hash tag, so the multi-key transaction that keeps them in step
lands in one Redis Cluster slot; every other operation touches one key. The failure record
is written first and is the truth: the index can be rebuilt from the records.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import redis.asyncio as aioredis
from pydantic import BaseModel, ValidationError
from redis.asyncio.lock import Lock
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, LockNotOwnedError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.models import AuditEntry, Cause, FailureRecord, FailureStatus, FailureSummary

SCHEMA_VERSION = 1
AUDIT_MAX_LEN = 10_000
M = TypeVar("M", bound=BaseModel)


# -- open failures, filtered and paged inside Redis (added for /failed-payments list) --------
# One script reads the open zset (newest paid first) and each row's summary JSON, keeps the
# rows matching the filters, and answers their count, their amounts' sum (as exact whole and
# millionth parts, so no float touches money) and one page of raw summaries. This keeps a
# list over 10,000 open failures to one round trip of a few kilobytes. Returns {"fallback"}
# when a row is not in the form it understands; the caller then filters in Python.
_OPEN_PAGE_LUA = r"""
local ids = redis.call('ZREVRANGE', KEYS[1], 0, -1)
local needle = ARGV[1]
local min_set = ARGV[2] ~= ''
local min_whole = tonumber(ARGV[2]) or 0
local min_frac = tonumber(ARGV[3]) or 0
local cutoff_set = ARGV[4] ~= ''
local cutoff = tonumber(ARGV[4]) or 0
local offset = tonumber(ARGV[5])
local limit = tonumber(ARGV[6])
local cause = ARGV[7]
local cutoff_text = ARGV[9]  -- the cutoff as YYYY-MM-DDTHH:MM:SS in UTC
local latin1 = ARGV[8] == '1'  -- the needle has Latin-1 letters: lowercase those in names too

local function lower(name)
  name = string.lower(name)
  if latin1 then  -- U+00C0..U+00DE (but U+00D7) -> +0x20, as UTF-8 C3 80..9E -> C3 A0..BE
    name = string.gsub(name, '\195([\128-\158])', function(c)
      if c == '\151' then return '\195' .. c end
      return '\195' .. string.char(string.byte(c) + 32)
    end)
  end
  return name
end

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function epoch(s)
  local y, mo, d, h, mi, se, rest = string.match(s,
    '^(%d%d%d%d)-(%d%d)-(%d%d)T(%d%d):(%d%d):(%d%d)(.*)$')
  if not y then return nil end
  rest = string.gsub(rest, '^%.%d+', '')
  local off = 0
  if rest ~= 'Z' then
    local sign, oh, om = string.match(rest, '^([+-])(%d%d):(%d%d)$')
    if not sign then return nil end
    off = tonumber(oh) * 3600 + tonumber(om) * 60
    if sign == '-' then off = -off end
  end
  return days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se) - off
end

local function money(s)
  local sign, whole, frac = string.match(s, '^(-?)(%d+)%.?(%d*)$')
  if not whole or #frac > 6 or #whole > 13 then return nil end
  frac = frac .. string.rep('0', 6 - #frac)
  local w, f = tonumber(whole), tonumber(frac)
  if sign == '-' then w, f = -w, -f end
  return w, f
end

-- Fields are read from the JSON text without decoding it all (pydantic writes each key once,
-- and a quote inside a string value is escaped, so '"amount":"' cannot occur inside one).
local function field(raw, key)
  return string.match(raw, '"' .. key .. '":"([^"]*)"')
end

local function customer_of(raw)
  local _, start = string.find(raw, '"customer":"', 1, true)
  if not start then return nil end
  local i = start + 1
  while true do
    local q = string.find(raw, '"', i, true)
    if not q then return nil end
    local slashes, k = 0, q - 1
    while string.byte(raw, k) == 92 do slashes = slashes + 1; k = k - 1 end
    if slashes % 2 == 0 then
      local value = string.sub(raw, start + 1, q - 1)
      if string.find(value, '\\', 1, true) then  -- escapes: decode for an exact match
        local ok, row = pcall(cjson.decode, raw)
        if not ok or type(row) ~= 'table' or type(row['customer']) ~= 'string' then
          return nil
        end
        return row['customer']
      end
      return value
    end
    i = q + 1
  end
end

local count, sum_whole, sum_frac = 0, 0, 0
local page = {}
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', KEYS[2], id)
  if raw then
    local keep = true
    if cause ~= '' and field(raw, 'cause') ~= cause then keep = false end
    local amount = field(raw, 'amount')
    if not amount then return {'fallback'} end
    local w, f = money(amount)
    if not w then return {'fallback'} end
    if keep and min_set then
      if w < min_whole or (w == min_whole and f < min_frac) then keep = false end
    end
    if keep and needle ~= '' then
      local name = customer_of(raw)
      if not name then return {'fallback'} end
      if not string.find(lower(name), needle, 1, true) then keep = false end
    end
    if keep and cutoff_set then
      local seen = field(raw, 'first_seen_at')
      if not seen then return {'fallback'} end
      if #seen >= 20 and string.sub(seen, -1) == 'Z' and string.sub(seen, 20, 20) ~= ','
          and string.sub(seen, 11, 11) == 'T' then
        -- UTC as pydantic writes it: compare the text to the second, no parsing
        if string.sub(seen, 1, 19) > cutoff_text then keep = false end
      else
        local t = epoch(seen)
        if not t then return {'fallback'} end
        if t > cutoff then keep = false end
      end
    end
    if keep then
      if count >= offset and count < offset + limit then page[#page + 1] = raw end
      count = count + 1
      sum_whole = sum_whole + w
      sum_frac = sum_frac + f
    end
  end
end
return {'ok', tostring(count), string.format('%.0f', sum_whole), string.format('%.0f', sum_frac),
  page}
"""


class OpenPage(BaseModel):
    """One page of open failures matching a filter, with the count and sum of all matches."""

    total: int
    total_amount: Decimal
    rows: list[FailureSummary]


_DEL_IF_VALUE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end"
)
"""Delete KEYS[1] only while it still holds ARGV[1]."""


class StoreError(Exception):
    """Base of the state errors."""


class StoreUnavailable(StoreError):
    """Redis did not answer; nothing was changed. Try again shortly."""


class SchemaTooNew(StoreError):
    """A record written by a newer release of the bot: refused rather than misread."""


class CorruptRecord(StoreError):
    """A record could not be read as what it should be."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@contextmanager
def _translate() -> Iterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise StoreUnavailable("Redis is not answering; nothing was changed — try again") from exc


def dump_versioned(model: BaseModel, version: int = SCHEMA_VERSION) -> str:
    """A model as JSON with its schema version."""
    return json.dumps({"schema_version": version, "data": model.model_dump(mode="json")})


def load_versioned(cls: type[M], raw: bytes | str, version: int = SCHEMA_VERSION) -> M:
    """Read what ``dump_versioned`` wrote; refuse a newer schema instead of misreading it."""
    try:
        doc = json.loads(raw)
        found = int(doc["schema_version"])
        data = doc["data"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptRecord(f"{cls.__name__} record is not versioned JSON") from exc
    if found > version:
        raise SchemaTooNew(
            f"{cls.__name__} record has schema version {found}; this release reads up to "
            f"{version}. Upgrade the bot, or run the release that wrote it."
        )
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise CorruptRecord(f"{cls.__name__} record does not validate") from exc


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
            with _translate():
                return bool(await self._lock.acquire(blocking=False, token=self.token))
        except asyncio.CancelledError:
            with contextlib.suppress(RedisError):
                await asyncio.shield(self._drop_if_ours())
            raise

    async def _drop_if_ours(self) -> None:
        await self._lock.redis.eval(_DEL_IF_VALUE, 1, self._lock.name, self.token)

    async def release(self) -> bool:
        """Give the lease back; False when it had expired or was never held."""
        with _translate():
            try:
                await self._lock.release()
                return True
            except (LockNotOwnedError, LockError):
                return False

    async def extend(self, seconds: float) -> bool:
        with _translate():
            try:
                return bool(await self._lock.extend(seconds, replace_ttl=True))
            except (LockNotOwnedError, LockError):
                return False

    async def owned(self) -> bool:
        with _translate():
            return bool(await self._lock.owned())


class Store:
    """Typed access to everything the bot keeps in Redis."""

    def __init__(self, redis: aioredis.Redis, prefix: str = "fp:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._idx = f"{prefix}{{{prefix}idx}}"
        self._open_page_script: AsyncScript | None = None

    # -- keys -------------------------------------------------------------------------
    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _open_key(self, cause: Cause | None = None) -> str:
        return f"{self._idx}:open" + (f":{cause.value}" if cause else "")

    @property
    def _summary_key(self) -> str:
        return f"{self._idx}:summary"

    @property
    def _ref_key(self) -> str:
        return f"{self._idx}:ref"

    @property
    def _resolved_key(self) -> str:
        return f"{self._idx}:resolved"

    async def ping(self) -> bool:
        with _translate():
            return bool(await self.redis.ping())

    # -- failure records ----------------------------------------------------------------
    async def get_failure(self, payment_id: str) -> FailureRecord | None:
        with _translate():
            raw = await self.redis.get(self.key("failure", payment_id))
        return None if raw is None else load_versioned(FailureRecord, raw)

    async def get_failures(self, payment_ids: list[str]) -> list[FailureRecord]:
        """Records for these ids, in order, skipping ids with none."""
        if not payment_ids:
            return []
        with _translate():
            async with self.redis.pipeline(transaction=False) as pipe:
                for pid in payment_ids:
                    pipe.get(self.key("failure", pid))
                raws = await pipe.execute()
        return [load_versioned(FailureRecord, r) for r in raws if r is not None]

    async def find_by_reference(self, reference: str) -> str | None:
        with _translate():
            pid = await self.redis.hget(self._ref_key, reference.upper())
        return pid.decode() if isinstance(pid, bytes) else pid

    async def put_failure(self, rec: FailureRecord) -> None:
        """Write the record, then bring the open/resolved indexes in step with it."""
        summary = FailureSummary.of(rec)
        with _translate():
            await self.redis.set(self.key("failure", rec.payment_id), dump_versioned(rec))
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(self._ref_key, rec.payment.reference.upper(), rec.payment_id)
                for cause in Cause:
                    pipe.zrem(self._open_key(cause), rec.payment_id)
                if rec.status == FailureStatus.RESOLVED:
                    pipe.zrem(self._open_key(), rec.payment_id)
                    pipe.hdel(self._summary_key, rec.payment_id)
                    at = rec.resolution.at if rec.resolution else rec.updated_at
                    pipe.zadd(self._resolved_key, {rec.payment_id: at.timestamp()})
                else:
                    score = rec.payment.paid_at.timestamp()
                    pipe.zadd(self._open_key(), {rec.payment_id: score})
                    pipe.zadd(self._open_key(rec.cause), {rec.payment_id: score})
                    pipe.hset(self._summary_key, rec.payment_id, summary.model_dump_json())
                    pipe.zrem(self._resolved_key, rec.payment_id)
                await pipe.execute()

    async def open_ids(
        self,
        cause: Cause | None = None,
        *,
        start: int = 0,
        stop: int = -1,
        newest_first: bool = True,
    ) -> list[str]:
        key = self._open_key(cause)
        with _translate():
            if newest_first:
                ids = await self.redis.zrevrange(key, start, stop)
            else:
                ids = await self.redis.zrange(key, start, stop)
        return [_text(i) for i in ids]

    async def open_count(self, cause: Cause | None = None) -> int:
        with _translate():
            return int(await self.redis.zcard(self._open_key(cause)))

    async def open_summaries(self) -> list[FailureSummary]:
        """Every open failure's summary row, newest paid first."""
        with _translate():
            raw = await self.redis.hgetall(self._summary_key)
        rows = [FailureSummary.model_validate_json(v) for v in raw.values()]
        rows.sort(key=lambda s: (s.paid_at, s.payment_id), reverse=True)
        return rows

    async def open_page(
        self,
        *,
        cause: Cause | None = None,
        customer: str | None = None,
        min_amount: Decimal | None = None,
        seen_before: datetime | None = None,
        offset: int = 0,
        limit: int = 10,
    ) -> OpenPage | None:
        """Open failures newest paid first, filtered inside Redis in one round trip: those
        of ``cause``, whose customer name contains ``customer`` (case-insensitive), of at
        least ``min_amount``, first seen at or before ``seen_before``. Answers their count,
        their amounts' sum and the rows ``offset .. offset+limit``; ``None`` when Redis
        cannot filter these rows itself (a customer text with letters beyond Latin-1, an
        amount it cannot read exactly, scripting refused): then filter ``open_summaries()``
        instead."""
        needle = (customer or "").lower()
        latin1 = not needle.isascii()
        if latin1 and not all(c.isascii() or ("\u00df" <= c <= "\u00fe" and c != "\u00f7")
                              for c in needle):
            return None  # the script lowercases ASCII and Latin-1 letters only
        min_args = ["", ""]
        if min_amount is not None:
            q = min_amount.quantize(Decimal("0.000001"))
            if q != min_amount or abs(q) >= Decimal(10) ** 13:
                return None
            whole = int(q)  # toward zero, as the script splits amounts
            min_args = [str(whole), str(int((q - whole) * 1_000_000))]
        args = [
            needle,
            *min_args,
            str(int(seen_before.timestamp())) if seen_before is not None else "",
            str(max(0, offset)),
            str(max(0, limit)),
            cause.value if cause is not None else "",
            "1" if latin1 else "0",
            seen_before.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            if seen_before is not None else "",
        ]
        if self._open_page_script is None:
            self._open_page_script = self.redis.register_script(_OPEN_PAGE_LUA)
        with _translate():
            try:
                reply = await self._open_page_script(
                    keys=[self._open_key(cause), self._summary_key], args=args
                )
            except ResponseError:
                return None
        head = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        if head != "ok":
            return None
        count, whole_sum, frac_sum = (int(x) for x in reply[1:4])
        total_amount = Decimal(whole_sum) + Decimal(frac_sum).scaleb(-6)
        if total_amount == total_amount.quantize(Decimal("0.01")):
            total_amount = total_amount.quantize(Decimal("0.01"))
        rows = [FailureSummary.model_validate_json(r) for r in reply[4]]
        return OpenPage(total=count, total_amount=total_amount, rows=rows)

    async def resolved_ids(self, since: datetime, until: datetime | None = None) -> list[str]:
        hi: float | str = until.timestamp() if until else "+inf"
        with _translate():
            ids = await self.redis.zrangebyscore(self._resolved_key, since.timestamp(), hi)
        return [_text(i) for i in ids]

    # -- leases and once-markers -----------------------------------------------------------
    def lease(self, name: str, holder: str, ttl: float = 60.0) -> Lease:
        """A lease on ``name`` (e.g. ``payment:<id>``) for ``holder``, expiring after ``ttl``."""
        lock = Lock(self.redis, self.key("lease", name), timeout=ttl, blocking=False)
        return Lease(lock, holder)

    async def lease_holder(self, name: str) -> str | None:
        """Who holds the lease on ``name`` now, or None."""
        with _translate():
            raw = await self.redis.get(self.key("lease", name))
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return text.split("|", 1)[0]

    async def once(self, name: str, value: str = "1", ttl: float | None = None) -> bool:
        """True for exactly one caller per ``name`` (until ``ttl`` runs out, if given)."""
        px = int(ttl * 1000) if ttl else None
        with _translate():
            return bool(await self.redis.set(self.key("once", name), value, nx=True, px=px))

    async def once_value(self, name: str) -> str | None:
        with _translate():
            raw = await self.redis.get(self.key("once", name))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def set_once_value(self, name: str, value: str, ttl: float | None = None) -> None:
        px = int(ttl * 1000) if ttl else None
        with _translate():
            await self.redis.set(self.key("once", name), value, px=px)

    async def clear_once(self, name: str, value: str | None = None) -> bool:
        """Remove a marker (only when it still holds ``value``, if given)."""
        key = self.key("once", name)
        with _translate():
            if value is None:
                return bool(await self.redis.delete(key))
            return bool(await self.redis.eval(_DEL_IF_VALUE, 1, key, value))

    # -- audit ---------------------------------------------------------------------------
    async def audit(self, entry: AuditEntry) -> str:
        with _translate():
            sid = await self.redis.xadd(
                self.key("audit"),
                {"entry": entry.model_dump_json()},
                maxlen=AUDIT_MAX_LEN,
                approximate=True,
            )
        return sid.decode() if isinstance(sid, bytes) else str(sid)

    async def audit_entries(self, count: int = 100) -> list[AuditEntry]:
        """The newest ``count`` audit entries, newest first."""
        with _translate():
            rows = await self.redis.xrevrange(self.key("audit"), count=count)
        out = []
        for _sid, fields in rows or []:
            raw = (fields or {}).get(b"entry") or (fields or {}).get("entry")
            if raw is not None:
                out.append(AuditEntry.model_validate_json(raw))
        return out

    # -- versioned singletons (alert state, ...) ------------------------------------------
    async def get_model(self, cls: type[M], *parts: str) -> M | None:
        with _translate():
            raw = await self.redis.get(self.key(*parts))
        return None if raw is None else load_versioned(cls, raw)

    async def put_model(self, model: BaseModel, *parts: str, ttl: float | None = None) -> None:
        px = int(ttl * 1000) if ttl else None
        with _translate():
            await self.redis.set(self.key(*parts), dump_versioned(model), px=px)

    # -- poll cursor ---------------------------------------------------------------------
    async def get_cursor(self) -> datetime | None:
        with _translate():
            raw = await self.redis.get(self.key("poll", "cursor"))
        if raw is None:
            return None
        return datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else raw)

    async def set_cursor(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("the poll cursor must carry a time zone")
        with _translate():
            await self.redis.set(self.key("poll", "cursor"), at.isoformat())

    # -- conversation state --------------------------------------------------------------
    async def put_conversation(self, kind: str, data: dict[str, Any], ttl: float = 900) -> str:
        """Keep short-lived state (modal context, list paging); returns its id."""
        cid = secrets.token_urlsafe(12)
        doc = json.dumps({"schema_version": SCHEMA_VERSION, "data": data})
        with _translate():
            await self.redis.set(self.key("conv", kind, cid), doc, px=int(ttl * 1000))
        return cid

    async def get_conversation(self, kind: str, cid: str) -> dict[str, Any] | None:
        if not cid or len(cid) > 64 or not cid.replace("-", "").replace("_", "").isalnum():
            return None
        with _translate():
            raw = await self.redis.get(self.key("conv", kind, cid))
        if raw is None:
            return None
        doc = json.loads(raw)
        if int(doc.get("schema_version", 0)) > SCHEMA_VERSION:
            raise SchemaTooNew(f"conversation state {kind} has a newer schema version")
        data = doc.get("data")
        return data if isinstance(data, dict) else None

    async def delete_conversation(self, kind: str, cid: str) -> None:
        with _translate():
            await self.redis.delete(self.key("conv", kind, cid))

    # -- small caches --------------------------------------------------------------------
    async def cache_get(self, name: str) -> Any | None:
        with _translate():
            raw = await self.redis.get(self.key("cache", name))
        return None if raw is None else json.loads(raw)

    async def cache_put(self, name: str, value: Any, ttl: float) -> None:
        with _translate():
            await self.redis.set(self.key("cache", name), json.dumps(value), px=int(ttl * 1000))

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

