"""The remedy buttons under a failure's card, and the confirm dialog behind each write.

Which buttons a card shows follows the record's status: every remedy the diagnosis offers
while open (the first one offered primary, Delete danger), only Re-check while waiting for
ConnectBooster's sync or before a diagnosis, none while a remedy runs or once resolved.

A remedy with a plan on the record (``FailureRecord.plans``) is drawn from it
(``bot.slack.blocks.plan``): its confirm dialog reads the plan's lines, line for line, and
its value carries the plan's digest; a plan too long for a dialog makes the button open the
confirmation modal instead (the value says so); a refused plan draws no button, and
:func:`refused_remedies` says why. A plan awaiting a pick (``RemedyPlan.pick``: a Recreate
with money that has nowhere to go yet) draws a button without a dialog or digest: it opens
the picker, which shows each choice's plan line for line (``bot.slack.blocks.modal``).
Remedies without a plan (records from before plans, Re-check) keep the dialogs below, which
name the payment, the amount, the customer and what will change (at most 300 characters,
Slack's limit). Pure: no I/O.
"""

from __future__ import annotations

from decimal import Decimal

from bot.models import Cause, FailureRecord, FailureStatus, Finding, RemedyKind, RemedyPlan
from bot.slack.blocks.common import (
    Block,
    button,
    confirm,
    escape,
    fmt_date,
    money,
    plural,
    truncate,
)
from bot.slack.blocks.labels import REMEDY_LABELS
from bot.slack.blocks.plan import CONFIRM_OK, CONFIRM_TITLES, fits_dialog, plan_dialog
from bot.slack.ids import REMEDY_ACTIONS, encode_value
from cb.models import SyncStatus

_PICK_CAUSES = (Cause.RECREATED, Cause.DELETED, Cause.VOIDED)  # the user picks the invoice
_MAX_CUSTOMER_IN_CONFIRM = 60


def card_remedies(rec: FailureRecord) -> list[RemedyKind]:
    """The remedies the card considers for ``rec`` as it stands, in the diagnosis' order,
    Re-check last (before a refused plan takes its button away)."""
    if rec.status in (FailureStatus.RESOLVED, FailureStatus.IN_PROGRESS):
        return []
    if rec.status == FailureStatus.WAITING_SYNC or rec.diagnosis is None:
        return [RemedyKind.RECHECK]
    kinds = list(dict.fromkeys(rec.diagnosis.remedies))
    if RemedyKind.RECHECK not in kinds:
        kinds.append(RemedyKind.RECHECK)
    return kinds


def offered_plan(rec: FailureRecord, kind: RemedyKind) -> RemedyPlan | None:
    """The plan the button of ``kind`` is drawn from (``None``: the record has none, or
    Re-check, which writes nothing)."""
    return None if kind == RemedyKind.RECHECK else rec.plans.get(kind)


def refused_remedies(rec: FailureRecord) -> list[tuple[RemedyKind, str]]:
    """The remedies the diagnosis lists whose plan may not run on these facts, and why:
    the card draws no button for them."""
    out: list[tuple[RemedyKind, str]] = []
    for kind in card_remedies(rec):
        plan = offered_plan(rec, kind)
        if plan is not None and plan.refusal is not None:
            out.append((kind, plan.refusal))
    return out


def remedy_buttons(rec: FailureRecord) -> list[Block]:
    """The card's buttons for ``rec`` as it stands, each write behind its confirm."""
    out: list[Block] = []
    for kind in card_remedies(rec):
        plan = offered_plan(rec, kind)
        if plan is not None and plan.refusal is not None:
            continue
        style: str | None = None
        if kind == RemedyKind.DELETE_HISTORY:
            style = "danger"
        elif not out and kind != RemedyKind.RECHECK:
            style = "primary"
        if plan is None:
            value = encode_value(rec.payment_id, attempt=rec.remedy_attempts)
            out.append(
                button(
                    REMEDY_LABELS[kind],
                    REMEDY_ACTIONS[kind],
                    value,
                    style=style,
                    confirm_dialog=_confirm_for(kind, rec),
                )
            )
        elif plan.pick is not None:  # the picker shows each choice's plan before anything
            value = encode_value(rec.payment_id, attempt=rec.remedy_attempts)
            out.append(button(REMEDY_LABELS[kind], REMEDY_ACTIONS[kind], value, style=style))
        elif fits_dialog(plan):
            value = encode_value(rec.payment_id, attempt=rec.remedy_attempts, d=plan.digest())
            out.append(
                button(
                    REMEDY_LABELS[kind],
                    REMEDY_ACTIONS[kind],
                    value,
                    style=style,
                    confirm_dialog=plan_dialog(plan),
                )
            )
        else:  # the click opens the confirmation modal, every line of the plan in it
            value = encode_value(rec.payment_id, attempt=rec.remedy_attempts, d=plan.digest(), m=1)
            out.append(button(REMEDY_LABELS[kind], REMEDY_ACTIONS[kind], value, style=style))
    return out


def needs_pick(rec: FailureRecord) -> bool:
    """True when recreating the payment needs a person to pick an invoice: the books have an
    unrecorded part with nowhere to go, or (records without books) an invoice was deleted,
    voided or recreated without a single replacement."""
    d = rec.diagnosis
    if d is None:
        return False
    if d.books is not None:
        return any(n.need > 0 and n.target_invoice_id is None for n in d.books.needs)
    return recreate_targets(rec)[1] > 0


def _confirm_for(kind: RemedyKind, rec: FailureRecord) -> Block | None:
    """The dialog of a remedy without a plan (records from before plans)."""
    p = rec.payment
    what = f"{escape(p.reference)} ({money(p.amount, p.currency)} from {_short_customer(rec)})"
    title, ok = CONFIRM_TITLES[kind], CONFIRM_OK[kind]
    if kind == RemedyKind.DISMISS_SYNC:
        return confirm(
            title,
            f"ConnectBooster stops sending payment {what} to QuickBooks. "
            "Nothing changes in QuickBooks.",
            ok,
        )
    if kind == RemedyKind.DELETE_HISTORY:
        if p.sync.status == SyncStatus.DISMISSED:
            text = f"Delete payment {what} from ConnectBooster's payment history?"
        else:
            text = (
                f"This first dismisses syncing of payment {what}, then deletes it from "
                "ConnectBooster's payment history."
            )
        return confirm(title, text + " Nothing changes in QuickBooks.", ok, danger=True)
    if kind == RemedyKind.UNAPPLY_CREDIT_MEMO:
        return confirm(title, unapply_confirm_text(rec), ok)
    if kind == RemedyKind.RECREATE_PAYMENT:
        books = rec.diagnosis.books if rec.diagnosis else None
        if books is not None and needs_pick(rec):
            open_part = sum(
                (n.need for n in books.needs if n.need > 0 and n.target_invoice_id is None),
                Decimal(0),
            )
            return confirm(
                title,
                (
                    f"Next, you pick the invoice for the {money(open_part, books.currency)} "
                    f"of payment {escape(p.reference)} that QuickBooks does not record yet "
                    "(or keep it as credit on the customer). Nothing is written before you pick."
                ),
                ok,
            )
        return confirm(title, recreate_confirm_text(rec), ok)
    if kind == RemedyKind.REACTIVATE_CUSTOMER:
        return confirm(
            title,
            f"Make customer {_short_customer(rec)} active again in "
            f"QuickBooks, then re-check payment {escape(p.reference)}.",
            ok,
        )
    return None


def _short_customer(rec: FailureRecord) -> str:
    return escape(truncate(rec.payment.customer.name, _MAX_CUSTOMER_IN_CONFIRM))


def evidence_number(f: Finding, type_: str, id_: str | None) -> str:
    """The document number of the QuickBooks object ``type_``/``id_`` among ``f``'s evidence
    (its id when no number is known; ``"?"`` without an id)."""
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
        cm = evidence_number(f, "CreditMemo", f.credit_memo_id)
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
            targets.append((evidence_number(f, "Invoice", f.replacement_invoice_id), f.applied))
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
