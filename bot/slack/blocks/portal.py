"""Gateway mode's ConnectBooster-side remedies (pure Block Kit): without the contract the bot
cannot dismiss syncing or delete a payment in ConnectBooster, so the card offers an "Open in
ConnectBooster" link (``CB_PORTAL_URL``) and a "Done in the portal" button that records who
did it there (``bot.reconcile.portal``)."""

from __future__ import annotations

from bot.models import FailureRecord, FailureStatus, RemedyKind
from bot.models.plans import PORTAL_REFUSAL
from bot.slack.blocks.common import Block, button, confirm, escape
from bot.slack.ids import ActionId, encode_value

PORTAL_KINDS = frozenset({RemedyKind.DISMISS_SYNC, RemedyKind.DELETE_HISTORY})
DONE_LABEL = "Done in the portal"
OPEN_LABEL = "Open in ConnectBooster"
CANNOT_SEE = "the bot cannot see the portal"


def portal_offered(rec: FailureRecord) -> bool:
    """Whether the card offers the portal's link and *Done in the portal*: an open failure
    whose Dismiss Syncing or Delete only a person in the portal can do."""
    if rec.status != FailureStatus.OPEN:
        return False
    return any(
        (plan := rec.plans.get(kind)) is not None and plan.refusal == PORTAL_REFUSAL
        for kind in PORTAL_KINDS
    )


def portal_buttons(rec: FailureRecord, portal_url: str | None) -> list[Block]:
    """The link (when ``CB_PORTAL_URL`` is set) and the *Done in the portal* button."""
    out: list[Block] = []
    if portal_url:
        out.append(button(OPEN_LABEL, ActionId.OPEN_PORTAL, rec.payment_id[:2000], url=portal_url))
    ref = escape(rec.payment.reference)
    out.append(
        button(
            DONE_LABEL,
            ActionId.PORTAL_DONE,
            encode_value(rec.payment_id, attempt=rec.remedy_attempts),
            confirm_dialog=confirm(
                "Done in the portal?",
                f"Record that syncing of {ref} was dismissed in the ConnectBooster portal. "
                f"You are named as who did it; {CANNOT_SEE}.",
                "Record it",
            ),
        )
    )
    return out


PORTAL_DETAIL = f"Recorded as reported in Slack: {CANNOT_SEE}."
"""The resolution's detail under "Dismissed in the ConnectBooster portal by @dana"."""
