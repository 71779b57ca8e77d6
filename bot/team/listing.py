"""What the lists show of the team: owners and snoozes beside ``/failed-payments list``
rows, the separate snoozed section, and ``mine``.

Kept apart from ``bot.commands.listing`` on purpose (its indexes are being reworked): the
list asks :func:`row_notes` for the ids on its page (one ``MGET`` each for owners and
snoozes) and adds :func:`snoozed_apart` under the page; ``mine`` reads the per-owner set
(``P team:mine:<user>``), ``snoozed`` the snoozed zset (``P team:snoozed``).
"""

from __future__ import annotations

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


async def snoozed_apart(store: Store) -> tuple[list[TeamRow], int]:
    """The snoozed open failures to show (soonest to wake first, at most
    ``MAX_SNOOZED_SHOWN``) and how many are snoozed in all."""
    ids = await store.snoozed_ids()
    return await _rows(store, ids[:MAX_SNOOZED_SHOWN]), len(ids)


async def mine(store: Store, user: str) -> tuple[list[TeamRow], int]:
    """The open failures ``user`` owns, oldest first (at most ``MAX_MINE_SHOWN``), and how
    many they own in all."""
    rows = await _rows(store, await store.owned_by(user))
    rows.sort(key=lambda r: (r.record.first_seen_at, r.record.payment_id))
    return rows[:MAX_MINE_SHOWN], len(rows)
