"""Pure builders for the channel-level messages of issue 7: the burst digest, the
failure-rate alert and its recovery, and "sync not running"."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from bot.alerts.rules import AlertReport, window_label
from bot.models import Cause, FailureRecord, FailureSummary
from bot.slack.blocks.common import (
    Block,
    context,
    escape,
    fallback,
    fields_section,
    fmt_age,
    fmt_rate,
    header,
    link,
    money,
    plural,
    section,
    slack_time,
    truncate,
)

_MAX_ROWS = 10


def _summary(item: FailureRecord | FailureSummary) -> FailureSummary:
    return item if isinstance(item, FailureSummary) else FailureSummary.of(item)


def digest_message(
    records: Sequence[FailureRecord | FailureSummary],
    *,
    total_count: int | None = None,
    total_amount: Decimal | None = None,
    counts_by_cause: Mapping[Cause, int] | None = None,
    oldest: Sequence[FailureRecord | FailureSummary] | None = None,
    now: datetime | None = None,
    owners: Mapping[str, str] | None = None,
) -> tuple[str, list[Block]]:
    """One message for a burst of new failures: how many, the total, counts by cause and
    the oldest few (with ``owners[payment id]``, the owner's Slack id, where known); each
    failure's own card follows in this message's thread.
    Totals default to what ``records`` hold; ``oldest`` defaults to its 5 oldest."""
    rows = [_summary(r) for r in records]
    count = total_count if total_count is not None else len(rows)
    amount = total_amount if total_amount is not None else sum((r.amount for r in rows), Decimal(0))
    by_cause = (
        dict(counts_by_cause) if counts_by_cause is not None else Counter(r.cause for r in rows)
    )
    old = (
        [_summary(r) for r in oldest]
        if oldest is not None
        else sorted(rows, key=lambda r: r.paid_at)[:5]
    )

    title = f"{plural(count, 'payment')} didn't reach QuickBooks"
    blocks: list[Block] = [
        header(title),
        section(
            f"*{plural(count, 'new failed payment')}* totalling *{money(amount)}* in this "
            "check. Each has its own message with buttons in this thread."
        ),
    ]
    causes = sorted(by_cause.items(), key=lambda kv: (-kv[1], kv[0].value))
    if causes:
        fields = [f"*{escape(c.label)}*\n{n:,}" for c, n in causes[:10]]
        blocks.append(fields_section(fields))
    if old:
        lines = []
        for r in old[:_MAX_ROWS]:
            age = f" · {fmt_age(now - r.paid_at)} ago" if now else ""
            owner = (owners or {}).get(r.payment_id)
            who = f" · owner <@{escape(owner)}>" if owner else ""
            lines.append(
                f"• {link(r.permalink, escape(r.reference))} · "
                f"{escape(truncate(r.customer, 60))} · {money(r.amount)} · "
                f"{escape(r.cause.label)}{age}{who}"
            )
        blocks.append(section("*Oldest*\n" + "\n".join(lines)))
    return fallback(f"{title} ({money(amount)})"), blocks


def alert_message(report: AlertReport) -> tuple[str, list[Block]]:
    """The failure-rate alert: rate against the threshold, counts and amounts by cause,
    the customers most affected, the trend against the previous window, what to check."""
    r = report
    win = window_label(r.window_days)
    title = f"{fmt_rate(r.rate)} of payments failed to reach QuickBooks"
    blocks: list[Block] = [
        header(f":rotating_light: {title}"),
        section(
            f"*{r.failures:,} of {r.payments:,}* payments in the last {win} failed to sync "
            f"— *{fmt_rate(r.rate)}*, at or over the alert threshold of {fmt_rate(r.threshold)}. "
            "Isolated failures are normal; this many usually means a setting needs attention."
        ),
    ]
    if r.previous_rate is not None:
        if r.rate > r.previous_rate:
            trend = f":chart_with_upwards_trend: up from {fmt_rate(r.previous_rate)}"
        elif r.rate < r.previous_rate:
            trend = f":chart_with_downwards_trend: down from {fmt_rate(r.previous_rate)}"
        else:
            trend = f"unchanged from {fmt_rate(r.previous_rate)}"
        prev = (
            f" ({plural(r.previous_failures, 'failure')})"
            if r.previous_failures is not None
            else ""
        )
        blocks.append(context(f"Trend: {trend} in the {win} before{prev}."))
    if r.by_cause:
        causes = sorted(r.by_cause, key=lambda c: (-c.count, -c.amount))
        blocks.append(
            fields_section(
                [f"*{escape(c.cause.label)}*\n{c.count:,} · {money(c.amount)}" for c in causes]
            )
        )
    if r.top_customers:
        lines = [
            f"• {escape(truncate(c.name, 80))}: {plural(c.count, 'failure')}, {money(c.amount)}"
            for c in r.top_customers[:5]
        ]
        blocks.append(section("*Customers most affected*\n" + "\n".join(lines)))
    if r.checks:
        blocks.append(
            section("*What to check*\n" + "\n".join(f"• {escape(c)}" for c in r.checks[:5]))
        )
    blocks.append(
        context(
            f"Checked at {slack_time(r.at)}. No repeat while the rate stays high; you'll hear "
            "when it recovers."
        )
    )
    return fallback(f"Alert: {title} ({r.failures} of {r.payments} in {win})"), blocks


def recovered_message(
    *,
    rate: Decimal,
    threshold: Decimal,
    window_days: int,
    now: datetime,
    alerted_at: datetime | None = None,
) -> tuple[str, list[Block]]:
    """The short all-clear once the rate falls back under 80% of the threshold."""
    win = window_label(window_days)
    text = (
        f":white_check_mark: Failure rate recovered: {fmt_rate(rate)} over the last {win}, "
        f"under the {fmt_rate(threshold)} threshold."
    )
    if alerted_at is not None:
        text += f" The alert was raised at {slack_time(alerted_at)}."
    blocks = [section(text), context(f"Checked at {slack_time(now)}.")]
    return fallback(f"Failure rate recovered: {fmt_rate(rate)}"), blocks


def sync_not_running_message(
    *,
    pending: int,
    now: datetime,
    last_change_at: datetime | None = None,
    hours: int = 48,
    pending_amount: Decimal | None = None,
) -> tuple[str, list[Block]]:
    """ConnectBooster's "Sync not running" notification, brought to Slack."""
    amount = f" ({money(pending_amount)})" if pending_amount is not None else ""
    if last_change_at is not None:
        since = (
            f"No payment has changed sync state since {slack_time(last_change_at)} "
            f"({fmt_age(now - last_change_at)} ago)."
        )
    else:
        since = f"No payment has changed sync state in the last {hours} hours."
    blocks: list[Block] = [
        header(":warning: ConnectBooster's sync to QuickBooks is not running"),
        section(
            f"*{plural(pending, 'payment')}*{amount} are waiting to sync. {since}\n"
            "Check the QuickBooks connection in ConnectBooster (it may need re-authorising) "
            "and its Sync History; *Sync Now* starts a run."
        ),
        context(f"Checked at {slack_time(now)}."),
    ]
    return fallback(f"ConnectBooster sync not running: {pending} payments pending"), blocks
