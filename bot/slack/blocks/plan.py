"""A remedy's plan (``RemedyPlan``) as the person about to run it reads it: the confirm dialog
behind its button, the confirmation modal when the dialog is too short for it, and what the
clicker is told when the facts changed between the message and the click.

What the user reads is what will be sent: the dialog's text is the plan's ``lines()`` joined
line for line, shown as plain text (nothing in a line is turned into formatting, a mention
or a link). Slack caps a dialog's text at 300 characters; a plan whose lines do not fit is
offered through the confirmation modal instead (``ViewId.CONFIRM_PLAN``), every line of the
plan in plain sections and its submit button running it. A plan too long even for the modal
is shown as that and cannot be run from it. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from bot.models import FailureRecord, FailureStatus, RemedyKind, RemedyPlan
from bot.slack.blocks.common import (
    MAX_CONFIRM_TEXT,
    MAX_FALLBACK_TEXT,
    MAX_MODAL_BLOCKS,
    MAX_SECTION_TEXT,
    Block,
    confirm,
    context,
    escape,
    money,
    plain,
    plain_section,
    plural,
    section,
    truncate,
)
from bot.slack.blocks.labels import REMEDY_LABELS
from bot.slack.ids import PlanConfirm, ViewId, encode_plan_confirm

CONFIRM_TITLES: dict[RemedyKind, str] = {
    RemedyKind.DISMISS_SYNC: "Dismiss syncing?",
    RemedyKind.DELETE_HISTORY: "Delete from ConnectBooster?",
    RemedyKind.UNAPPLY_CREDIT_MEMO: "Unapply the credit memo?",
    RemedyKind.RECREATE_PAYMENT: "Recreate the payment?",
    RemedyKind.REACTIVATE_CUSTOMER: "Reactivate the customer?",
    RemedyKind.DELETE_RECEIPT: "Delete the receipt?",
    RemedyKind.RECHECK: "Re-check?",
}
"""The title of each remedy's confirm dialog."""

CONFIRM_OK: dict[RemedyKind, str] = {
    RemedyKind.DISMISS_SYNC: "Dismiss Syncing",
    RemedyKind.DELETE_HISTORY: "Delete",
    RemedyKind.UNAPPLY_CREDIT_MEMO: "Unapply",
    RemedyKind.RECREATE_PAYMENT: "Recreate payment",
    RemedyKind.REACTIVATE_CUSTOMER: "Reactivate",
    RemedyKind.DELETE_RECEIPT: "Delete receipt",
    RemedyKind.RECHECK: "Re-check",
}
"""The button that runs the remedy in its dialog or modal (at most 24 characters)."""

MODAL_TITLES: dict[RemedyKind, str] = {
    RemedyKind.DISMISS_SYNC: "Dismiss syncing",
    RemedyKind.DELETE_HISTORY: "Delete payment",
    RemedyKind.UNAPPLY_CREDIT_MEMO: "Unapply credit memo",
    RemedyKind.RECREATE_PAYMENT: "Recreate payment",
    RemedyKind.REACTIVATE_CUSTOMER: "Reactivate customer",
    RemedyKind.DELETE_RECEIPT: "Delete receipt",
    RemedyKind.RECHECK: "Re-check",
}
"""The confirmation modal's title (Slack allows 24 characters)."""

NOTHING_WRITTEN = "Nothing is written."
"""What a plan without a line reads as (a dialog's text cannot be empty)."""
CONFIRM_CLOSED_TEXT = "Nothing has been changed yet."

_MAX_LINES_TOLD = 12


def plan_text(plan: RemedyPlan) -> str:
    """The plan's lines, one per line, exactly as the confirm shows them."""
    return "\n".join(plan.lines()) or NOTHING_WRITTEN


def fits_dialog(plan: RemedyPlan) -> bool:
    """True when the plan's lines fit a confirm dialog (300 characters)."""
    return len(plan_text(plan)) <= MAX_CONFIRM_TEXT


def plan_dialog(plan: RemedyPlan) -> Block:
    """The confirm dialog showing the plan line for line (the caller checked
    :func:`fits_dialog`; a longer text would be cut, so never call it then)."""
    if not fits_dialog(plan):
        raise ValueError("the plan's lines do not fit a confirm dialog")
    return confirm(
        CONFIRM_TITLES[plan.kind],
        plan_text(plan),
        CONFIRM_OK[plan.kind],
        danger=plan.kind == RemedyKind.DELETE_HISTORY,
        as_written=True,
    )


def plan_sections(plan: RemedyPlan, budget: int) -> list[Block] | None:
    """The plan's lines in plain sections of at most 3,000 characters, in order and whole;
    ``None`` when they need more than ``budget`` blocks or one line alone is over 3,000."""
    out: list[Block] = []
    current: list[str] = []
    size = 0
    for line in plan.lines() or [NOTHING_WRITTEN]:
        if len(line) > MAX_SECTION_TEXT:
            return None
        if current and size + 1 + len(line) > MAX_SECTION_TEXT:
            out.append(plain_section("\n".join(current)))
            current, size = [], 0
        size += len(line) + (1 if current else 0)
        current.append(line)
    if current:
        out.append(plain_section("\n".join(current)))
    return out if len(out) <= budget else None


def plan_to_confirm(rec: FailureRecord, kind: RemedyKind, attempt: int | None) -> RemedyPlan | None:
    """The plan a click on ``kind`` (drawn for ``attempt``) may confirm now: the record is
    open, the attempt is current and its plan for ``kind`` may run; else ``None`` (the
    button is out of date)."""
    if rec.status != FailureStatus.OPEN:
        return None
    if attempt is not None and attempt != rec.remedy_attempts:
        return None
    plan = rec.plans.get(kind)
    return plan if plan is not None and plan.may_run else None  # not refused, no pick asked


def plan_confirm_modal(
    rec: FailureRecord,
    plan: RemedyPlan,
    *,
    attempt: int | None,
    channel: str | None,
    changed: bool = False,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The confirmation modal of ``plan``: what it does to which payment, every line of the
    plan in order, and a submit button that runs it. ``callback_id`` is
    ``ViewId.CONFIRM_PLAN``; ``private_metadata`` the ``PlanConfirm`` its submission runs
    (payment, remedy, ``attempt``, the plan's digest, ``channel`` for answers, ``params``).
    ``changed``: the plan is not the one the clicked button was drawn for (the modal says so).
    """
    p = rec.payment
    label = REMEDY_LABELS[plan.kind]
    ok = CONFIRM_OK[plan.kind]
    head: list[Block] = [
        section(
            f"*{escape(label)}* on payment *{escape(p.reference)}* "
            f"({money(p.amount, p.currency)} from {escape(truncate(p.customer.name, 200))}).\n"
            f"Pressing *{escape(ok)}* sends exactly these writes, in this order:"
        )
    ]
    if changed:
        head.append(
            context(
                ":information_source: QuickBooks or ConnectBooster changed since "
                "the message was drawn: this is the plan now."
            )
        )
    tail = [context(_recorded_line(plan))]
    lines = plan_sections(plan, MAX_MODAL_BLOCKS - len(head) - len(tail))
    meta = encode_plan_confirm(
        PlanConfirm(
            payment_id=rec.payment_id,
            kind=plan.kind,
            digest=plan.digest(),
            attempt=attempt,
            channel=channel,
            params=dict(params or {}),
        )
    )
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": ViewId.CONFIRM_PLAN.value,
        "private_metadata": meta,
        "title": plain(MODAL_TITLES[plan.kind], 24),
        "close": plain("Cancel", 24),
    }
    if lines is None:
        view["blocks"] = [
            *head[:1],
            section(
                f"This plan has {plural(len(plan.lines()), 'line')}, too many to show here, so it "
                "cannot be run from Slack. Nothing was done."
            ),
        ]
        return view
    view["submit"] = plain(ok, 24)
    view["blocks"] = [*head, *lines, *tail]
    return view


def _recorded_line(plan: RemedyPlan) -> str:
    cur = plan.currency
    before, after = money(plan.recorded_before, cur), money(plan.recorded_after, cur)
    amount = money(plan.amount, cur)
    if plan.recorded_before == plan.recorded_after:
        return f"QuickBooks records {before} of this {amount} payment, before and after."
    return f"QuickBooks records {before} of this {amount} payment now, {after} once this runs."


def plan_notice(text: str, *, kind: RemedyKind | None = None) -> dict[str, Any]:
    """A confirmation modal with one message in place of the plan (the submission could not
    run it, or it may no longer run); nothing has been changed."""
    title = MODAL_TITLES.get(kind, "Confirm") if kind is not None else "Confirm"
    return {
        "type": "modal",
        "callback_id": f"{ViewId.CONFIRM_PLAN.value}_info",
        "title": plain(title, 24),
        "close": plain("Close", 24),
        "blocks": [section(text), context(CONFIRM_CLOSED_TEXT)],
    }


def changed_plan_text(old: RemedyPlan | None, new: RemedyPlan) -> str:
    """What the clicker is told when the plan planned again at click time differs from the
    one they confirmed (``old``; ``None`` when the button showed none): that nothing was
    written, what the remedy would write now (or why it may not run now) against what they
    saw, and how much QuickBooks records now. mrkdwn, at most 3,000 characters."""
    label = REMEDY_LABELS[new.kind]
    parts = [
        f"*{label}* was not done: QuickBooks or ConnectBooster changed since the message was "
        "drawn, so nothing was written."
    ]
    cur = new.currency
    if old is not None and old.recorded_before != new.recorded_before:
        parts.append(
            f"QuickBooks now records {money(new.recorded_before, cur)} of this "
            f"{money(new.amount, cur)} payment (it was {money(old.recorded_before, cur)})."
        )
    if new.refusal:
        parts.append(f"It may not run now: {escape(new.refusal)}")
    elif new.pick:
        parts.append(f"It needs a choice now: {escape(new.pick)}")
    elif old is None:
        parts.append("It would now write:\n" + _bullets(new.lines()))
    else:
        old_lines, new_lines = old.lines(), new.lines()
        gone = [line for line in old_lines if line not in new_lines]
        added = [line for line in new_lines if line not in old_lines]
        if not gone and not added:
            parts.append(
                "Its writes read the same, but what would be sent changed (a "
                "QuickBooks record was edited meanwhile)."
            )
        if gone:
            parts.append("No longer:\n" + _bullets(gone))
        if added:
            parts.append("Now:\n" + _bullets(added))
    parts.append(
        "The message shows where the payment stands now: check it before pressing a button again."
    )
    return truncate("\n".join(parts), MAX_FALLBACK_TEXT)


def _bullets(lines: list[str]) -> str:
    shown = [f"• {escape(truncate(line, 300))}" for line in lines[:_MAX_LINES_TOLD]]
    if len(lines) > _MAX_LINES_TOLD:
        shown.append(f"• … and {plural(len(lines) - _MAX_LINES_TOLD, 'more line')}")
    return "\n".join(shown) if shown else f"• {NOTHING_WRITTEN}"
