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

At 10,000 open failures it reads the summary hash once (one ``HGETALL``), the owners in one
``MGET``, and at most a few dozen records (the rows it shows); the view itself stays within
Slack's limits (``bot.slack.blocks.home``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from bot.errors import log_reason
from bot.models import FailureSummary, TeamRow
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
from bot.team import listing

log = logging.getLogger(__name__)

VIEWER_WINDOW = timedelta(days=1)
MAX_REFRESH = 25


def _bucket(age: timedelta) -> int:
    days = age.total_seconds() / 86400
    for i, (limit, _) in enumerate(AGE_BUCKETS):
        if limit is not None and days < limit:
            return i
    return len(AGE_BUCKETS) - 1


async def _rows(services: Services, summaries: list[FailureSummary]) -> list[TeamRow]:
    recs = {
        r.payment_id: r
        for r in await services.store.get_failures([s.payment_id for s in summaries])
    }
    return [TeamRow(recs[s.payment_id], None, None) for s in summaries if s.payment_id in recs]


async def gather(services: Services, user: str) -> HomeData:
    """What ``user``'s Home tab shows now."""
    store = services.store
    now = services.clock()
    data = HomeData(now=now)
    summaries = await store.open_summaries()
    snoozed = set(await store.snoozed_ids())
    data.open_total = len(summaries)
    data.open_amount = sum((s.amount for s in summaries), Decimal(0))
    for s in summaries:
        counts = data.by_cause.setdefault(s.cause, [0] * len(AGE_BUCKETS))
        counts[_bucket(now - s.first_seen_at)] += 1
    data.mine, data.mine_total = await listing.mine(store, user)
    oldest = sorted(
        (s for s in summaries if s.payment_id not in snoozed),
        key=lambda s: (s.first_seen_at, s.payment_id),
    )
    owners = await store.owners_of([s.payment_id for s in oldest])
    unowned = [s for s in oldest if s.payment_id not in owners]
    data.unowned_total = len(unowned)
    data.waiting = await _rows(services, unowned[:MAX_ROWS])
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
