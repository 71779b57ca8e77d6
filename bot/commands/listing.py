"""Open failures for ``/failed-payments list``: filtered, newest paid first, 10 a page,
with the count and amount of everything that matches.

The list is read through the store's indexes and running totals (``Store.open_page``): the
first page and the header's totals cost the same at 1,000 and 100,000 open failures, and a
customer text in any script takes the same path. Its rows and totals are the failures
awake: the snoozed ones (the ``state`` index's ``snoozed``, usually few) are subtracted
from them, so the cost stays flat, and shown apart (``bot.team.listing.snoozed_apart``,
the same filters on ``state`` ``snoozed``).
``matches`` and ``filter_page`` say the same filters over summaries in Python (the tests
hold the indexes to them).

Paging state (the filters, who asked, when) is kept in Redis for ``PAGING_TTL`` under a
token the Next/Previous buttons carry. Each page is read live: a failure resolved meanwhile
drops out and the totals follow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bot.commands.parse import ListFilters
from bot.models import FailureSummary
from bot.store import Store

PAGE_SIZE = 10
PAGING_KIND = "list"
PAGING_TTL = 3600.0


class PagingExpired(Exception):
    """The list a paging button belongs to is gone (expired, or someone else's)."""


@dataclass(frozen=True)
class ListResult:
    """One page of a list: its rows and where it stands in the whole."""

    rows: list[FailureSummary]
    page: int  # 1-based
    pages: int  # at least 1
    total: int  # failures matching the filters
    total_amount: Decimal  # what they add up to
    filters: ListFilters
    token: str  # paging token ("" when everything fits one page)


def matches(s: FailureSummary, f: ListFilters, now: datetime) -> bool:
    """Does one open failure pass the filters? (The Python twin of ``Store.open_page``.)"""
    if f.cause is not None and s.cause != f.cause:
        return False
    if f.min_amount is not None and s.amount < f.min_amount:
        return False
    if f.customer is not None and f.customer.lower() not in s.customer.lower():
        return False
    return not (f.older_than is not None and s.first_seen_at > now - f.older_than)


def filter_page(
    summaries: Iterable[FailureSummary],
    f: ListFilters,
    now: datetime,
    *,
    offset: int,
    limit: int,
) -> tuple[int, Decimal, list[FailureSummary]]:
    """``(count, amount, rows offset..offset+limit)`` of the summaries passing ``f``, in the
    order given (``open_summaries`` gives newest paid first)."""
    count, amount, rows = 0, Decimal(0), []
    for s in summaries:
        if not matches(s, f, now):
            continue
        if offset <= count < offset + limit:
            rows.append(s)
        count += 1
        amount += s.amount
    return count, amount, rows


ACTIVE = "active"
SNOOZED = "snoozed"


async def query(
    store: Store,
    f: ListFilters,
    now: datetime,
    *,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    state: str = ACTIVE,
) -> tuple[int, Decimal, list[FailureSummary]]:
    """Count, amount and the rows of ``page`` for the open failures passing ``f`` in
    ``state`` (``active``: awake, the list's rows; ``snoozed``: the section apart)."""
    offset = (max(1, page) - 1) * page_size
    seen_before = now - f.older_than if f.older_than is not None else None
    got = await store.open_page(
        cause=f.cause,
        customer=f.customer,
        min_amount=f.min_amount,
        seen_before=seen_before,
        tags={"state": [state]} if state != ACTIVE else None,
        left_out=("state", SNOOZED) if state == ACTIVE else None,
        offset=offset,
        limit=page_size,
    )
    return got.total, got.total_amount, got.rows


def _pages(total: int, page_size: int) -> int:
    return max(1, math.ceil(total / page_size))


async def first_page(
    store: Store, f: ListFilters, now: datetime, *, user: str, page_size: int = PAGE_SIZE
) -> ListResult:
    """Page 1 of a new list; keeps paging state in Redis when there is more than a page."""
    total, amount, rows = await query(store, f, now, page=1, page_size=page_size)
    pages = _pages(total, page_size)
    token = ""
    if pages > 1:
        token = await store.put_conversation(
            PAGING_KIND,
            {"filters": f.to_dict(), "user": user, "size": page_size},
            ttl=PAGING_TTL,
        )
    return ListResult(rows, 1, pages, total, amount, f, token)


async def page_at(store: Store, token: str, page: int, now: datetime, *, user: str) -> ListResult:
    """Page ``page`` of the list ``token`` names, read live (clamped to the pages there are
    now). ``PagingExpired`` when the state is gone or belongs to someone else."""
    state = await store.get_conversation(PAGING_KIND, token)
    if state is None or state.get("user") != user:
        raise PagingExpired("this list has expired; run `/failed-payments` again")
    try:
        f = ListFilters.from_dict(state.get("filters") or {})
        size = int(state.get("size") or PAGE_SIZE)
    except (ValueError, TypeError) as exc:
        raise PagingExpired(
            "this list can no longer be read; run `/failed-payments` again"
        ) from exc
    total, amount, rows = await query(store, f, now, page=page, page_size=size)
    pages = _pages(total, size)
    if page > pages:  # failures resolved meanwhile: show the last page there is
        page = pages
        total, amount, rows = await query(store, f, now, page=page, page_size=size)
    return ListResult(rows, max(1, page), pages, total, amount, f, token)
