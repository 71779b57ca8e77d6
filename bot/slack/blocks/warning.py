"""The "about to fail" warning: a ConnectBooster payment not yet transferred whose invoice
changed in QuickBooks so that its next sync would be rejected. Pure: from the payment, the
diagnosis the bot would make if it failed now, and when it was seen, to ``(text, blocks)``
within Slack's limits (user data escaped). :func:`prevention` is the remedy that prevents the
failure, in words, with which choice keeps the books right.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.formats import money
from bot.models import Cause, Diagnosis, EvidenceObject, Finding
from bot.slack.blocks.common import (
    MAX_SECTION_TEXT,
    Block,
    context,
    divider,
    escape,
    fallback,
    header,
    link,
    section,
    slack_time,
    truncate,
)
from cb.models import Payment

MAX_FINDINGS = 10
MAX_EVIDENCE = 4


def prevention(payment: Payment, diagnosis: Diagnosis) -> str:
    """What to do before the sync runs, and which choice keeps the books right."""
    a = money(payment.amount, payment.currency)
    cause = diagnosis.cause
    if cause in (Cause.PAID_MANUALLY, Cause.ALREADY_IN_QBO):
        books = diagnosis.books
        recorded = books.recorded_total if books is not None else None
        exact = recorded is not None and recorded == payment.amount
        hand = "the hand entry"
        if books is not None and books.recorded:
            hand = (
                "the hand entry (QuickBooks payment "
                + ", ".join(r.qbo_payment_id for r in books.recorded)
                + ")"
            )
        tail = (
            f"Letting it fail and then *Dismiss Syncing* also keeps the books right, because "
            f"{hand} records exactly {a}, but QuickBooks then shows the hand entry instead of "
            "ConnectBooster's receipt."
            if exact
            else f"Letting it fail and dismissing it would *not* keep the books right: {hand} "
            f"records {money(recorded or Decimal(0), payment.currency)}, not {a}."
        )
        return (
            f"*Prevent it:* delete {hand} in QuickBooks before the sync runs; ConnectBooster's "
            f"receipt then records the {a} once and the books stay right. {tail}"
        )
    if cause is Cause.CREDIT_MEMO:
        return (
            "*Prevent it:* unapply the credit memo from the invoice before the sync runs (the "
            f"credit stays on the customer's account); the sync then records the {a}. "
            "Otherwise it fails, and *Unapply Credit Memo* on the failure card fixes it."
        )
    if cause in (Cause.VOIDED, Cause.DELETED, Cause.RECREATED):
        return (
            "*Prevent it:* restore the invoice (undo the void or deletion) before the sync runs. "
            "Otherwise it fails, and *Recreate payment* on the failure card records the "
            f"{a} on the replacement invoice."
        )
    if cause is Cause.AMOUNT_CHANGED:
        return (
            "*Prevent it:* put the invoice's amount back so its balance covers what the payment "
            "applies, before the sync runs. Otherwise it fails, and the failure card offers "
            "*Recreate payment* for the amount QuickBooks can take."
        )
    if cause is Cause.INACTIVE_CUSTOMER:
        return "*Prevent it:* make the customer active again in QuickBooks before the sync runs."
    return f"*Prevent it:* {escape(diagnosis.next_step)}"


def _evidence(ev: EvidenceObject, currency: str) -> str:
    parts = [link(ev.url, escape(f"{ev.type} {ev.number or ev.id}"))]
    if ev.amount is not None:
        parts.append(money(ev.amount, currency))
    if ev.balance is not None:
        parts.append(f"balance {money(ev.balance, currency)}")
    if ev.deleted:
        parts.append("deleted")
    text = " · ".join(parts)
    return text + (f" — {escape(truncate(ev.note, 200))}" if ev.note else "")


def _finding(f: Finding, currency: str) -> str:
    lines = [
        f"*Invoice {escape(f.invoice_number)}* · {money(f.applied, currency)} applied",
        f":x: *{escape(f.cause.label)}* ({f.certainty.value}) — {escape(f.summary)}",
    ]
    lines += [f"   • {_evidence(ev, currency)}" for ev in f.evidence[:MAX_EVIDENCE]]
    return truncate("\n".join(lines), 1500)


def warning_message(
    payment: Payment, diagnosis: Diagnosis, seen_at: datetime
) -> tuple[str, list[Block]]:
    """The warning's notification text and blocks."""
    a = money(payment.amount, payment.currency)
    who = escape(truncate(payment.customer.name, 80))
    ref = escape(payment.reference)
    problems = [f for f in diagnosis.findings if f.cause is not Cause.NONE][:MAX_FINDINGS]
    blocks: list[Block] = [
        header(truncate(f"About to fail: {payment.reference} ({a})", 150)),
        section(
            truncate(
                f":warning: {ref} from {who} ({a}) is waiting for ConnectBooster's next sync, "
                f"and QuickBooks would reject it now: *{escape(diagnosis.cause.label)}*.\n"
                f"{escape(diagnosis.summary)}",
                MAX_SECTION_TEXT,
            )
        ),
    ]
    blocks += [section(_finding(f, payment.currency)) for f in problems]
    blocks += [
        divider(),
        section(truncate(prevention(payment, diagnosis), MAX_SECTION_TEXT)),
        context(f"Seen {slack_time(seen_at)} after a change in QuickBooks · not yet failed"),
    ]
    text = fallback(
        f"About to fail: {payment.reference} ({a}, {payment.customer.name}): "
        f"{diagnosis.cause.label}"
    )
    return text, blocks


def cleared_message(payment: Payment, seen_at: datetime) -> tuple[str, list[Block]]:
    """The warning redrawn once the change that threatened the payment is undone."""
    a = money(payment.amount, payment.currency)
    blocks: list[Block] = [
        section(
            f":white_check_mark: {escape(payment.reference)} ({a}) no longer looks set to fail: "
            "QuickBooks can take it again, so ConnectBooster's next sync should record it."
        ),
        context(f"Checked {slack_time(seen_at)}"),
    ]
    return fallback(f"No longer about to fail: {payment.reference}"), blocks
