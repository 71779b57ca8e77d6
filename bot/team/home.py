"""The App Home tab: gathered from Redis (and ConnectBooster's 30-day counts), drawn by
``bot.slack.blocks.home`` and published with ``views.publish``.

It is published when its user opens it (``app_home_opened``) and again after each change
the team makes (take, reassign, release, snooze, unsnooze, a snooze waking), after each
remedy finishes (``bot.lifecycle.remedy_finished``) and after a poll cycle that changed
anything: :func:`refresh_viewers` republishes the Home of everyone who opened it in the last
``VIEWER_WINDOW`` (kept in ``P team:home:viewers``, a zset scored by when each opened it; at
most ``MAX_REFRESH`` people a time, the most recent first). After a change it runs in the
background (:func:`refresh_soon`): whoever changed something never waits for it, its
errors are logged, and changes landing while one refresh runs are folded into one more.

Whatever the number of open failures it reads the running totals (all, by cause, by cause
and first-seen day and hour: ``bot.store.indexes``), the ``queue`` index of the unowned
active ones (their count and the oldest few), the owner and snooze indexes, and only the
records of the rows it shows (``bench.bench_scale`` times it at 1,000 to 100,000 open); the
view itself stays within Slack's limits (``bot.slack.blocks.home``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from bot.errors import log_reason
from bot.models import Cause, TeamRow
from bot.runtime.services import Services, ShuttingDown
from bot.slack.blocks.home import (
    AGE_BUCKETS,
    MAX_ROWS,
    MAX_SNOOZED,
    HomeData,
    home_view,
    outsider_home,
)
from bot.slack.permissions import may_act, who_may
from bot.store import Store
from bot.team import listing

log = logging.getLogger(__name__)

VIEWER_WINDOW = timedelta(days=1)
MAX_REFRESH = 25
_TICK = timedelta(microseconds=1)  # "first seen after": an age exactly at a limit is older


async def by_cause_and_age(store: Store, now: datetime) -> dict[Cause, list[int]]:
    """Open failures by cause, counted in the ``AGE_BUCKETS`` of their first-seen time (the
    bucket of an age under its limit): the running totals by cause, less those first seen
    within each limit (``Store.open_by_cause_since_each(..., by="seen")``), no scan."""
    totals = await store.open_totals("cause")
    within = await store.open_by_cause_since_each(
        [now - timedelta(days=limit) + _TICK for limit, _ in AGE_BUCKETS if limit is not None],
        by="seen",
    )
    out: dict[Cause, list[int]] = {}
    for value, t in totals.items():
        cause = Cause(value)
        upto = [w.get(cause, (0, Decimal(0)))[0] for w in within] + [t.count]
        out[cause] = [upto[0], *(b - a for a, b in pairwise(upto))]
    return out


async def gather(services: Services, user: str) -> HomeData:
    """What ``user``'s Home tab shows now, read through the running totals and indexes
    (the same few reads at 1,000 or 100,000 open failures)."""
    store = services.store
    now = services.clock()
    data = HomeData(now=now)
    everything = (await store.open_totals("all")).get("*")
    if everything is not None:
        data.open_total, data.open_amount = everything.count, everything.amount
    data.by_cause = await by_cause_and_age(store, now)
    data.mine, data.mine_total = await listing.mine(store, user)
    data.unowned_total, oldest = await store.unowned_waiting(MAX_ROWS)
    data.waiting = [TeamRow(r, None, None) for r in await store.get_failures(oldest)]
    data.snoozed, data.snoozed_total = await listing.snoozed_apart(store, None, now)
    data.snoozed = data.snoozed[:MAX_SNOOZED]
    try:
        stats = await services.contract().sync_stats(now - timedelta(days=30))
        data.rate, data.failed_30d, data.payments_30d = (
            stats.failure_rate,
            stats.failed,
            stats.total,
        )
    except Exception as exc:  # noqa: BLE001 - the Home shows the rest and says so
        log.warning("30-day failure rate not read for the Home tab: %s", log_reason(exc))
    return data


async def publish(services: Services, user: str) -> None:
    """Publish ``user``'s Home tab: the team's view for a finance user, else who may act."""
    if await may_act(services, user):
        view = home_view(await gather(services, user))
    else:
        view = outsider_home(who_may(services))
    await services.slack.views_publish(user_id=user, view=view)


async def opened(services: Services, user: str) -> None:
    """``user`` opened the Home tab: remember them as a viewer, then publish it."""
    await services.store.note_home_viewer(user, services.clock())
    await publish(services, user)


async def refresh_viewers(services: Services) -> int:
    """Republish the Home of the recent viewers (after a change); returns how many. A
    failure for one person is logged and the others still get theirs."""
    since: datetime = services.clock() - VIEWER_WINDOW
    users = await services.store.home_viewers(since, MAX_REFRESH)
    for user in users:
        try:
            await publish(services, user)
        except Exception as exc:  # noqa: BLE001 - one Home tab is never worth the rest
            log.warning("Home tab not refreshed: %s", log_reason(exc))
    return len(users)


_AGAIN: dict[int, bool] = {}
"""Per ``Services`` (by id) while a background refresh runs: whether a change came meanwhile
(then it runs once more)."""


def refresh_soon(services: Services) -> None:
    """Republish the recent viewers' App Home after a change, in the background (in-flight
    work: shutdown lets it finish): the caller never waits, errors are logged, and changes
    while one refresh runs are folded into one more run."""
    key = id(services)
    if key in _AGAIN:
        _AGAIN[key] = True
        return
    _AGAIN[key] = False
    try:
        services.run_work(_refresh_folded(services, key))
    except ShuttingDown:  # it refreshes when next opened
        del _AGAIN[key]


async def _refresh_folded(services: Services, key: int) -> None:
    try:
        while True:
            _AGAIN[key] = False
            try:
                await refresh_viewers(services)
            except Exception as exc:  # noqa: BLE001 - a background refresh only logs
                log.warning("App Home tabs not refreshed: %s", log_reason(exc))
            if not _AGAIN.get(key):
                return
    finally:
        _AGAIN.pop(key, None)
