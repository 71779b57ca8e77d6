"""The recreate modal: which of the customer's open invoices a recreated payment pays (or
to keep it as credit), and the small views shown while it loads or when it cannot open.

Given each choice's plan (``bot.remedies.picker.Offer.plans``), the modal shows under the
select what every choice it offers would write, line for line, as written — so what the
user reads is what the submission sends; a choice whose plan may not run is not offered (a
line says why), and choices whose plans do not fit the modal are left out and counted.

The modal's ``callback_id`` is ``ViewId.RECREATE_PICK`` and its ``private_metadata`` the id
of the context kept in Redis (``bot.remedies.picker``). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.models import FailureRecord, RemedyKind, RemedyPlan
from bot.slack.blocks.common import (
    MAX_MODAL_BLOCKS,
    MAX_OPTION_TEXT,
    MAX_OPTION_VALUE,
    MAX_OPTIONS,
    Block,
    context,
    escape,
    fmt_date,
    money,
    plain,
    plural,
    section,
    truncate,
)
from bot.slack.blocks.plan import plan_sections
from bot.slack.ids import KEEP_AS_CREDIT, RECREATE_TARGET_ACTION, RECREATE_TARGET_BLOCK, ViewId
from qb.models import Invoice

_MAX_REFUSALS_SHOWN = 3
_FIXED_BLOCKS = 8  # intro, input, "showing", refusals, the choices' heading, the closing note


def recreate_modal(
    rec: FailureRecord,
    candidates: Sequence[Invoice],
    *,
    context_id: str,
    plans: Mapping[str, RemedyPlan] | None = None,
) -> dict[str, Any]:
    """The modal that asks which open invoice the recreated payment pays (or to keep it as
    credit). ``callback_id`` is ``ViewId.RECREATE_PICK``, ``private_metadata`` is
    ``context_id`` (the key of the context kept in Redis). At most 100 options: suggested
    replacements first, then the newest invoices. With ``plans`` (choice → its plan: an
    invoice id, or ``KEEP_AS_CREDIT``) see :func:`recreate_plans_modal`."""
    if plans is not None:
        return recreate_plans_modal(rec, candidates, context_id=context_id, plans=plans)
    p = rec.payment
    cur = p.currency
    suggested = _suggested(rec)
    open_invoices = _ordered(candidates, suggested)
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
    return _picker_view(context_id, blocks)


def _picker_view(context_id: str, blocks: list[Block]) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": ViewId.RECREATE_PICK.value,
        "private_metadata": context_id,
        "title": plain("Recreate payment", 24),
        "submit": plain("Recreate", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def recreate_plans_modal(
    rec: FailureRecord,
    candidates: Sequence[Invoice],
    *,
    context_id: str,
    plans: Mapping[str, RemedyPlan],
) -> dict[str, Any]:
    """The recreate modal drawn from each choice's plan: the select offers the choices whose
    plan may run (suggested replacements first, then the newest invoices, then credit), and
    under it every offered choice's plan, line for line, in plain text. Choices whose plans
    do not fit the modal are not offered (counted); refused ones are named with why."""
    suggested = _suggested(rec)
    invoices = _ordered(candidates, suggested)
    choices = _recreate_choices(invoices, rec.payment.currency)
    refused = [
        (v, plans[v].refusal or plans[v].pick or "")
        for v, _, _ in choices
        if v in plans and not plans[v].may_run
    ]
    runnable = [c for c in choices if c[0] in plans and plans[c[0]].may_run]
    options, explained = _explained_options(runnable, plans)

    blocks: list[Block] = [_recreate_plans_intro(rec)]
    if options:
        blocks.append(_target_input(options, suggested))
    else:
        blocks.append(section("No choice can be recreated as things stand; nothing was done."))
    left_out = len(runnable) - len(options)
    if left_out:
        blocks.append(
            context(
                f"{plural(left_out, 'more choice')} not shown: their writes do not fit here. "
                "Pick credit and apply it in QuickBooks if yours is not listed."
            )
        )
    if refused:
        blocks.append(
            context(
                *[
                    f"Not offered: {_choice_name(v, invoices)} — {escape(truncate(why, 300))}"
                    for v, why in refused[:_MAX_REFUSALS_SHOWN]
                ]
            )
        )
    blocks += explained
    view = _picker_view(context_id, blocks)
    if not options:
        del view["submit"]
    return view


def _recreate_choices(invoices: Sequence[Invoice], currency: str) -> list[tuple[str, str, str]]:
    """Every choice as ``(value, option text, heading of its plan)``: the ``invoices`` in
    order, then keeping the payment as credit."""
    choices: list[tuple[str, str, str]] = [
        (
            str(inv.id),
            _invoice_option_text(inv, currency),
            f"If you pick *invoice {escape(inv.doc_number or inv.id)}*, these writes are sent:",
        )
        for inv in invoices
    ]
    choices.append(
        (
            KEEP_AS_CREDIT,
            "Keep as credit on the customer",
            "If you keep it as *credit on the customer*, these writes are sent:",
        )
    )
    return choices


def _explained_options(
    runnable: list[tuple[str, str, str]], plans: Mapping[str, RemedyPlan]
) -> tuple[list[dict[str, Any]], list[Block]]:
    """The select's options and, for each, its heading and plan lines: the ``runnable``
    choices in order (at most ``MAX_OPTIONS``), stopping at the first whose plan does not fit
    the blocks left in the modal."""
    shown: list[tuple[str, str]] = []
    explained: list[Block] = []
    room = MAX_MODAL_BLOCKS - _FIXED_BLOCKS
    for value, text, heading in runnable[:MAX_OPTIONS]:
        lines = plan_sections(plans[value], room - len(explained) - 1)
        if lines is None:
            break
        explained += [context(heading), *lines]
        shown.append((value, text))
    options = [
        {"text": plain(text, MAX_OPTION_TEXT), "value": value[:MAX_OPTION_VALUE]}
        for value, text in shown
    ]
    return options, explained


def _recreate_plans_intro(rec: FailureRecord) -> Block:
    """The section opening the modal: the payment, and the card plan's question (or a
    default one)."""
    p = rec.payment
    card_plan = rec.plans.get(RemedyKind.RECREATE_PAYMENT)
    ask = (
        escape(truncate(card_plan.pick, 600))
        if card_plan is not None and card_plan.pick
        else "Where does the part QuickBooks does not record yet go?"
    )
    return section(
        f"Recreate *{escape(p.reference)}* in QuickBooks: {money(p.amount, p.currency)} from "
        f"{escape(truncate(p.customer.name, 200))}, paid {fmt_date(p.paid_at)}.\n"
        f"{ask} Each choice's writes are listed below, exactly as they will be sent."
    )


def _target_input(options: list[dict[str, Any]], suggested: set[str]) -> Block:
    """The input block with the select of ``options``; preselected when exactly one of them
    is a ``suggested`` replacement."""
    select: Block = {
        "type": "static_select",
        "action_id": RECREATE_TARGET_ACTION,
        "placeholder": plain("Choose an invoice", 150),
        "options": options,
    }
    in_list = [o for o in options if o["value"] in suggested]
    if len(in_list) == 1:
        select["initial_option"] = in_list[0]
    return {
        "type": "input",
        "block_id": RECREATE_TARGET_BLOCK,
        "label": plain("Apply the payment to", 2000),
        "element": select,
    }


def _suggested(rec: FailureRecord) -> set[str]:
    return {
        c
        for f in (rec.diagnosis.findings if rec.diagnosis else [])
        for c in [*f.replacement_candidates, f.replacement_invoice_id]
        if c
    }


def _ordered(candidates: Sequence[Invoice], suggested: set[str]) -> list[Invoice]:
    """Open invoices, suggested replacements first, then the newest."""
    open_invoices = [c for c in candidates if c.id and not c.is_deleted]
    open_invoices.sort(key=lambda c: str(c.txn_date or ""), reverse=True)
    open_invoices.sort(key=lambda c: c.id not in suggested)
    return open_invoices


def _choice_name(value: str, invoices: Sequence[Invoice]) -> str:
    if value == KEEP_AS_CREDIT:
        return "credit on the customer"
    inv = next((i for i in invoices if i.id == value), None)
    return f"invoice {escape(inv.doc_number or value) if inv else escape(value)}"


def _invoice_option_text(inv: Invoice, currency: str) -> str:
    date = f" · {inv.txn_date.isoformat()}" if inv.txn_date else ""
    return f"Invoice {inv.doc_number or inv.id} · {money(inv.balance, currency)} open{date}"


def picker_notice(text: str) -> dict[str, Any]:
    """A modal with one message in place of the picker (while it loads, or why it cannot
    open); nothing has been changed yet."""
    return {
        "type": "modal",
        "callback_id": f"{ViewId.RECREATE_PICK.value}_info",
        "title": plain("Recreate payment", 24),
        "close": plain("Close", 24),
        "blocks": [section(text), context("Nothing has been changed yet.")],
    }


def picker_loading() -> dict[str, Any]:
    """The view the picker opens with, while QuickBooks lists the open invoices."""
    return picker_notice("Looking up the customer's open invoices in QuickBooks…")
