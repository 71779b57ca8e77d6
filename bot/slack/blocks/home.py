"""The App Home tab (pure): for a finance user, the open failures by cause and age, the
ones they own, the unowned ones waiting longest (each with the card's remedy buttons and
*Take it*), the snoozed ones, and the failure rate over the last 30 days; for anyone else, a
short explanation and who may act.

Whatever the numbers (10,000 open failures and more) the view stays within Slack's limits
for a Home tab — at most 100 blocks (this uses about 45 at most), section texts under 3,000
characters: rows are capped (``MAX_ROWS`` a list) and the rest summed up as "N more — use
``/failed-payments list``"; causes are one line each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from bot.formats import fmt_rate
from bot.models import Cause, TeamRow
from bot.slack.blocks.common import (
    Block,
    actions,
    button,
    context,
    divider,
    escape,
    fmt_age,
    header,
    link,
    money,
    plural,
    section,
    slack_time,
    truncate,
)
from bot.slack.blocks.confirm import remedy_buttons
from bot.slack.blocks.team import snooze_words
from bot.slack.ids import ActionId, encode_value

MAX_ROWS = 8
MAX_SNOOZED = 10
AGE_BUCKETS = ((1, "<1d"), (3, "1-3d"), (7, "3-7d"), (None, ">7d"))
"""Age buckets in days: under 1, 1 to 3, 3 to 7, over 7."""


@dataclass
class HomeData:
    """What the Home tab shows (gathered by ``bot.team.home``)."""

    now: datetime
    open_total: int = 0
    open_amount: Decimal = Decimal(0)
    by_cause: dict[Cause, list[int]] = field(default_factory=dict)  # counts per AGE_BUCKETS
    mine: list[TeamRow] = field(default_factory=list)
    mine_total: int = 0
    waiting: list[TeamRow] = field(default_factory=list)  # unowned, not snoozed, oldest first
    unowned_total: int = 0
    snoozed: list[TeamRow] = field(default_factory=list)
    snoozed_total: int = 0
    rate: Decimal | None = None  # over the last 30 days (None: ConnectBooster did not say)
    failed_30d: int = 0
    payments_30d: int = 0


def _row_text(row: TeamRow, now: datetime) -> str:
    rec = row.record
    p = rec.payment
    ref = f"*{escape(p.reference)}*"
    if rec.slack is not None and rec.slack.permalink:
        ref = link(rec.slack.permalink, ref)
    return truncate(
        f"{ref} · {escape(truncate(p.customer.name, 60))} · *{money(p.amount, p.currency)}*\n"
        f"{escape(rec.cause.label)} · {fmt_age(now - rec.first_seen_at)} old",
        2900,
    )


def _row(row: TeamRow, now: datetime, where: str, *, take: bool) -> list[Block]:
    """A failure's line and its buttons: the card's remedies (and *Take it* when unowned)."""
    buttons = remedy_buttons(row.record)
    if take:
        buttons.insert(
            0, button("Take it", ActionId.TAKE.value, encode_value(row.record.payment_id))
        )
    out: list[Block] = [section(_row_text(row, now))]
    if buttons:
        out.append(actions(buttons[:5], block_id=f"fp_home_{where}:{row.record.payment_id}"))
    return out


def _more(total: int, shown: int) -> list[Block]:
    if total <= shown:
        return []
    return [context(f"{total - shown:,} more — use `/failed-payments list`")]


def _causes(data: HomeData) -> Block:
    heads = " · ".join(label for _, label in AGE_BUCKETS)
    lines = [f"*Open by cause* (age: {heads})"]
    for cause, counts in sorted(data.by_cause.items(), key=lambda kv: -sum(kv[1])):
        cells = " · ".join(f"{n:,}" for n in counts)
        lines.append(f"• {escape(cause.label)}: *{sum(counts):,}* ({cells})")
    return section("\n".join(lines[:12]))


def home_view(data: HomeData) -> dict[str, object]:
    """The finance user's Home tab."""
    rate = (
        f"{fmt_rate(data.rate)} ({data.failed_30d:,} of {plural(data.payments_30d, 'payment')})"
        if data.rate is not None
        else "unavailable (ConnectBooster did not answer)"
    )
    blocks: list[Block] = [
        header("Failed payments"),
        section(
            f"*{plural(data.open_total, 'open failure')}* · {money(data.open_amount)} · "
            f"{data.unowned_total:,} unowned · {data.snoozed_total:,} snoozed\n"
            f"Failure rate, last 30 days: *{rate}*"
        ),
    ]
    if data.by_cause:
        blocks.append(_causes(data))
    blocks += [divider(), section(f"*Yours* ({data.mine_total:,})")]
    if not data.mine:
        blocks.append(context("You own none. Press *Take it* on one below or on its card."))
    for row in data.mine[:MAX_ROWS]:
        blocks += _row(row, data.now, "mine", take=False)
    blocks += _more(data.mine_total, min(len(data.mine), MAX_ROWS))
    blocks += [divider(), section(f"*Unowned, waiting longest* ({data.unowned_total:,})")]
    for row in data.waiting[:MAX_ROWS]:
        blocks += _row(row, data.now, "wait", take=True)
    blocks += _more(data.unowned_total, min(len(data.waiting), MAX_ROWS))
    if data.snoozed_total:
        lines = [
            f"{_row_text(r, data.now).splitlines()[0]} · :zzz: {snooze_words(r.snooze)}"
            for r in data.snoozed[:MAX_SNOOZED]
            if r.snooze is not None
        ]
        blocks += [
            divider(),
            section(truncate(f"*Snoozed* ({data.snoozed_total:,})\n" + "\n".join(lines), 2900)),
        ]
        blocks += _more(data.snoozed_total, min(len(data.snoozed), MAX_SNOOZED))
    blocks.append(
        context(f"As of {slack_time(data.now)}. Refreshed when you open it and after each change.")
    )
    return {"type": "home", "blocks": blocks}


def outsider_home(who_may: str) -> dict[str, object]:
    """The Home tab of someone outside finance: what this is and who may act."""
    return {
        "type": "home",
        "blocks": [
            header("Failed payments"),
            section(
                "This app finds ConnectBooster payments QuickBooks Online rejected, explains "
                "why, and lets the finance team fix each in one click."
            ),
            section(f"Only {who_may} may see and act on failed payments."),
        ],
    }
