"""The weekly summary to ``ALERT_CHANNEL``: failures found, fixed (by remedy and by whom),
still open, the failure rate per week (``bot.slack.blocks.team_weekly``), then a chart of the
daily failure rate and the open backlog over 8 weeks (``bot.team.chart``) uploaded with the
Web API's current upload method (slack_sdk's ``files_upload_v2``:
``files.getUploadURLExternal``, the bytes POSTed to the URL it answers,
``files.completeUploadExternal`` sharing it into the channel).

Both are drawn from one :class:`~bot.team.weekly_data.WeeklyData`
(:func:`gather` reads it: the bot's records for the failures, ConnectBooster's
``/v1/sync/stats`` for the payments of each day). Sent once a week: on
``WEEKLY_SUMMARY_DAY`` at or after ``WEEKLY_SUMMARY_HOUR`` (BOOKS_TIMEZONE), by the poller
loop (``bot.team.schedule``) and its clock, at most once (``P once:weekly:<date>`` taken
before posting: a crash in between loses that week's summary rather than sending two).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime

from bot.commands.stats import resolved_since
from bot.runtime.services import Services
from bot.runtime.settings_team import WEEKDAYS
from bot.slack.blocks.team_weekly import weekly_message
from bot.slack.messages import post
from bot.team.chart import Chart, render
from bot.team.weekly_data import Span, WeeklyData, compute, day_bounds, history_days

log = logging.getLogger(__name__)

MARKER_TTL = 9 * 86400.0


def due(services: Services, now: datetime) -> date | None:
    """The day the summary is due on at ``now`` (its date in BOOKS_TIMEZONE), or ``None``."""
    s = services.settings
    local = now.astimezone(s.books_tz)
    if s.weekly_summary_hour < 0 or local.hour < s.weekly_summary_hour:
        return None
    if local.weekday() != WEEKDAYS.index(s.weekly_summary_day):
        return None
    return local.date()


async def gather(services: Services, sent_on: date) -> WeeklyData:
    """The numbers of the summary sent on ``sent_on``."""
    tz = services.settings.books_tz
    days = history_days(sent_on)
    per_day: dict[date, int] = {}
    if services.cb is not None:  # without the contract the payments are not counted
        totals: dict[date, int] = {}
        for d in [*days, sent_on]:
            start, _ = day_bounds(d, tz)
            totals[d] = (await services.cb.sync_stats(start)).total
        following = [*days[1:], sent_on]
        per_day = {d: max(0, totals[d] - totals[n]) for d, n in zip(days, following, strict=True)}
    store = services.store
    spans = [Span(s.paid_at, s.first_seen_at) for s in await store.open_summaries()]
    window_start, _ = day_bounds(days[0], tz)
    for rec in await resolved_since(store, window_start, services.clock()):
        r = rec.resolution
        if r is not None:
            spans.append(Span(rec.payment.paid_at, rec.first_seen_at, r.at, str(r.how), r.by))
    return compute(spans, per_day, sent_on, tz)


async def send(services: Services, data: WeeklyData) -> Chart:
    """Post the summary and upload its chart to ALERT_CHANNEL; returns the chart sent."""
    channel = services.settings.alert_channel
    text, blocks = weekly_message(data)
    channel, _ = await post(services, channel, text, blocks)
    chart = await asyncio.to_thread(render, data)
    await services.slack.files_upload_v2(
        channel=channel,
        file=chart.png,
        filename=f"failed-payments-{data.end.isoformat()}.png",
        title=f"Failed payments: daily rate and open backlog to {data.end.isoformat()}",
        alt_txt="Daily failure rate (line) and open backlog (bars) over the last 8 weeks",
        initial_comment="Daily failure rate and open backlog, last 8 weeks.",
    )
    return chart


async def summarise_if_due(services: Services) -> bool:
    """Send this week's summary when due and not yet sent; True when sent."""
    sent_on = due(services, services.clock())
    if sent_on is None:
        return False
    marker = f"weekly:{sent_on.isoformat()}"
    if await services.store.once_value(marker) is not None:
        return False
    data = await gather(services, sent_on)
    if not await services.store.once(marker, "sent", MARKER_TTL):
        return False
    await send(services, data)
    log.info("weekly summary sent for %s..%s", data.start, data.end)
    return True
