"""The open failures' indexes and running totals: what each one keys on, as data (pure).

Every open failure carries a few **tags**, one per index and value it belongs to. For each
tag ``(dim, value)`` the store keeps, under the hash tag ``{P idx}``:

- a zset of the failures with that tag, scored by paid time (newest first is a
  ``ZREVRANGE``), at the key the index names (``open`` for ``all``, ``open:<cause>`` for
  ``cause``, ``ix:<dim>:<value>`` for the rest), unless the index keeps totals only;
- the running count and amount of those failures: fields ``value`` of the hashes
  ``n:<dim>`` and ``m:<dim>`` (amounts in millionths, integers, so no float touches money).

A failure's tags, amount, paid and first-seen times are kept as one JSON row (``row`` hash,
:func:`row_of`), so that a save (``index_failure.lua``) takes the old tags out and puts the
new ones in, in the same atomic step that writes the record. Two more zsets keep the
amount (``by:amount``) and first-seen time (``by:seen``) of each open failure, for the edge of
a range filter.

**Adding an index** is one line in :data:`INDEXES`: a name and the values a summary has for
it, e.g. ``Index("decade", lambda s: [s.reference[:6]])``. The team's two (``owner``,
``state``) are the exception: owner and snooze live in their own keys apart from the record
(``bot.store.team``), so their values are read from those keys inside Redis by each save
(``team_tags.lua``) and each team change re-tags the failure (``team_index.lua``).
The indexes' names are part of :data:`INDEX_VERSION`: at the next start the store sees a
different version and rebuilds every index from the summaries and the team keys
(``RecordStore.ensure_indexes``). Its first page is then
``open_page(tags={"decade": ["CB1001"]})`` and its totals ``open_totals("decade")``; the
list's are ``tags={"state": ["active"]}`` and ``open_totals("state")``, ``mine``'s
``tags={"owner": [user]}``.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from bot.models import FailureSummary

DAY = 86400
HOUR = 3600
_MICRO = Decimal("0.000001")

# amount buckets: 40 a decade from 1 to 10^10 (each about 6 % wide), under 1 in bucket 0
AMOUNT_BOUNDS: tuple[Decimal, ...] = tuple(
    Decimal(10 ** (k / 40)).quantize(Decimal("0.01")) for k in range(0, 401)
)


def micros(amount: Decimal) -> int:
    """An amount in whole millionths (the unit of every running sum)."""
    return int((amount / _MICRO).to_integral_value())


def amount_bucket(amount: Decimal) -> int:
    """Bucket ``b`` holds amounts in ``[AMOUNT_BOUNDS[b-1], AMOUNT_BOUNDS[b])``."""
    return bisect_right(AMOUNT_BOUNDS, amount)


def day_of(at: datetime) -> int:
    """Days since the epoch (UTC) of ``at``."""
    return int(at.timestamp() // DAY)


def hour_of(at: datetime) -> int:
    """Hours since the epoch (UTC) of ``at``."""
    return int(at.timestamp() // HOUR)


def customer_value(name: str) -> str:
    """The customer index's value: the name lowercased (Python's rules, every script)."""
    return name.lower()


@dataclass(frozen=True)
class Index:
    """One index: its name and the values a summary has in it. ``key`` names the zset of a
    value (under ``{P idx}:``); ``None`` keeps running totals only."""

    dim: str
    values: Callable[[FailureSummary], Iterable[str]]
    key: Callable[[str, str], str] | None = lambda dim, v: f"ix:{dim}:{v}"
    team: bool = False  # values read from the team keys inside Redis (``team_tags.lua``)


INDEXES: tuple[Index, ...] = (
    Index("all", lambda s: ["*"], lambda _d, _v: "open"),
    Index("cause", lambda s: [s.cause.value], lambda _d, v: f"open:{v}"),
    Index("customer", lambda s: [customer_value(s.customer)]),
    Index("amount", lambda s: [str(amount_bucket(s.amount))]),
    Index("seen", lambda s: [str(day_of(s.first_seen_at))]),
    Index("seen_hour", lambda s: [str(hour_of(s.first_seen_at))]),
    # stats: open failures by cause and paid day, and paid hour (totals only)
    Index("paid", lambda s: [f"{s.cause.value}|{day_of(s.paid_at)}"], None),
    Index("paid_hour", lambda s: [f"{s.cause.value}|{hour_of(s.paid_at)}"], None),
    # App Home: open failures by cause and first-seen day, and hour (totals only)
    Index("seen_cause", lambda s: [f"{s.cause.value}|{day_of(s.first_seen_at)}"], None),
    Index("seen_cause_hour", lambda s: [f"{s.cause.value}|{hour_of(s.first_seen_at)}"], None),
    # the team's: kept apart from the record (``bot.store.team``), so their values are read
    # from the team keys by the save (``team_tags.lua``) and re-tagged by each team change
    # (``team_index.lua``): owner ``ix:owner:<user>``, state ``ix:state:active|snoozed``,
    # and queue ``ix:queue:unowned`` (active and nobody's: the App Home's "waiting", a zset
    # scored by first-seen time, oldest first, where every other is scored by paid time)
    Index("owner", lambda s: [], team=True),
    Index("state", lambda s: [], team=True),
    Index("queue", lambda s: [], team=True),
)
INDEX_VERSION = hashlib.sha256(("rows-2|" + "|".join(i.dim for i in INDEXES)).encode()).hexdigest()[
    :12
]


def tags_of(summary: FailureSummary) -> list[list[str]]:
    """``[dim, value, zset key or ""]`` for every index value of ``summary``."""
    return [
        [ix.dim, v, ix.key(ix.dim, v) if ix.key is not None else ""]
        for ix in INDEXES
        for v in ix.values(summary)
    ]


def row_of(summary: FailureSummary) -> str:
    """The ``row`` JSON of an open failure: amount (millionths), paid and first-seen times
    (epoch seconds, as text so Lua keeps every digit), and its tags."""
    return json.dumps(
        {
            "a": str(micros(summary.amount)),
            "p": repr(summary.paid_at.timestamp()),
            "s": repr(summary.first_seen_at.timestamp()),
            "t": tags_of(summary),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


@dataclass(frozen=True)
class Row:
    """A ``row`` read back: what a filter tests a candidate against."""

    pid: str
    amount: int  # millionths
    paid: float
    seen: float
    tags: dict[str, set[str]]

    @classmethod
    def parse(cls, pid: str, raw: str | bytes) -> Row:
        d = json.loads(raw)
        tags: dict[str, set[str]] = {}
        for t in d["t"]:  # [dim, value, zset key] and, for a team tag, its score ("s")
            tags.setdefault(t[0], set()).add(t[1])
        return cls(pid, int(d["a"]), float(d["p"]), float(d["s"]), tags)


@dataclass
class Constraint:
    """One filter as index values: ``full`` values match every failure they hold; the
    ``edge`` (a range of ``by:<dim>`` scores) holds failures that match one by one;
    ``test`` tells whether one row passes."""

    dim: str
    full: list[str]
    test: Callable[[Row], bool]
    edge: tuple[str, float, float] | None = None  # (by-zset, min score, max score)
    extra: list[tuple[str, str]] = field(default_factory=list)  # full values of other indexes
    bounds: tuple[str, float, float] | None = None  # the whole range, for a filter in Redis

    @property
    def parts(self) -> list[tuple[str, str]]:
        """Every ``(index, value)`` whose failures all match."""
        return [(self.dim, v) for v in self.full] + self.extra

    @property
    def impossible(self) -> bool:
        """Nothing can match (a customer text no name contains)."""
        return not self.full and not self.extra and self.edge is None


def tag_constraint(dim: str, values: Iterable[str]) -> Constraint:
    """Failures with any of ``values`` in the index ``dim``."""
    wanted = list(dict.fromkeys(values))
    allowed = set(wanted)
    return Constraint(dim, wanted, lambda r: bool(r.tags.get(dim, set()) & allowed))


def min_amount_constraint(minimum: Decimal, buckets: Iterable[str]) -> Constraint:
    """Failures of at least ``minimum``: the buckets wholly above it, and its own bucket's
    failures from ``minimum`` up (by ``by:amount``)."""
    floor = micros(minimum)
    if Decimal(floor) * _MICRO != minimum:
        floor += 1  # finer than a millionth: the next millionth up is the least that passes
    b = amount_bucket(minimum)
    full = [v for v in buckets if int(v) > b]
    if b > 0 and AMOUNT_BOUNDS[b - 1] >= minimum:
        full.append(str(b))
        edge = None
    else:
        top = micros(AMOUNT_BOUNDS[b]) - 1 if b < len(AMOUNT_BOUNDS) else float("inf")
        edge = ("by:amount", float(floor), float(top))
    bounds = ("by:amount", float(floor), float("inf"))
    return Constraint("amount", full, lambda r: r.amount >= floor, edge, bounds=bounds)


def seen_before_constraint(cutoff: datetime, days: Iterable[str]) -> Constraint:
    """Failures first seen at or before ``cutoff``: the days wholly before it, the hours of
    its day wholly before it, and its own hour's failures up to it (by ``by:seen``)."""
    c = cutoff.timestamp()
    d, h = int(c // DAY), int(c // HOUR)
    full = [v for v in days if int(v) < d]
    hours = [("seen_hour", str(x)) for x in range(d * 24, h)]
    edge = ("by:seen", float(h * HOUR), c)
    bounds = ("by:seen", float("-inf"), c)
    return Constraint("seen", full, lambda r: r.seen <= c, edge, hours, bounds)
