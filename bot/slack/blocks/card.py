"""Pure Block Kit builders: the failure card, its audit lines and the recreate modal.

Each builder takes domain objects and returns ``(text_fallback, blocks)`` (or a view dict)
that fit Slack's limits whatever the data: long customer names, a payment over many
invoices, long QBO errors. User data is escaped for mrkdwn. No I/O here.

The digest/alert builders live in ``bot.slack.blocks.digest`` and the ``/failed-payments``
replies in ``bot.slack.blocks.lists``; they are re-exported from this module.
"""

from __future__ import annotations

from collections.abc import Sequence
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
)
from bot.slack.blocks.common import (
    BLOCKS_JSON_BUDGET,
    MAX_BLOCKS,
    MAX_OPTION_TEXT,
    MAX_OPTION_VALUE,
    MAX_OPTIONS,
    MAX_SECTION_TEXT,
    Block,
    actions,
    button,
    confirm,
    context,
    divider,
    escape,
    fallback,
    fields_section,
    fmt_date,
    fmt_time,
    header,
    json_size,
    link,
    money,
    plain,
    plural,
    section,
    truncate,
    user_ref,
)
from bot.slack.blocks.digest import (
    alert_message,
    digest_message,
    recovered_message,
    sync_not_running_message,
)
from bot.slack.blocks.lists import help_message, list_page, not_allowed_message, stats_message
from bot.slack.ids import (
    KEEP_AS_CREDIT,
    RECREATE_TARGET_ACTION,
    RECREATE_TARGET_BLOCK,
    REMEDY_ACTIONS,
    ViewId,
    encode_value,
)
from cb.models import SyncStatus
from qb.models import Invoice

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
    "recreate_modal",
    "resolution_line",
    "stats_message",
    "sync_not_running_message",
]

REMEDY_LABELS: dict[RemedyKind, str] = {
    RemedyKind.DISMISS_SYNC: "Dismiss Syncing",
    RemedyKind.DELETE_HISTORY: "Delete",
    RemedyKind.UNAPPLY_CREDIT_MEMO: "Unapply Credit Memo",
    RemedyKind.RECREATE_PAYMENT: "Recreate payment in QuickBooks",
    RemedyKind.RECHECK: "Re-check",
}
"""Button text of each remedy, in ConnectBooster's words."""

_DOING: dict[RemedyKind, str] = {
    RemedyKind.DISMISS_SYNC: "dismissing syncing",
    RemedyKind.DELETE_HISTORY: "deleting it from ConnectBooster's history",
    RemedyKind.UNAPPLY_CREDIT_MEMO: "un-applying the credit memo",
    RemedyKind.RECREATE_PAYMENT: "recreating the payment in QuickBooks",
    RemedyKind.RECHECK: "re-checking",
}

_RESOLVED_HOW: dict[str, str] = {
    "dismissed": "Syncing dismissed",
    "deleted": "Deleted from ConnectBooster's history",
    "synced": "Synced to QuickBooks",
    "recreated": "Payment recreated in QuickBooks and syncing dismissed",
    "already-in-qbo": "Already in QuickBooks; syncing dismissed",
    "unapplied": "Credit memo un-applied and the payment synced",
}

_TYPE_LABELS = {"CreditMemo": "Credit memo", "Payment": "Payment", "Invoice": "Invoice"}
_PICK_CAUSES = (Cause.RECREATED, Cause.DELETED, Cause.VOIDED)
_MAX_EVIDENCE_PER_INVOICE = 5
_MAX_INVOICE_TEXT = 1200
_MAX_CUSTOMER_IN_CONFIRM = 60


# ---- the failure card ------------------------------------------------------------------


def failure_message(
    rec: FailureRecord, *, show_buttons: bool = True, notice: str | None = None
) -> tuple[str, list[Block]]:
    """The interactive card for one failed payment.

    Header, the payment's facts, each invoice with its finding and evidence (linked into
    QBO), the next step, QBO's sync error, then the buttons that still apply to
    ``rec.status``: all remedies while open (the recommended one primary, Delete danger,
    every write behind a confirm dialog), only Re-check while waiting for the sync, none
    while a remedy runs or once resolved. ``notice`` (already plain words, e.g. a QBO fault
    and what to do next) is shown under the header; it is escaped here.
    """
    p = rec.payment
    d = rec.diagnosis
    ref = escape(p.reference)
    cur = p.currency

    top: list[Block] = [header(f"Payment {p.reference} didn't reach QuickBooks")]
    status = _status_line(rec)
    if status:
        top.append(section(status))
    if notice:
        top.append(section(f":warning: {escape(notice)}"))
    top.append(
        fields_section(
            [
                f"*Customer*\n{escape(truncate(p.customer.name, 200))}",
                f"*Amount*\n{money(p.amount, cur)}",
                f"*Paid*\n{fmt_time(p.paid_at)}",
                f"*Method*\n{escape(p.method or '—')}",
            ]
        )
    )
    if d is not None:
        label = d.cause.label + (" (likely)" if d.certainty == Certainty.LIKELY else "")
        top.append(section(f"*{escape(label)}.* {escape(d.summary)}"))
    else:
        top.append(section("*Not diagnosed yet.* Press *Re-check* to look again."))

    tail: list[Block] = []
    if d is not None and d.next_step:
        tail.append(section(f"*Next step:* {escape(d.next_step)}"))
    err_code = (d.sync_error_code if d else None) or (p.sync.error.code if p.sync.error else None)
    err_text = (d.sync_error_message if d else None) or (
        p.sync.error.message if p.sync.error else None
    )
    if err_code or err_text:
        code = f" ({escape(err_code)})" if err_code else ""
        tail.append(context(f"QuickBooks said{code}: {escape(truncate(err_text or '', 600))}"))
    buttons = _buttons(rec) if show_buttons else []
    if buttons:
        tail.append(actions(buttons, block_id=f"fp_actions:{rec.payment_id}"))
    attempts = plural(p.sync.attempts, "sync attempt")
    foot = f"ConnectBooster payment `{escape(rec.payment_id)}` · {attempts}"
    if d is not None:
        foot += f" · diagnosed at {fmt_time(d.diagnosed_at)}"
    tail.append(context(foot))

    middle = _invoice_blocks(rec, used=json_size(top) + json_size(tail), count=len(top) + len(tail))
    blocks = [*top, divider(), *middle, *tail]

    text = (
        f"Payment {ref} from {escape(p.customer.name)} ({money(p.amount, cur)}) "
        "didn't reach QuickBooks"
    )
    if d is not None:
        text += f": {d.cause.label}"
    if status:
        text += f". {status}"
    return fallback(text), blocks


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


def _status_line(rec: FailureRecord) -> str | None:
    """The line that says where the failure stands, or ``None`` while plainly open."""
    if rec.status == FailureStatus.RESOLVED:
        return resolution_line(rec)
    j = rec.remedy
    if rec.status == FailureStatus.IN_PROGRESS:
        who = user_ref(j.user) if j else "Someone"
        doing = _DOING.get(j.kind, "working on it") if j else "working on it"
        since = f" (started {fmt_time(j.started_at)})" if j else ""
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
                f":arrows_counterclockwise: {what} by {user_ref(j.user)} at {fmt_time(at)}; "
                "waiting for ConnectBooster's next sync"
            )
        return ":arrows_counterclockwise: Waiting for ConnectBooster's next sync"
    if j is not None and j.outcome == "failed":
        err = f": {escape(truncate(j.error, 500))}" if j.error else ""
        label = REMEDY_LABELS.get(j.kind, j.kind.value)
        when = fmt_time(j.finished_at or j.started_at)
        return f":warning: *{label}* by {user_ref(j.user)} failed at {when}{err}"
    return None


def resolution_line(rec: FailureRecord) -> str:
    """ "✅ Syncing dismissed by <@U123> at 10:42 UTC, 3 Nov 2026" (and the detail)."""
    r = rec.resolution
    if r is None:
        return ":white_check_mark: Resolved"
    what = _RESOLVED_HOW.get(r.how, r.how.replace("-", " ").replace("_", " ").capitalize())
    if r.by:
        who = f" by {user_ref(r.by)}"
    elif r.how == "synced":
        who = " by ConnectBooster's sync"
    else:
        who = " outside Slack"
    line = f":white_check_mark: {what}{who} at {fmt_time(r.at)}"
    if r.detail:
        line += f"\n{escape(truncate(r.detail, 500))}"
    return line


# ---- buttons and their confirm dialogs -----------------------------------------------


def _buttons(rec: FailureRecord) -> list[Block]:
    if rec.status in (FailureStatus.RESOLVED, FailureStatus.IN_PROGRESS):
        return []
    value = encode_value(rec.payment_id, attempt=rec.remedy_attempts)
    if rec.status == FailureStatus.WAITING_SYNC or rec.diagnosis is None:
        kinds = [RemedyKind.RECHECK]
    else:
        kinds = list(dict.fromkeys(rec.diagnosis.remedies))
        if RemedyKind.RECHECK not in kinds:
            kinds.append(RemedyKind.RECHECK)
    out: list[Block] = []
    for i, kind in enumerate(kinds):
        style: str | None = None
        if kind == RemedyKind.DELETE_HISTORY:
            style = "danger"
        elif i == 0 and kind != RemedyKind.RECHECK:
            style = "primary"
        out.append(
            button(
                REMEDY_LABELS[kind],
                REMEDY_ACTIONS[kind],
                value,
                style=style,
                confirm_dialog=_confirm_for(kind, rec),
            )
        )
    return out


def _confirm_for(kind: RemedyKind, rec: FailureRecord) -> Block | None:
    p = rec.payment
    what = f"{escape(p.reference)} ({money(p.amount, p.currency)} from {_short_customer(rec)})"
    if kind == RemedyKind.DISMISS_SYNC:
        return confirm(
            "Dismiss syncing?",
            f"ConnectBooster stops sending payment {what} to QuickBooks. "
            "Nothing changes in QuickBooks.",
            "Dismiss Syncing",
        )
    if kind == RemedyKind.DELETE_HISTORY:
        if p.sync.status == SyncStatus.DISMISSED:
            text = f"Delete payment {what} from ConnectBooster's payment history?"
        else:
            text = (
                f"This first dismisses syncing of payment {what}, then deletes it from "
                "ConnectBooster's payment history."
            )
        return confirm(
            "Delete from ConnectBooster?",
            text + " Nothing changes in QuickBooks.",
            "Delete",
            danger=True,
        )
    if kind == RemedyKind.UNAPPLY_CREDIT_MEMO:
        return confirm("Unapply the credit memo?", unapply_confirm_text(rec), "Unapply")
    if kind == RemedyKind.RECREATE_PAYMENT:
        return confirm("Recreate the payment?", recreate_confirm_text(rec), "Recreate payment")
    return None


def _short_customer(rec: FailureRecord) -> str:
    return escape(truncate(rec.payment.customer.name, _MAX_CUSTOMER_IN_CONFIRM))


def _evidence_number(f: Finding, type_: str, id_: str | None) -> str:
    if not id_:
        return "?"
    for ev in f.evidence:
        if ev.type == type_ and ev.id == id_ and ev.number:
            return ev.number
    return id_


def _zero(currency: str) -> str:
    return "$0" if currency.upper() == "USD" else f"0 {currency.upper()}"


def unapply_confirm_text(rec: FailureRecord) -> str:
    """ "Delete the $0 payment 812 that applies credit memo 1009 ($200.00) to invoice 1043?"
    for each credit-memo finding, then that ConnectBooster resyncs the payment."""
    cur = rec.payment.currency
    findings = [
        f
        for f in (rec.diagnosis.findings if rec.diagnosis else [])
        if f.cause == Cause.CREDIT_MEMO and f.credit_memo_payment_id
    ]
    if not findings:
        return (
            f"Remove the credit memo application that blocks payment "
            f"{escape(rec.payment.reference)}, then ask ConnectBooster to resync it."
        )
    parts = []
    for f in findings:
        cm = _evidence_number(f, "CreditMemo", f.credit_memo_id)
        amt = f" ({money(f.credit_memo_amount, cur)})" if f.credit_memo_amount is not None else ""
        parts.append(
            f"Delete the {_zero(cur)} payment {escape(f.credit_memo_payment_id)} "
            f"that applies credit memo {escape(cm)}{amt} to invoice {escape(f.invoice_number)}?"
        )
    text = " ".join(parts)
    if len(text) > 240:
        total = sum((f.credit_memo_amount or Decimal(0) for f in findings), Decimal(0))
        text = (
            f"Delete the {len(findings)} {_zero(cur)} payments that apply credit "
            f"memos ({money(total, cur)} in all) to invoices of {escape(rec.payment.reference)}?"
        )
    return truncate(f"{text} ConnectBooster then resyncs {escape(rec.payment.reference)}.", 300)


def recreate_targets(rec: FailureRecord) -> tuple[list[tuple[str, Decimal]], int]:
    """Where a recreated payment would apply: ``([(invoice number, amount)], to_pick)``,
    ``to_pick`` counting invoices whose replacement is missing or ambiguous."""
    d = rec.diagnosis
    targets: list[tuple[str, Decimal]] = []
    to_pick = 0
    if d is None or not d.findings:
        return [(a.invoice_number, a.amount) for a in rec.payment.applications], 0
    for f in d.findings:
        if f.replacement_invoice_id:
            targets.append((_evidence_number(f, "Invoice", f.replacement_invoice_id), f.applied))
        elif f.cause in _PICK_CAUSES:
            to_pick += 1
        else:
            targets.append((f.invoice_number, f.applied))
    return targets, to_pick


def recreate_confirm_text(rec: FailureRecord) -> str:
    """Customer, amount, reference, the target invoices (or "as credit"), and that syncing
    is dismissed afterwards, in at most 300 characters."""
    p = rec.payment
    cur = p.currency
    targets, to_pick = recreate_targets(rec)
    head = (
        f"Create a payment in QuickBooks from {_short_customer(rec)} for "
        f"{money(p.amount, cur)}, reference {escape(p.reference)}, paid {fmt_date(p.paid_at)}, "
    )
    if targets:
        listed = ", ".join(f"invoice {escape(n)} ({money(a, cur)})" for n, a in targets)
        where = f"applied to {listed}"
        if len(head) + len(where) > 200:
            where = f"applied to {plural(len(targets), 'invoice')}"
    else:
        where = "" if to_pick else "kept as credit on the customer"
    if to_pick:
        n = plural(to_pick, "deleted invoice")
        pick = f"you pick the invoice for {n} (or keep it as credit) next"
        where = f"{where}; {pick}" if where else pick
    tail = "; then dismiss syncing in ConnectBooster."
    return truncate(head + where + tail, 300)


# ---- thread audit lines -------------------------------------------------------------------


_RESULT_ICONS = {"ok": ":white_check_mark:", "failed": ":warning:", "refused": ":no_entry:"}


def audit_line(
    user: str | None,
    action: RemedyKind | str,
    result: str,
    at: datetime,
    detail: str | None = None,
) -> str:
    """One thread reply: "✅ <@U123> ran *Dismiss Syncing*: ok at 10:42 UTC, 3 Nov 2026 — …"."""
    try:
        label = REMEDY_LABELS[RemedyKind(action)]
    except ValueError:
        label = escape(str(action))
    icon = _RESULT_ICONS.get(result, ":information_source:")
    line = f"{icon} {user_ref(user)} ran *{label}*: {escape(result)} at {fmt_time(at)}"
    if detail:
        line += f" — {escape(detail)}"
    return truncate(line, MAX_SECTION_TEXT)


# ---- the recreate modal -----------------------------------------------------------------


def recreate_modal(rec: FailureRecord, candidates: Sequence[Invoice], *, context_id: str) -> dict:
    """The modal that asks which open invoice the recreated payment pays (or to keep it as
    credit). ``callback_id`` is ``ViewId.RECREATE_PICK``, ``private_metadata`` is
    ``context_id`` (the key of the context kept in Redis). At most 100 options: suggested
    replacements first, then the newest invoices."""
    p = rec.payment
    cur = p.currency
    suggested = {
        c
        for f in (rec.diagnosis.findings if rec.diagnosis else [])
        for c in [*f.replacement_candidates, f.replacement_invoice_id]
        if c
    }
    open_invoices = [c for c in candidates if c.id and not c.is_deleted]
    open_invoices.sort(key=lambda c: str(c.txn_date or ""), reverse=True)
    open_invoices.sort(key=lambda c: c.id not in suggested)
    room = MAX_OPTIONS - 1
    shown = open_invoices[:room]

    options = [
        {
            "text": plain(_invoice_option_text(inv, cur), MAX_OPTION_TEXT),
            "value": str(inv.id)[:MAX_OPTION_VALUE],
        }
        for inv in shown
    ]
    options.append(
        {"text": plain("Keep as credit on the customer", MAX_OPTION_TEXT), "value": KEEP_AS_CREDIT}
    )
    select: Block = {
        "type": "static_select",
        "action_id": RECREATE_TARGET_ACTION,
        "placeholder": plain("Choose an invoice", 150),
        "options": options,
    }
    in_list = [o for o in options if o["value"] in suggested]
    if len(in_list) == 1:
        select["initial_option"] = in_list[0]

    blocks: list[Block] = [
        section(
            f"Recreate *{escape(p.reference)}* in QuickBooks: {money(p.amount, cur)} from "
            f"{escape(truncate(p.customer.name, 200))}, paid {fmt_date(p.paid_at)}.\n"
            "Which of the customer's open invoices does it pay?"
        ),
        {
            "type": "input",
            "block_id": RECREATE_TARGET_BLOCK,
            "label": plain("Apply the payment to", 2000),
            "element": select,
        },
    ]
    if len(open_invoices) > room:
        blocks.append(
            context(
                f"Showing {room} of {len(open_invoices):,} open invoices (suggested and "
                "newest first). Pick credit and apply it in QuickBooks if yours is not listed."
            )
        )
    elif not open_invoices:
        blocks.append(context("The customer has no open invoices in QuickBooks."))
    blocks.append(
        context(
            "The payment is created with reference "
            f"{escape(p.reference)} and a note naming you; syncing in ConnectBooster is "
            "dismissed afterwards."
        )
    )
    return {
        "type": "modal",
        "callback_id": ViewId.RECREATE_PICK.value,
        "private_metadata": context_id,
        "title": plain("Recreate payment", 24),
        "submit": plain("Recreate", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def _invoice_option_text(inv: Invoice, currency: str) -> str:
    date = f" · {inv.txn_date.isoformat()}" if inv.txn_date else ""
    return f"Invoice {inv.doc_number or inv.id} · {money(inv.balance, currency)} open{date}"
