"""What the lists show of the team: owners and snoozes beside ``/failed-payments list``
rows, the separate snoozed section, and ``mine``.

The list's rows are the failures awake (``bot.commands.listing``, the ``state`` index);
it asks :func:`row_notes` for the ids on its page (one ``MGET`` each for owners and
snoozes) and adds :func:`snoozed_apart` under the page: the snoozed failures passing the
same filters, read through the same indexes. ``mine`` reads the ``owner`` index. Neither
scans the open failures.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.commands import listing
from bot.commands.parse import ListFilters
from bot.models import FailureStatus, TeamRow
from bot.store import Store

MAX_SNOOZED_SHOWN = 10
MAX_MINE_SHOWN = 30


async def row_notes(store: Store, payment_ids: list[str]) -> dict[str, tuple[str | None, bool]]:
    """Payment id -> (owner, snoozed?) for the rows of a list page."""
    owners = await store.owners_of(payment_ids)
    snoozes = await store.snoozes_of(payment_ids)
    return {p: (owners.get(p), p in snoozes) for p in payment_ids}


async def _rows(store: Store, ids: list[str]) -> list[TeamRow]:
    recs = [r for r in await store.get_failures(ids) if r.status != FailureStatus.RESOLVED]
    got = [r.payment_id for r in recs]
    owners = await store.owners_of(got)
    snoozes = await store.snoozes_of(got)
    return [TeamRow(r, owners.get(r.payment_id), snoozes.get(r.payment_id)) for r in recs]


def _wakes(row: TeamRow) -> tuple[bool, datetime, str]:
    until = row.snooze.until if row.snooze is not None else None
    return (until is None, until or datetime.max.replace(tzinfo=UTC), row.record.payment_id)


async def snoozed_apart(
    store: Store, f: ListFilters | None = None, now: datetime | None = None
) -> tuple[list[TeamRow], int]:
    """The snoozed open failures passing ``f`` (all when ``None``) to show — the newest
    paid ``MAX_SNOOZED_SHOWN``, soonest to wake first — and how many pass in all."""
    when = now or datetime.now(UTC)
    total, _amount, summaries = await listing.query(
        store, f or ListFilters(), when, page_size=MAX_SNOOZED_SHOWN, state=listing.SNOOZED
    )
    rows = await _rows(store, [s.payment_id for s in summaries])
    rows.sort(key=_wakes)
    return rows, total


async def mine(store: Store, user: str) -> tuple[list[TeamRow], int]:
    """The open failures ``user`` owns (the ``owner`` index), oldest first (the newest
    paid ``MAX_MINE_SHOWN`` of them), and how many they own in all."""
    page = await store.open_page(tags={"owner": [user]}, limit=MAX_MINE_SHOWN)
    rows = await _rows(store, [s.payment_id for s in page.rows])
    rows.sort(key=lambda r: (r.record.first_seen_at, r.record.payment_id))
    return rows, page.total
