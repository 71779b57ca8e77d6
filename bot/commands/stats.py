"""Numbers about failed payments: ``/failed-payments stats`` over a window, and the
``failed_payments_open`` gauges ``/metrics`` shows.

The rate is ConnectBooster's (failed / all payments paid in the window, as the alerts
use it); the breakdowns come from the bot's own records: failures paid in the window by
cause with amounts, and failures resolved in the window by remedy and by person, with the
median time from first seen to resolved.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from bot.alerts.rules import CauseCount, StatsReport, tally
from bot.models import Cause, FailureRecord
from bot.runtime.services import Services
from bot.slack.blocks.common import (
    Block,
    context,
    escape,
    fallback,
    fmt_time,
    plural,
    section,
    truncate,
)
from bot.store import Store

RECORD_BATCH = 500
MAX_REFS = 20
OUTSIDE_SLACK = ""  # key of resolutions nobody clicked (e.g. ConnectBooster synced it)


def summarise(
    *,
    window_days: int,
    payments: int,
    failures: int,
    rate: Decimal,
    threshold: Decimal,
    since: datetime,
    open_rows: list[tuple[Cause, Decimal, datetime]],
    resolved: list[FailureRecord],
    open_now: int | None = None,
    open_amount: Decimal | None = None,
    open_counts: dict[Cause, tuple[int, Decimal]] | None = None,
) -> StatsReport:
    """Pure: the report from ConnectBooster's counts, the open failures as
    ``(cause, amount, paid_at)`` (or already counted by cause for the window:
    ``open_counts``) and the records resolved in the window."""
    in_window = [(cause, amount) for cause, amount, paid_at in open_rows if paid_at >= since]
    in_window += [(r.cause, r.payment.amount) for r in resolved if r.payment.paid_at >= since]
    by_remedy: Counter[str] = Counter()
    by_person: Counter[str] = Counter()
    durations: list[timedelta] = []
    for rec in resolved:
        res = rec.resolution
        if res is None:
            continue
        by_remedy[res.how] += 1
        by_person[res.by or OUTSIDE_SLACK] += 1
        durations.append(max(timedelta(0), res.at - rec.first_seen_at))
    median = statistics.median_low(durations) if durations else None
    counted = dict(open_counts or {})
    for c, (n, a) in tally(in_window).items():
        n0, a0 = counted.get(c, (0, Decimal(0)))
        counted[c] = (n0 + n, a0 + a)
    by_cause = [CauseCount(cause=c, count=n, amount=a) for c, (n, a) in counted.items()]
    return StatsReport(
        window_days=window_days,
        payments=payments,
        failures=failures,
        rate=rate,
        threshold=threshold,
        by_cause=by_cause,
        resolved_by_remedy=dict(by_remedy),
        resolved_by_person=dict(by_person),
        median_time_to_resolve=median,
        open_now=open_now,
        open_amount=open_amount,
    )


async def resolved_since(store: Store, since: datetime, until: datetime) -> list[FailureRecord]:
    """Records of the failures resolved between ``since`` and ``until``."""
    ids = await store.resolved_ids(since, until)
    out: list[FailureRecord] = []
    for i in range(0, len(ids), RECORD_BATCH):
        out.extend(r for r in await store.get_failures(ids[i : i + RECORD_BATCH]) if r.resolution)
    return out


async def build_stats(
    services: Services, window_days: int, now: datetime | None = None
) -> StatsReport:
    """``stats [7d|30d|90d]``: ConnectBooster's payment counts and failure rate against
    ``ALERT_THRESHOLD``, and the bot's breakdowns over the same window."""
    now = now or services.clock()
    since = now - timedelta(days=window_days)
    sync = await services.contract().sync_stats(since)
    store = services.store
    everything = (await store.open_totals()).get("*")
    resolved = await resolved_since(store, since, now)
    return summarise(
        window_days=window_days,
        payments=sync.total,
        failures=sync.failed,
        rate=sync.failure_rate,
        threshold=services.settings.alert_threshold,
        since=since,
        open_rows=[],
        resolved=resolved,
        open_now=everything.count if everything else 0,
        open_amount=everything.amount if everything else Decimal(0),
        open_counts=await store.open_by_cause_since(since),
    )


async def refresh_gauges(services: Services) -> None:
    """Set ``failed_payments_open{cause=…}`` to the open failures of each cause."""
    for cause in Cause:
        services.metrics.open_failures.labels(cause.value).set(
            await services.store.open_count(cause)
        )


def recheck_message(
    *,
    new: Sequence[str],
    resolved: Sequence[str],
    still_open: int,
    now: datetime,
    new_count: int | None = None,
    resolved_count: int | None = None,
    skipped: str | None = None,
) -> tuple[str, list[Block]]:
    """Pure: what a ``recheck`` changed. ``new``/``resolved`` are references (or ids) to
    name, at most ``MAX_REFS`` each shown; ``*_count`` give the totals when the lists were
    cut short. ``skipped`` (a poll already running elsewhere) is said instead."""
    if skipped:
        text = (
            "A check is already running (" + truncate(skipped, 200) + "); its results "
            "appear in the channel as usual. Try `recheck` again in a minute."
        )
        return fallback(text), [section(f":hourglass_flowing_sand: {escape(text)}")]
    new_n = len(new) if new_count is None else new_count
    res_n = len(resolved) if resolved_count is None else resolved_count
    if new_n == 0 and res_n == 0:
        headline = (
            ":white_check_mark: Checked ConnectBooster: nothing changed. "
            f"{plural(still_open, 'failure')} still open."
        )
    else:
        headline = (
            f":arrows_counterclockwise: Checked ConnectBooster: {new_n:,} new, "
            f"{res_n:,} resolved, {still_open:,} still open."
        )
    blocks: list[Block] = [section(headline)]
    for label, n, refs in (("New", new_n, new), ("Resolved", res_n, resolved)):
        if n and refs:
            shown = ", ".join(f"`{escape(truncate(r, 40))}`" for r in refs[:MAX_REFS])
            more = f" and {n - min(len(refs), MAX_REFS):,} more" if n > MAX_REFS else ""
            blocks.append(section(f"*{label}:* {shown}{more}"))
    blocks.append(context(f"As of {fmt_time(now)}. `/failed-payments` lists the open ones."))
    text = f"Recheck: {new_n} new, {res_n} resolved, {still_open} still open"
    return fallback(text), blocks
