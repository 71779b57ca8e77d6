"""Pure builders for the ``/failed-payments`` replies of issue 8: a list page with paging
buttons, stats, help (naming the mistake) and the "who may act" answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from bot.alerts.rules import StatsReport, window_label
from bot.models import Cause, FailureStatus, FailureSummary
from bot.slack.blocks.common import (
    BLOCKS_JSON_BUDGET,
    Block,
    actions,
    button,
    context,
    escape,
    fallback,
    fields_section,
    fmt_age,
    fmt_rate,
    header,
    json_size,
    link,
    money,
    plural,
    section,
    slack_time,
    truncate,
    user_ref,
)
from bot.slack.ids import ActionId, encode_page_value

MAX_ROWS = 25
_STATUS_NOTES = {
    FailureStatus.IN_PROGRESS: " · being handled",
    FailureStatus.WAITING_SYNC: " · waiting for sync",
    FailureStatus.RESOLVED: " · resolved",
}

USAGE = (
    "*`/failed-payments`* — what I can do:\n"
    "• `/failed-payments` or `list` — open failures, newest first, 10 a page\n"
    "   filters, combinable: `cause:credit-memo` `customer:northwind` `older:3d` `min:500`\n"
    "• `stats [7d|30d|90d]` — payments, failures, rate, causes, who resolved what\n"
    "• `show CB10234` — one failure's card with its buttons (by reference or payment id)\n"
    "• `recheck` — look for new and resolved failures now\n"
    "• `mine` — the failures you own · `assign CB10234 @jane` — give one to a finance user\n"
    "• `snooze CB10234 until 2026-12-05 [why]` (or `until sync`) · `unsnooze CB10234`\n"
    "• `help` — this message"
)


def cause_names() -> str:
    """The short cause names ``cause:`` accepts, for help texts."""
    return ", ".join(f"`{c.value}`" for c in Cause if c != Cause.NONE)


def list_page(
    summaries: Sequence[FailureSummary],
    *,
    page: int,
    pages: int,
    total: int,
    total_amount: Decimal,
    filters: str,
    now: datetime,
    paging_token: str = "",
    notes: Mapping[str, str] | None = None,
) -> tuple[str, list[Block]]:
    """One page of open failures: a row per failure (reference linked to its message,
    customer, amount, cause, age, and ``notes[payment id]``: the owner, snoozed), a totals
    line, and Previous/Next buttons whose value carries ``paging_token`` and the page they
    lead to."""
    filt = f" matching `{escape(truncate(filters, 200))}`" if filters.strip() else ""
    title = "Open failed payments"
    blocks: list[Block] = [header(title)]
    if not summaries:
        blocks.append(section(f"No open failed payments{filt}. :tada:"))
        return fallback(f"No open failed payments{filt}"), blocks

    blocks.append(
        section(
            f"*{plural(total, 'open failure')}*{filt} · *{money(total_amount)}* in all · "
            f"page {page} of {max(pages, 1)}"
        )
    )
    rows: list[Block] = []
    budget = BLOCKS_JSON_BUDGET - 1500
    for s in summaries[:MAX_ROWS]:
        row = section(_row_text(s, now) + (notes or {}).get(s.payment_id, ""))
        if json_size([*rows, row]) > budget:
            break
        rows.append(row)
    blocks.extend(rows)
    left = min(len(summaries), MAX_ROWS) - len(rows)
    if left > 0:
        blocks.append(context(f"… and {left:,} more on this page not shown"))
    nav: list[Block] = []
    if page > 1:
        nav.append(
            button("◀ Previous", ActionId.LIST_PREV, encode_page_value(paging_token, page - 1))
        )
    if page < pages:
        nav.append(button("Next ▶", ActionId.LIST_NEXT, encode_page_value(paging_token, page + 1)))
    if nav:
        blocks.append(actions(nav, block_id="fp_list_nav"))
    blocks.append(context(f"As of {slack_time(now)}. `/failed-payments show CB…` opens one."))
    text = f"{total} open failed payments ({money(total_amount)}), page {page} of {max(pages, 1)}"
    return fallback(text), blocks


def _row_text(s: FailureSummary, now: datetime) -> str:
    ref = escape(s.reference)
    ref = link(s.permalink, f"*{ref}*") if s.permalink else f"*{ref}*"
    age = fmt_age(now - s.first_seen_at)
    status = _STATUS_NOTES.get(s.status, "")
    return (
        f"{ref} · {escape(truncate(s.customer, 80))} · *{money(s.amount)}*\n"
        f"{escape(s.cause.label)} · {age} old{status}"
    )


def stats_message(report: StatsReport, *, now: datetime | None = None) -> tuple[str, list[Block]]:
    """``stats``: payments, failures, the rate against the threshold, failures by cause
    with amounts, what was resolved by remedy and by person, median time to resolve."""
    r = report
    win = window_label(r.window_days)
    over = r.rate >= r.threshold and r.payments > 0
    mark = ":rotating_light: over" if over else "under"
    blocks: list[Block] = [
        header(f"Failed payments — last {win}"),
        fields_section(
            [
                f"*Payments*\n{r.payments:,}",
                f"*Failed*\n{r.failures:,}",
                f"*Failure rate*\n{fmt_rate(r.rate)} ({mark} {fmt_rate(r.threshold)})",
                f"*Median time to resolve*\n{_duration(r.median_time_to_resolve)}",
            ]
            + (
                [
                    f"*Open now*\n{r.open_now:,}"
                    + (f" · {money(r.open_amount)}" if r.open_amount is not None else "")
                ]
                if r.open_now is not None
                else []
            )
        ),
    ]
    if r.by_cause:
        lines = [
            f"• {escape(c.cause.label)}: {c.count:,} · {money(c.amount)}"
            for c in sorted(r.by_cause, key=lambda c: (-c.count, -c.amount))
        ]
        blocks.append(section("*Failures by cause*\n" + "\n".join(lines)))
    if r.resolved_by_remedy:
        lines = [
            f"• {escape(k.replace('_', ' ').replace('-', ' '))}: {n:,}"
            for k, n in sorted(r.resolved_by_remedy.items(), key=lambda kv: -kv[1])[:15]
        ]
        blocks.append(section("*Resolved, by how*\n" + "\n".join(lines)))
    if r.resolved_by_person:
        lines = [
            f"• {user_ref(u)}: {n:,}"
            for u, n in sorted(r.resolved_by_person.items(), key=lambda kv: -kv[1])[:15]
        ]
        blocks.append(section("*Resolved, by person*\n" + "\n".join(lines)))
    if now is not None:
        blocks.append(context(f"As of {slack_time(now)}."))
    text = f"Last {win}: {r.failures} of {r.payments} payments failed ({fmt_rate(r.rate)})"
    return fallback(text), blocks


def _duration(d: timedelta | None) -> str:
    if d is None:
        return "—"
    secs = int(d.total_seconds())
    if secs < 3600:
        return f"{max(1, secs // 60)} min"
    if secs < 86400:
        h, m = divmod(secs // 60, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    days, rest = divmod(secs, 86400)
    return f"{days} d {rest // 3600} h" if rest >= 3600 else f"{days} d"


def help_message(error: str | None = None) -> tuple[str, list[Block]]:
    """Usage; with ``error`` (e.g. "unknown filter `cus:` — did you mean `customer:`?")
    stated first. Backticks in ``error`` are kept; ``&<>`` are escaped."""
    blocks: list[Block] = []
    if error:
        blocks.append(section(f":warning: {escape(truncate(error, 1000))}"))
    blocks.append(section(USAGE))
    blocks.append(context(f"Causes for `cause:`: {cause_names()}. Ages: `3d`, `12h`, `2w`."))
    text = f"{error} — see /failed-payments help" if error else "How to use /failed-payments"
    return fallback(escape(text)), blocks


def not_allowed_message(
    who_may: Sequence[str], usergroup: str | None = None
) -> tuple[str, list[Block]]:
    """The ephemeral answer to someone who may not act, naming who may."""
    names = [user_ref(u) for u in who_may[:20]]
    if len(who_may) > 20:
        names.append(f"{len(who_may) - 20} others")
    if usergroup:
        names.append(f"members of <!subteam^{escape(usergroup)}>")
    if not names:
        who = "Nobody is set up to act yet: ask an admin to set FINANCE_USERS or FINANCE_USERGROUP."
    elif len(names) == 1:
        who = f"Only {names[0]} may act on failed payments."
    else:
        who = f"Only {', '.join(names[:-1])} or {names[-1]} may act on failed payments."
    blocks = [
        section(f":no_entry: You can't do that. {who}"),
        context("Nothing was changed. Ask one of them if something needs doing."),
    ]
    return fallback(f"You can't do that. {who}"), blocks
