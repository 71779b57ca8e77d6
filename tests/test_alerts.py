"""Failure-rate and "sync not running" alerts against the stand-ins and a real Redis."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from bot.alerts.watch import alert_state, check_alerts, sync_alert_state
from bot.poll.cycle import poll_once
from bot.runtime.services import Services
from tests.harness import ALERT_CHANNEL, World, world


def alert_texts(w: World) -> list[str]:
    return [m.text for m in w.slack.messages(ALERT_CHANNEL)]


def shift_clock(services: Services, by: timedelta) -> None:
    real = services.clock
    services.clock = lambda: real() + by


async def test_alert_crossing_no_repeat_recovery_and_re_alert(redis_url: str, redis_prefix: str):
    # all-causes: 9 of 248 payments failed (3.6%)
    async with world(
        redis_url, redis_prefix, "all-causes", bot_overrides={"alert_threshold": "0.03"}
    ) as w:
        s = w.services
        w.slack.rate_limit_enabled = False
        await poll_once(s, post_interval=0, check_alerts=False)  # the failures, diagnosed

        report = await check_alerts(s)
        assert report is not None and report.failures == 9 and report.payments == 248
        assert report.rate >= Decimal("0.03") and report.threshold == Decimal("0.03")
        assert sum(c.count for c in report.by_cause) == 9
        assert report.top_customers and report.checks
        assert len(alert_texts(w)) == 1 and "Alert" in alert_texts(w)[0]

        assert await check_alerts(s) is None  # still over: no repeat
        assert len(alert_texts(w)) == 1

        for pid in sorted(w.scenario.failed_ids)[:4]:  # 5 of 248 left: 2.0% < 80% of 3%
            w.cb.dismiss(pid)
        assert await check_alerts(s) is None
        texts = alert_texts(w)
        assert len(texts) == 2 and "recovered" in texts[1]
        assert not (await alert_state(s)).active

        s.settings.alert_threshold = Decimal("0.02")  # over again, within a day: flapping
        assert await check_alerts(s) is None
        assert len(alert_texts(w)) == 2
        assert (await alert_state(s)).suppressed_at is not None

        shift_clock(s, timedelta(hours=25))  # a day after the first alert: it may speak again
        again = await check_alerts(s)
        assert again is not None and len(alert_texts(w)) == 3
        assert (await alert_state(s)).episode == 2


async def test_several_workers_post_one_alert(redis_url: str, redis_prefix: str):
    async with world(
        redis_url, redis_prefix, "all-causes", bots=3, bot_overrides={"alert_threshold": "0.03"}
    ) as w:
        results = await asyncio.gather(*(check_alerts(b.services) for b in w.bots))
        assert sum(r is not None for r in results) == 1
        results = await asyncio.gather(*(check_alerts(b.services) for b in w.bots))
        assert all(r is None for r in results)
        assert len(alert_texts(w)) == 1


async def test_below_min_payments_or_threshold_no_alert(redis_url: str, redis_prefix: str):
    async with world(
        redis_url,
        redis_prefix,
        "all-causes",
        bot_overrides={"alert_threshold": "0.03", "alert_min_payments": 1000},
    ) as w:
        assert await check_alerts(w.services) is None
        w.services.settings.alert_min_payments = 20
        w.services.settings.alert_threshold = Decimal("0.10")
        assert await check_alerts(w.services) is None
        assert alert_texts(w) == []


async def test_settings_hint_read_from_qbo_preferences(redis_url: str, redis_prefix: str):
    async with world(redis_url, redis_prefix, "bad-settings") as w:
        s = w.services
        w.slack.rate_limit_enabled = False
        report = await poll_once(s, post_interval=0)  # posts, diagnoses, then alerts
        alert = report.alert
        assert alert is not None, report.alert_error
        assert alert.rate >= s.settings.alert_threshold
        top = max(alert.by_cause, key=lambda c: c.count)
        assert top.cause.value == "credit-memo"
        assert any("Automatically apply credits is ON" in c for c in alert.checks)
        assert "Automatically apply credits is ON" in str(w.slack.messages(ALERT_CHANNEL)[0].blocks)

        # the same world with the setting off in QuickBooks: the hint changes with it
        w.company.preferences["SalesFormsPrefs"]["AutoApplyCredit"] = False
        from bot.alerts.watch import build_report

        stats = await s.cb.sync_stats(s.clock() - timedelta(days=7))
        off = await build_report(s, stats, None, s.clock())
        assert not any("is ON" in c for c in off.checks)
        assert any("by hand" in c for c in off.checks)


async def test_sync_not_running_alert_once(redis_url: str, redis_prefix: str):
    async with world(redis_url, redis_prefix, "all-causes") as w:
        s = w.services
        assert any(p.sync.status.value == "pending" for p in w.cb.payments.values())
        await check_alerts(s)  # the scenario's sync ran an hour ago: nothing to say
        assert alert_texts(w) == []

        real = s.clock
        shift_clock(s, timedelta(days=3))  # 72 h on: payments pending, no sync since
        await check_alerts(s)
        await check_alerts(s)
        texts = alert_texts(w)
        assert len(texts) == 1 and "not running" in texts[0]
        assert (await sync_alert_state(s)).active

        s.clock = real  # back to now: the last sync run is recent again
        await check_alerts(s)
        assert not (await sync_alert_state(s)).active
        assert len(alert_texts(w)) == 1
