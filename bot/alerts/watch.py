"""Failure-rate and "sync not running" alerts, posted once to ``ALERT_CHANNEL``.

Failure rate (:func:`check_alerts`, called at the end of every poll cycle):

- rate = failed / all payments paid in the last ``ALERT_WINDOW_DAYS`` (ConnectBooster's
  ``/v1/sync/stats``). At or over ``ALERT_THRESHOLD`` with at least ``ALERT_MIN_PAYMENTS``
  payments: one alert — the rate against the threshold, counts and amounts by cause and the
  customers most affected (the store's open failures paid in the window), the trend against
  the window before, and what to check (QBO's ``SalesFormsPrefs.AutoApplyCredit`` /
  ``AutoApplyPayments`` read with ``qbo.preferences()`` when credit-memo or paid-manually
  causes dominate; deleted-and-recreated invoices; the shared sync error when unknown).
- Hysteresis: no repeat while the rate stays high. The alert re-arms once the rate falls
  below 80% of the threshold, with a short "recovered" message. While it flaps, at most one
  alert in ``MIN_ALERT_GAP`` (a day): a crossing sooner than that is noted, not posted.

Sync not running: payments are ``pending`` but no payment reached ``synced`` or ``failed``
(the outcomes of a sync run) in ``SYNC_STALL`` (48 hours) → one alert (ConnectBooster's
notification of that name, brought to Slack); it re-arms once a sync run is seen again.

Exactly once with several workers: the check runs under the ``alerts`` lease, and each post
is guarded by a ``once:alert:<kind>:<episode>`` marker set before posting — a worker that
crashed after setting it is taken as having posted (an alert may be lost in that crash, never
doubled). The state lives in Redis as versioned JSON (``AlertState`` under ``alert:rate`` and
``SyncAlertState`` under ``alert:sync``).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel

from bot.alerts.rules import (
    AlertReport,
    CauseCount,
    CustomerCount,
    dominant_cause,
    tally,
    what_to_check,
)
from bot.models import Cause, FailureSummary
from bot.runtime.services import Services
from bot.slack import messages
from bot.slack.blocks.digest import alert_message, recovered_message, sync_not_running_message
from cb.models import SyncStats
from qb.errors import QBOError

log = logging.getLogger(__name__)

RECOVER_RATIO = Decimal("0.8")
"""The alert re-arms when the rate falls below this share of the threshold."""
MIN_ALERT_GAP = timedelta(days=1)
"""At most one failure-rate alert in this long while the rate flaps."""
SYNC_STALL = timedelta(hours=48)
TOP_CUSTOMERS = 5
LEASE_NAME = "alerts"
_SETTINGS_CAUSES = (Cause.CREDIT_MEMO, Cause.PAID_MANUALLY)


class AlertState(BaseModel):
    """The failure-rate alert's state, kept in Redis between checks."""

    active: bool = False  # an alert is out and has not recovered
    episode: int = 0  # alerts posted so far (names the once-markers)
    alerted_at: AwareDatetime | None = None
    last_alert_at: AwareDatetime | None = None
    recovered_at: AwareDatetime | None = None
    suppressed_at: AwareDatetime | None = None  # a crossing inside MIN_ALERT_GAP
    last_rate: Decimal | None = None
    checked_at: AwareDatetime | None = None


class SyncAlertState(BaseModel):
    """The "sync not running" alert's state."""

    active: bool = False
    episode: int = 0
    alerted_at: AwareDatetime | None = None
    checked_at: AwareDatetime | None = None


async def alert_state(services: Services) -> AlertState:
    """The failure-rate alert's state (a fresh one when none was stored)."""
    return await services.store.get_model(AlertState, "alert", "rate") or AlertState()


async def sync_alert_state(services: Services) -> SyncAlertState:
    """The "sync not running" alert's state."""
    return await services.store.get_model(SyncAlertState, "alert", "sync") or SyncAlertState()


async def check_alerts(services: Services, *, stats: SyncStats | None = None) -> AlertReport | None:
    """Check the failure rate and whether ConnectBooster's sync runs; post what is due
    (alert, recovered, sync not running) once. Returns the failure-rate alert when one was
    posted by this call, else ``None``. ``stats``: this window's counts, if already read."""
    s = services
    async with s.store.holding(LEASE_NAME, s.instance, ttl=60) as got:
        if not got:
            return None  # another worker is checking right now
        report = await _check_rate(s, stats)
        await _check_sync(s)
        return report


# ---- failure rate ------------------------------------------------------------------------


def _rate(failed: int, total: int) -> Decimal:
    return Decimal(failed) / Decimal(total) if total > 0 else Decimal(0)


async def _check_rate(s: Services, stats: SyncStats | None) -> AlertReport | None:
    cfg = s.settings
    now = s.clock()
    window = timedelta(days=cfg.alert_window_days)
    cur = stats if stats is not None else await s.contract().sync_stats(now - window)
    rate = cur.failure_rate
    state = await alert_state(s)
    state.checked_at, state.last_rate = now, rate
    report: AlertReport | None = None
    over = cur.total >= cfg.alert_min_payments and rate >= cfg.alert_threshold

    if state.active:
        if rate < cfg.alert_threshold * RECOVER_RATIO:
            if await s.store.once(f"alert:recovered:{state.episode}", ttl=30 * 86400):
                text, blocks = recovered_message(
                    rate=rate,
                    threshold=cfg.alert_threshold,
                    window_days=cfg.alert_window_days,
                    now=now,
                    alerted_at=state.alerted_at,
                )
                await messages.post(s, cfg.alert_channel, text, blocks)
            state.active, state.recovered_at = False, now
            log.info("failure rate recovered: %s", rate)
    elif over:
        if state.last_alert_at is not None and now - state.last_alert_at < MIN_ALERT_GAP:
            state.suppressed_at = now
            log.info(
                "failure rate %s over the threshold again within a day of the last "
                "alert; not alerting again yet",
                rate,
            )
        else:
            episode = state.episode + 1
            if await s.store.once(f"alert:rate:{episode}", ttl=30 * 86400):
                prev = await s.contract().sync_stats(now - 2 * window)
                report = await build_report(s, cur, prev, now)
                text, blocks = alert_message(report)
                await messages.post(s, cfg.alert_channel, text, blocks)
                log.warning("failure-rate alert: %s of %d payments failed", rate, cur.total)
            state.episode = episode
            state.active = True
            state.alerted_at = state.last_alert_at = now
    await s.store.put_model(state, "alert", "rate")
    return report


async def build_report(
    s: Services, cur: SyncStats, prev_cumulative: SyncStats | None, now: datetime
) -> AlertReport:
    """What the alert says. ``prev_cumulative`` counts payments paid since the start of the
    window before this one; the previous window alone is the difference."""
    cfg = s.settings
    since = now - timedelta(days=cfg.alert_window_days)
    rows = [r for r in await s.store.open_summaries() if r.cause != Cause.NONE]
    in_window = [r for r in rows if r.paid_at >= since] or rows
    by_cause = _by_cause(in_window)
    previous_rate: Decimal | None = None
    previous_failures: int | None = None
    if prev_cumulative is not None:
        p_total = prev_cumulative.total - cur.total
        p_failed = prev_cumulative.failed - cur.failed
        if p_total > 0:
            previous_rate, previous_failures = _rate(p_failed, p_total), max(0, p_failed)
    checks = await _checks(s, by_cause, in_window)
    return AlertReport(
        rate=cur.failure_rate,
        threshold=cfg.alert_threshold,
        window_days=cfg.alert_window_days,
        payments=cur.total,
        failures=cur.failed,
        by_cause=by_cause,
        top_customers=_top_customers(in_window),
        previous_rate=previous_rate,
        previous_failures=previous_failures,
        checks=checks,
        at=now,
    )


def _by_cause(rows: list[FailureSummary]) -> list[CauseCount]:
    out = [
        CauseCount(cause=c, count=n, amount=a)
        for c, (n, a) in tally((r.cause, r.amount) for r in rows).items()
    ]
    return sorted(out, key=lambda c: (-c.count, -c.amount, c.cause.value))


def _top_customers(rows: list[FailureSummary]) -> list[CustomerCount]:
    out = [
        CustomerCount(name=name, count=n, amount=a)
        for name, (n, a) in tally((r.customer, r.amount) for r in rows).items()
    ]
    out.sort(key=lambda c: (-c.count, -c.amount, c.name))
    return out[:TOP_CUSTOMERS]


async def _checks(s: Services, by_cause: list[CauseCount], rows: list[FailureSummary]) -> list[str]:
    cause = dominant_cause(by_cause)
    credit: bool | None = None
    payments: bool | None = None
    if cause in _SETTINGS_CAUSES:
        try:
            prefs = await s.qbo.preferences()
            credit = prefs.sales_forms_prefs.auto_apply_credit
            payments = prefs.sales_forms_prefs.auto_apply_payments
        except QBOError as exc:
            log.warning("QuickBooks preferences not read for the alert: %s", exc)
    sample: str | None = None
    if cause in (Cause.UNKNOWN, None):
        ids = [r.payment_id for r in rows if r.cause == Cause.UNKNOWN][:100]
        errors = Counter(
            rec.payment.sync.error.message
            for rec in await s.store.get_failures(ids)
            if rec.payment.sync.error and rec.payment.sync.error.message
        )
        sample = errors.most_common(1)[0][0] if errors else None
    return what_to_check(
        by_cause, auto_apply_credit=credit, auto_apply_payments=payments, sample_sync_error=sample
    )


# ---- sync not running --------------------------------------------------------------------


async def _check_sync(s: Services) -> None:
    now = s.clock()
    state = await sync_alert_state(s)
    state.checked_at = now
    pending = [p async for p in s.contract().list_payments("pending", limit=500)]
    ran = False
    if pending:
        for status in ("synced", "failed"):
            page = await s.contract().list_page(status, updated_since=now - SYNC_STALL, limit=1)
            if page.items:
                ran = True
                break
    stalled = bool(pending) and not ran
    if stalled and not state.active:
        episode = state.episode + 1
        if await s.store.once(f"alert:sync:{episode}", ttl=30 * 86400):
            text, blocks = sync_not_running_message(
                pending=len(pending),
                now=now,
                hours=int(SYNC_STALL.total_seconds() // 3600),
                pending_amount=sum((p.amount for p in pending), Decimal(0)),
            )
            await messages.post(s, s.settings.alert_channel, text, blocks)
            log.warning("ConnectBooster's sync looks stopped: %d payments pending", len(pending))
        state.episode, state.active, state.alerted_at = episode, True, now
    elif not stalled and state.active:
        state.active = False
        log.info("ConnectBooster's sync is running again")
    await s.store.put_model(state, "alert", "sync")


__all__ = [
    "AlertReport",
    "AlertState",
    "SyncAlertState",
    "alert_state",
    "build_report",
    "check_alerts",
    "sync_alert_state",
]
