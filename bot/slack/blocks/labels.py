"""How remedies are named wherever they show: on their buttons, in the card's status line,
in the line that says how a failure was resolved, and in the audit lines of a message's
thread. Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime

from bot.models import RemedyKind
from bot.slack.blocks.common import MAX_SECTION_TEXT, escape, slack_time, truncate, user_ref

REMEDY_LABELS: dict[RemedyKind, str] = {
    RemedyKind.DISMISS_SYNC: "Dismiss Syncing",
    RemedyKind.DELETE_HISTORY: "Delete",
    RemedyKind.UNAPPLY_CREDIT_MEMO: "Unapply Credit Memo",
    RemedyKind.RECREATE_PAYMENT: "Recreate payment in QuickBooks",
    RemedyKind.RECHECK: "Re-check",
    RemedyKind.REACTIVATE_CUSTOMER: "Reactivate customer",
    RemedyKind.DELETE_RECEIPT: "Delete receipt in QuickBooks",
}
"""Button text of each remedy, in ConnectBooster's words."""

DOING: dict[RemedyKind, str] = {
    RemedyKind.DISMISS_SYNC: "dismissing syncing",
    RemedyKind.DELETE_HISTORY: "deleting it from ConnectBooster's history",
    RemedyKind.UNAPPLY_CREDIT_MEMO: "un-applying the credit memo",
    RemedyKind.RECREATE_PAYMENT: "recreating the payment in QuickBooks",
    RemedyKind.RECHECK: "re-checking",
    RemedyKind.REACTIVATE_CUSTOMER: "reactivating the customer in QuickBooks",
    RemedyKind.DELETE_RECEIPT: "deleting the refunded receipt in QuickBooks",
}
"""What a remedy is doing while it runs ("<@U1> is dismissing syncing…")."""

RESOLVED_HOW: dict[str, str] = {
    "dismissed": "Syncing dismissed",
    "deleted": "Deleted from ConnectBooster's history",
    "synced": "Synced to QuickBooks",
    "recreated": "Payment recreated in QuickBooks and syncing dismissed",
    "already-in-qbo": "Already in QuickBooks; syncing dismissed",
    "unapplied": "Credit memo un-applied and the payment synced",
    "receipt-deleted": "Refunded payment's receipt deleted in QuickBooks",
    "portal": "Dismissed in the ConnectBooster portal",
}
"""How a failure was resolved (``Resolution.how``), as the card's last status line says it."""

_RESULT_ICONS = {"ok": ":white_check_mark:", "failed": ":warning:", "refused": ":no_entry:"}


def audit_line(
    user: str | None,
    action: RemedyKind | str,
    result: str,
    at: datetime,
    detail: str | None = None,
) -> str:
    """One thread reply: "✅ <@U123> ran *Dismiss Syncing*: ok at <time> — …", the time as
    Slack's date token (each reader's own zone; "10:42 UTC, 3 Nov 2026" as its fallback)."""
    try:
        label = REMEDY_LABELS[RemedyKind(action)]
    except ValueError:
        label = escape(str(action))
    icon = _RESULT_ICONS.get(result, ":information_source:")
    line = f"{icon} {user_ref(user)} ran *{label}*: {escape(result)} at {slack_time(at)}"
    if detail:
        line += f" — {escape(detail)}"
    return truncate(line, MAX_SECTION_TEXT)
