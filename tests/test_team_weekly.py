"""The weekly summary: its numbers computed once (pure), the message and the chart drawn
from them, the chart a real PNG of the expected size uploaded through the current upload
method into the Slack stand-in (which keeps the bytes), once a week, driven by a test clock."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis
from PIL import Image

from bot.formats import fmt_rate
from bot.models import FailureStatus, Resolution, ResolutionHow
from bot.poll.cycle import poll_once
from bot.slack.blocks.team_weekly import weekly_message
from bot.team.chart import HEIGHT, WIDTH, render
from bot.team.schedule import run_schedule
from bot.team.weekly import gather
from bot.team.weekly_data import DAYS, WEEKS, Span, compute
from sandbox.slack import validate_blocks
from tests.harness import ALERT_CHANNEL, FINANCE_USER, World, world

UTC_TZ = ZoneInfo("UTC")
MONDAY = date(2026, 12, 7)


def _at(d: date, hour: int = 12) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def test_compute_counts_the_week_and_the_history() -> None:
    wk = MONDAY - timedelta(days=7)  # the summarised week: 30 Nov .. 6 Dec
    spans = [
        Span(_at(wk), _at(wk)),  # found this week, still open
        Span(
            _at(wk + timedelta(days=1)),
            _at(wk + timedelta(days=1)),
            _at(wk + timedelta(days=2)),
            "dismissed",
            "U1",
        ),
        Span(
            _at(wk - timedelta(days=10)),
            _at(wk - timedelta(days=10)),
            _at(wk + timedelta(days=3)),
            "synced",
            None,
        ),
        Span(_at(wk - timedelta(days=30)), _at(wk - timedelta(days=30))),  # old, still open
    ]
    payments = {wk: 10, wk + timedelta(days=1): 40, wk - timedelta(days=10): 5}
    data = compute(spans, payments, MONDAY, UTC_TZ)
    assert (data.start, data.end) == (wk, MONDAY - timedelta(days=1))
    assert len(data.days) == DAYS and len(data.weeks) == WEEKS
    assert data.found == 2 and data.fixed == 2 and data.still_open == 2
    assert data.fixed_by_remedy == {"dismissed": 1, "synced": 1}
    assert data.fixed_by_person == {"U1": 1, "": 1}
    last = data.weeks[-1]
    assert (last.failures, last.payments, last.rate) == (2, 50, Decimal("0.04"))
    by_day = {d.day: d for d in data.days}
    assert by_day[wk].backlog == 3  # the old one, the one before, today's
    assert by_day[wk + timedelta(days=2)].backlog == 3  # one fixed, one found the day before
    assert by_day[wk + timedelta(days=3)].backlog == 2
    assert sum(w.failures for w in data.weeks) == 4


def test_the_chart_is_a_png_of_the_size_drawn_from_the_data() -> None:
    wk = MONDAY - timedelta(days=7)
    spans = [
        Span(_at(wk - timedelta(days=i)), _at(wk - timedelta(days=i))) for i in range(0, 50, 3)
    ]
    data = compute(spans, {wk - timedelta(days=i): 20 for i in range(56)}, MONDAY, UTC_TZ)
    chart = render(data)
    assert chart.png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(chart.png))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
    assert chart.rates_percent == [float(d.rate * 100) for d in data.days]
    assert chart.backlog == [d.backlog for d in data.days]
    _, blocks = weekly_message(data)
    assert validate_blocks(blocks) == []
    body = str(blocks)
    for w in data.weeks:  # every week's rate in the text, from the same numbers
        assert f"{fmt_rate(w.rate)} ({w.failures:,} of {w.payments:,} payment" in body
    assert sum(chart.backlog) > 0


def test_without_counted_payments_the_rate_is_not_known_rather_than_zero() -> None:
    """Gateway-only mode counts no payments: a week with failures says its rate is not known."""
    wk = MONDAY - timedelta(days=7)
    data = compute([Span(_at(wk), _at(wk))], {}, MONDAY, UTC_TZ)
    _, blocks = weekly_message(data)
    body = str(blocks)
    assert "not known (1 failed; payments are counted by ConnectBooster's contract)" in body
    assert "0% (1 of" not in body and "0.0% (1 of" not in body


@pytest.fixture
async def w(redis_url: str, redis_prefix: str, redis_client: aioredis.Redis) -> AsyncIterator[Any]:
    overrides = {"weekly_summary_day": "mon", "weekly_summary_hour": 9}
    async with world(redis_url, redis_prefix, "all-causes", bot_overrides=overrides) as built:
        if built.slack._base_url is None:
            built.slack.base_url = built.slack_url
        yield built


async def test_once_a_week_a_summary_and_its_chart_through_the_upload_method(w: World) -> None:
    s = w.services
    now = {"at": datetime(2026, 12, 3, 15, 0, tzinfo=UTC)}  # Thursday: the failures found
    s.clock = lambda: now["at"]
    w.slack.rate_limit_enabled = False
    await poll_once(s, post_interval=0, check_alerts=False)
    open_ids = await s.store.open_ids()
    fixed = await s.store.get_failure(open_ids[0])
    assert fixed is not None
    fixed.status = FailureStatus.RESOLVED  # test setup: a failure a person fixed on Friday
    fixed.resolution = Resolution(
        how=ResolutionHow.DISMISSED, by=FINANCE_USER, at=datetime(2026, 12, 4, 16, tzinfo=UTC)
    )
    await s.store.put_failure(fixed)

    now["at"] = datetime(2026, 12, 7, 8, 59, tzinfo=UTC)  # Monday, before the hour
    await run_schedule(s)
    assert w.slack.all_messages(ALERT_CHANNEL) == []
    now["at"] = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    await run_schedule(s)
    summary, shared = w.slack.all_messages(ALERT_CHANNEL)
    assert "week of 30 Nov to 6 Dec 2026" in summary.text
    data = await gather(s, MONDAY)
    assert data.found == len(open_ids) and data.fixed == 1
    assert data.fixed_by_person == {FINANCE_USER: 1}
    assert f"{data.found} found, 1 fixed, {data.still_open} still open" in summary.text
    assert f"<@{FINANCE_USER}>: 1" in str(summary.blocks)

    [uploaded] = list(w.slack.files.values())
    assert uploaded.completed and uploaded.channel == ALERT_CHANNEL
    assert shared.files and shared.files[0]["id"] == uploaded.id
    assert uploaded.data is not None and len(uploaded.data) == uploaded.length
    image = Image.open(io.BytesIO(uploaded.data))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
    assert uploaded.data == render(data).png  # drawn from the very numbers of the text
    methods = [c.method for c in w.slack.calls]
    assert methods.index("files.getUploadURLExternal") < methods.index("upload")
    assert methods.index("upload") < methods.index("files.completeUploadExternal")

    now["at"] += timedelta(hours=5)
    await run_schedule(s)
    now["at"] += timedelta(days=1)
    await run_schedule(s)
    assert len(w.slack.all_messages(ALERT_CHANNEL)) == 2  # once a week
