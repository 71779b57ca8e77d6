"""The remedy buttons under a failure's card, and the confirm dialog behind each write.

Which buttons a card shows follows the record's status: every remedy the diagnosis offers
while open (the first one primary, Delete danger), only Re-check while waiting for
ConnectBooster's sync or before a diagnosis, none while a remedy runs or once resolved.
Each button that writes asks first, naming the payment, the amount, the customer and what
will change (at most 300 characters, Slack's limit). Pure: no I/O.
"""

from __future__ import annotations

from decimal import Decimal

from bot.models import Cause, FailureRecord, FailureStatus, Finding, RemedyKind
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
from bot.slack.ids import REMEDY_ACTIONS, encode_value
from cb.models import SyncStatus

_PICK_CAUSES = (Cause.RECREATED, Cause.DELETED, Cause.VOIDED)  # the user picks the invoice
_MAX_CUSTOMER_IN_CONFIRM = 60


def remedy_buttons(rec: FailureRecord) -> list[Block]:
    """The card's buttons for ``rec`` as it stands, each write behind its confirm dialog."""
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
