"""The failure card: the one interactive message per failed payment, redrawn in place as
the failure moves (open, a remedy running, waiting for the sync, resolved).

:func:`failure_message` takes a ``FailureRecord`` and returns ``(text_fallback, blocks)``
that fit Slack's limits whatever the data: long customer names, a payment over many
invoices, long QBO errors. User data is escaped for mrkdwn. No I/O here.

Its buttons and their confirm dialogs are built in ``bot.slack.blocks.confirm`` (from the
record's plans, ``bot.slack.blocks.plan``), the books section (what QuickBooks records of the
payment) in ``bot.slack.blocks.books``, the remedy names and audit lines in
``bot.slack.blocks.labels``, the recreate modal in ``bot.slack.blocks.modal``. Times are
Slack date tokens (each reader's own time zone); the notification text spells them in UTC.
The package ``bot.slack.blocks`` exports every builder; the names this module re-exports keep
``from bot.slack.blocks.card import …`` working for the callers not yet moved to the package.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from bot.models import (
    Cause,
    Certainty,
    EvidenceObject,
    FailureRecord,
    FailureStatus,
    Finding,
    RemedyKind,
    TeamView,
)
from bot.slack.blocks.books import books_text
from bot.slack.blocks.common import (
    BLOCKS_JSON_BUDGET,
    MAX_BLOCKS,
    MAX_SECTION_TEXT,
    Block,
    actions,
    context,
    divider,
    escape,
    fallback,
    fields_section,
    fmt_time,
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
from bot.slack.blocks.confirm import (
    recreate_confirm_text,
    recreate_targets,
    refused_remedies,
    remedy_buttons,
    unapply_confirm_text,
)
from bot.slack.blocks.digest import (
    alert_message,
    digest_message,
    recovered_message,
    sync_not_running_message,
)
from bot.slack.blocks.labels import DOING, REMEDY_LABELS, RESOLVED_HOW, audit_line
from bot.slack.blocks.lists import help_message, list_page, not_allowed_message, stats_message
from bot.slack.blocks.modal import recreate_modal
from bot.slack.blocks.portal import PORTAL_KINDS, portal_buttons, portal_offered
from bot.slack.blocks.team import team_buttons, team_line

__all__ = [
    "REMEDY_LABELS",
    "alert_message",
    "audit_line",
    "digest_message",
    "failure_message",
    "help_message",
    "list_page",
    "not_allowed_message",
    "recovered_message",
    "recreate_confirm_text",
    "recreate_modal",
    "recreate_targets",
    "resolution_line",
    "stats_message",
    "sync_not_running_message",
    "unapply_confirm_text",
]

_TYPE_LABELS = {"CreditMemo": "Credit memo", "Payment": "Payment", "Invoice": "Invoice"}
_MAX_EVIDENCE_PER_INVOICE = 5
_MAX_INVOICE_TEXT = 1200
_MAX_REFUSAL_TEXT = 300

Clock = Callable[[datetime], str]
"""How a line writes a time: ``slack_time`` in blocks, ``fmt_time`` in plain text."""


def failure_message(
    rec: FailureRecord,
    *,
    show_buttons: bool = True,
    notice: str | None = None,
    team: TeamView | None = None,
    portal_url: str | None = None,
) -> tuple[str, list[Block]]:
    """The interactive card for one failed payment.

    Header, the payment's facts, each invoice with its finding and evidence (linked into
    QBO), the next step, QBO's sync error, then the buttons that still apply to
    ``rec.status``: all remedies while open (the recommended one primary, Delete danger,
    every write behind a confirm dialog), only Re-check while waiting for the sync, none
    while a remedy runs or once resolved. ``notice`` (already plain words, e.g. a QBO fault
    and what to do next) is shown under the header; it is escaped here. With
    ``rec.diagnosis.books``, a section says what QuickBooks records of the payment and what
    it lacks; a remedy whose plan may not run has no button, and a line says why. ``team``
    (``bot.slack.blocks.team``): the owner and snooze under the status, and the team's
    buttons (Take it, Reassign, Snooze, …) while not resolved; ``None`` reads as unowned.
    A failure found at the gateway whose Dismiss Syncing or Delete only the portal can do
    shows the portal's link (``portal_url``) and *Done in the portal* instead
    (``blocks.portal``).
    """
    status = _status_line(rec, slack_time)
    view = team or TeamView()
    top = _card_top(rec, status=status, notice=notice)
    owner_line = team_line(view)
    if owner_line is not None:
        top.insert(1, owner_line)
    tail = _card_tail(rec, show_buttons=show_buttons, portal_url=portal_url)
    team_row = team_buttons(rec, view) if show_buttons else None
    if team_row is not None:
        tail.insert(len(tail) - 1, team_row)
    middle = _invoice_blocks(rec, used=json_size(top) + json_size(tail), count=len(top) + len(tail))
    blocks = [*top, divider(), *middle, *tail]
    return fallback(_card_fallback_text(rec, has_status=bool(status))), blocks


def _card_top(rec: FailureRecord, *, status: str | None, notice: str | None) -> list[Block]:
    """The blocks above the invoices: header, status line, notice, the payment's facts,
    the diagnosis (with the books section) or a line saying there is none yet."""
    p = rec.payment
    d = rec.diagnosis
    top: list[Block] = [header(f"Payment {p.reference} didn't reach QuickBooks")]
    if status:
        top.append(section(status))
    if notice:
        top.append(section(f":warning: {escape(notice)}"))
    top.append(
        fields_section(
            [
                f"*Customer*\n{escape(truncate(p.customer.name, 200))}",
                f"*Amount*\n{money(p.amount, p.currency)}",
                f"*Paid*\n{slack_time(p.paid_at)}",
                f"*Method*\n{escape(p.method or '—')}",
            ]
        )
    )
    if d is not None:
        label = d.cause.label + (" (likely)" if d.certainty == Certainty.LIKELY else "")
        top.append(section(f"*{escape(label)}.* {escape(d.summary)}"))
        books = books_text(d)
        if books:
            top.append(section(books))
    else:
        top.append(section("*Not diagnosed yet.* Press *Re-check* to look again."))
    return top


def _card_tail(
    rec: FailureRecord, *, show_buttons: bool, portal_url: str | None = None
) -> list[Block]:
    """The blocks under the invoices: next step, QBO's sync error, the refused remedies
    and the buttons (when ``show_buttons``), then the footer."""
    p = rec.payment
    d = rec.diagnosis
    tail: list[Block] = []
    if d is not None and d.next_step:
        tail.append(section(f"*Next step:* {escape(d.next_step)}"))
    err_code = (d.sync_error_code if d else None) or (p.sync.error.code if p.sync.error else None)
    err_text = (d.sync_error_message if d else None) or (
        p.sync.error.message if p.sync.error else None
    )
    gateway = rec.payment_id.startswith("gw-")  # found at the gateway: QuickBooks said nothing
    if err_code or err_text:
        code = f" ({escape(err_code)})" if err_code else ""
        said = "The gateway shows" if gateway else f"QuickBooks said{code}"
        tail.append(context(f"{said}: {escape(truncate(err_text or '', 600))}"))
    buttons = remedy_buttons(rec) if show_buttons else []
    refused = refused_remedies(rec) if show_buttons else []
    if show_buttons and portal_offered(rec):
        buttons[:0] = portal_buttons(rec, portal_url)
        refused = [(k, why) for k, why in refused if k not in PORTAL_KINDS]
    if refused:
        tail.append(
            context(
                *(
                    f":no_entry_sign: *{REMEDY_LABELS[k]}* is not offered: "
                    f"{escape(truncate(why, _MAX_REFUSAL_TEXT))}"
                    for k, why in refused
                )
            )
        )
    if buttons:
        tail.append(actions(buttons, block_id=f"fp_actions:{rec.payment_id}"))
    attempts = plural(p.sync.attempts, "sync attempt")
    foot = f"ConnectBooster payment `{escape(rec.payment_id)}` · {attempts}"
    if gateway:
        foot = f"Found at the gateway: `{escape(rec.payment_id)}`"
    if d is not None:
        foot += f" · diagnosed {slack_time(d.diagnosed_at)}"
    tail.append(context(foot))
    return tail


def _card_fallback_text(rec: FailureRecord, *, has_status: bool) -> str:
    """The card's notification text (times in UTC), before :func:`fallback`."""
    p = rec.payment
    text = (
        f"Payment {escape(p.reference)} from {escape(p.customer.name)} "
        f"({money(p.amount, p.currency)}) didn't reach QuickBooks"
    )
    if rec.diagnosis is not None:
        text += f": {rec.diagnosis.cause.label}"
    if has_status:
        text += f". {_status_line(rec, fmt_time)}"
    return text


def _invoice_blocks(rec: FailureRecord, *, used: int, count: int) -> list[Block]:
    """Invoice sections packed to the remaining size and block budget. When the full form
    does not fit, a compact form (one line per invoice, first evidence link) is tried; what
    still does not fit is summed up in a "… and N more invoices" line."""
    cur = rec.payment.currency
    d = rec.diagnosis
    if d is not None and d.findings:
        items = sorted(d.findings, key=lambda f: f.cause == Cause.NONE)  # problems first
        texts = [_finding_text(f, cur) for f in items]
        amounts = [f.applied for f in items]
    else:
        items = []
        texts = [
            f"*Invoice {escape(a.invoice_number)}* · {money(a.amount, cur)} applied"
            for a in rec.payment.applications
        ]
        amounts = [a.amount for a in rec.payment.applications]
    if not texts:
        return [section("_No invoices: the payment is unapplied._")]

    size_budget = BLOCKS_JSON_BUDGET - used - 400  # room for the divider and the "more" line
    block_budget = MAX_BLOCKS - count - 2
    out, shown = _pack(texts, size_budget, block_budget)
    if shown < len(texts) and items:
        compact = [_finding_line(f, cur) for f in items]
        out2, shown2 = _pack(compact, size_budget, block_budget)
        if shown2 > shown:
            out, shown = out2, shown2
    hidden = len(texts) - shown
    if hidden:
        rest = sum(amounts[shown:], Decimal(0))
        out.append(
            context(
                f"… and {plural(hidden, 'more invoice')} ({money(rest, cur)} applied) not shown"
            )
        )
    return out


def _pack(texts: list[str], size_budget: int, block_budget: int) -> tuple[list[Block], int]:
    """As many ``texts`` as fit, joined into sections of at most 3,000 characters, within
    ``size_budget`` JSON characters and ``block_budget`` blocks; returns (blocks, count)."""
    out: list[Block] = []
    current = ""
    shown = 0
    done_size = 0  # JSON size of the finished sections in ``out``
    for t in texts:
        candidate = f"{current}\n\n{t}" if current else t
        if len(candidate) <= MAX_SECTION_TEXT:
            n_blocks, size = len(out) + 1, done_size + json_size(section(candidate))
        else:
            n_blocks = len(out) + 2
            size = done_size + json_size(section(current)) + json_size(section(t))
        if n_blocks > block_budget or size + n_blocks > size_budget:
            break
        if len(candidate) <= MAX_SECTION_TEXT:
            current = candidate
        else:
            out.append(section(current))
            done_size += json_size(out[-1])
            current = t
        shown += 1
    if current:
        out.append(section(current))
    return out, shown


def _finding_text(f: Finding, currency: str) -> str:
    icon = ":white_check_mark:" if f.cause == Cause.NONE else ":x:"
    certainty = "" if f.cause == Cause.NONE else f" ({f.certainty.value})"
    lines = [
        f"*Invoice {escape(f.invoice_number)}* · {money(f.applied, currency)} applied",
        f"{icon} *{escape(f.cause.label)}*{certainty} — {escape(f.summary)}",
    ]
    for ev in f.evidence[:_MAX_EVIDENCE_PER_INVOICE]:
        lines.append(f"   • {_evidence_text(ev, currency)}")
    extra = len(f.evidence) - _MAX_EVIDENCE_PER_INVOICE
    if extra > 0:
        lines.append(f"   • … and {plural(extra, 'more record')}")
    return truncate("\n".join(lines), _MAX_INVOICE_TEXT)


def _finding_line(f: Finding, currency: str) -> str:
    """The compact form: one line, the cause and the first evidence link only."""
    icon = ":white_check_mark:" if f.cause == Cause.NONE else ":x:"
    certainty = "" if f.cause == Cause.NONE else f" ({f.certainty.value})"
    line = (
        f"*Invoice {escape(f.invoice_number)}* · {money(f.applied, currency)} applied · "
        f"{icon} {escape(f.cause.label)}{certainty}"
    )
    first = next((ev for ev in f.evidence if ev.url), None)
    if first is not None:
        label = f"{_TYPE_LABELS.get(first.type, first.type)} {first.number or first.id}"
        line += f" · {link(first.url, escape(truncate(label, 60)))}"
    return truncate(line, 400)


def _evidence_text(ev: EvidenceObject, currency: str) -> str:
    label = f"{_TYPE_LABELS.get(ev.type, ev.type)} {ev.number or ev.id}"
    parts = [link(ev.url, escape(label))]
    if ev.amount is not None:
        parts.append(money(ev.amount, currency))
    if ev.balance is not None:
        parts.append(f"balance {money(ev.balance, currency)}")
    if ev.deleted:
        parts.append("deleted")
    text = " · ".join(parts)
    if ev.note:
        text += f" — {escape(truncate(ev.note, 200))}"
    return text


def _status_line(rec: FailureRecord, when: Clock) -> str | None:
    """The line that says where the failure stands, or ``None`` while plainly open; its
    times written by ``when``."""
    if rec.status == FailureStatus.RESOLVED:
        return resolution_line(rec, when=when)
    j = rec.remedy
    if rec.status == FailureStatus.IN_PROGRESS:
        who = user_ref(j.user) if j else "Someone"
        doing = DOING.get(j.kind, "working on it") if j else "working on it"
        since = f" (started {when(j.started_at)})" if j else ""
        return f":hourglass_flowing_sand: {who} is {doing}…{since}"
    if rec.status == FailureStatus.WAITING_SYNC:
        if j is not None:
            at = j.finished_at or j.started_at
            what = (
                "Credit memo un-applied"
                if j.kind == RemedyKind.UNAPPLY_CREDIT_MEMO
                else "Fixed in QuickBooks"
            )
            return (
                f":arrows_counterclockwise: {what} by {user_ref(j.user)} at {when(at)}; "
                "waiting for ConnectBooster's next sync"
            )
        return ":arrows_counterclockwise: Waiting for ConnectBooster's next sync"
    if j is not None and j.outcome == "failed":
        err = f": {escape(truncate(j.error, 500))}" if j.error else ""
        label = REMEDY_LABELS.get(j.kind, j.kind.value)
        failed_at = when(j.finished_at or j.started_at)
        return f":warning: *{label}* by {user_ref(j.user)} failed at {failed_at}{err}"
    return None


def resolution_line(rec: FailureRecord, *, when: Clock = slack_time) -> str:
    """ "✅ Syncing dismissed by <@U123> at <Slack's date token>" (and the detail); ``when``
    writes the time (``fmt_time`` for plain text: "at 10:42 UTC, 3 Nov 2026")."""
    r = rec.resolution
    if r is None:
        return ":white_check_mark: Resolved"
    what = RESOLVED_HOW.get(r.how, r.how.replace("-", " ").replace("_", " ").capitalize())
    if r.by:
        who = f" by {user_ref(r.by)}"
    elif r.how == "synced":
        who = " by ConnectBooster's sync"
    else:
        who = " outside Slack"
    line = f":white_check_mark: {what}{who} at {when(r.at)}"
    if r.detail:
        line += f"\n{escape(truncate(r.detail, 500))}"
    return line
