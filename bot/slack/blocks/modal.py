"""The recreate modal: which of the customer's open invoices a recreated payment pays (or
to keep it as credit), and the small views shown while it loads or when it cannot open.

The modal's ``callback_id`` is ``ViewId.RECREATE_PICK`` and its ``private_metadata`` the id
of the context kept in Redis (``bot.remedies.picker``). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.models import FailureRecord
from bot.slack.blocks.common import (
    MAX_OPTION_TEXT,
    MAX_OPTION_VALUE,
    MAX_OPTIONS,
    Block,
    context,
    escape,
    fmt_date,
    money,
    plain,
    section,
    truncate,
)
from bot.slack.ids import KEEP_AS_CREDIT, RECREATE_TARGET_ACTION, RECREATE_TARGET_BLOCK, ViewId
from qb.models import Invoice


def recreate_modal(
    rec: FailureRecord, candidates: Sequence[Invoice], *, context_id: str
) -> dict[str, Any]:
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
