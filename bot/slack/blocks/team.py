"""The team's part of a failure card and its modals: who owns it, whether it is snoozed, the
Take it / Release / Reassign / Snooze / Unsnooze buttons, and the reassign and snooze modals.

Pure: no I/O. The card (``bot.slack.blocks.card``) adds :func:`team_line` under its header
and :func:`team_buttons` beside the remedies; both are drawn from a ``TeamView`` read from
``bot.store.team`` when the card is drawn.
"""

from __future__ import annotations

from typing import Any

from bot.models import FailureRecord, FailureStatus, Snooze, SnoozeKind, TeamView
from bot.slack.blocks.common import (
    Block,
    actions,
    button,
    context,
    escape,
    plain,
    section,
    slack_time,
    truncate,
    user_ref,
)
from bot.slack.ids import (
    REASSIGN_ACTION,
    REASSIGN_BLOCK,
    SNOOZE_DATE_ACTION,
    SNOOZE_DATE_BLOCK,
    SNOOZE_KIND_ACTION,
    SNOOZE_KIND_BLOCK,
    SNOOZE_REASON_ACTION,
    SNOOZE_REASON_BLOCK,
    ActionId,
    ViewId,
    encode_value,
)

MAX_REASON = 300
"""Characters of a snooze reason kept (the modal's input allows this many)."""


def snooze_words(s: Snooze) -> str:
    """ "until <date>" or "until ConnectBooster's next sync" (mrkdwn, Slack date token)."""
    if s.kind == SnoozeKind.UNTIL and s.until is not None:
        return f"until {slack_time(s.until)}"
    return "until ConnectBooster's next sync"


def team_line(view: TeamView) -> Block | None:
    """One context line: the owner and the snooze (``None`` when neither)."""
    parts: list[str] = []
    if view.owner:
        parts.append(f":bust_in_silhouette: Owner: {user_ref(view.owner)}")
    if view.snooze is not None:
        s = view.snooze
        why = f" — {escape(truncate(s.reason, MAX_REASON))}" if s.reason else ""
        parts.append(f":zzz: *Snoozed* {snooze_words(s)} by {user_ref(s.by)}{why}")
    return context(*parts) if parts else None


def team_buttons(rec: FailureRecord, view: TeamView) -> Block | None:
    """The team's buttons while the failure waits for someone (``None`` while a remedy runs,
    like the remedies' own, and once resolved)."""
    if rec.status in (FailureStatus.RESOLVED, FailureStatus.IN_PROGRESS):
        return None
    value = encode_value(rec.payment_id)
    own = (
        button("Release", ActionId.RELEASE.value, value)
        if view.owner
        else button("Take it", ActionId.TAKE.value, value, style="primary")
    )
    snooze = (
        button("Unsnooze", ActionId.UNSNOOZE.value, value)
        if view.snooze is not None
        else button("Snooze", ActionId.SNOOZE.value, value)
    )
    reassign = button("Reassign", ActionId.REASSIGN.value, value)
    return actions([own, reassign, snooze], block_id=f"fp_team:{rec.payment_id}")


def reassign_modal(rec: FailureRecord, *, owner: str | None, channel: str | None) -> dict[str, Any]:
    """Pick the new owner. Slack's user picker cannot be limited to a group, so the
    submission is checked: only a finance user may own a failure."""
    now = f"Now owned by {user_ref(owner)}." if owner else "Nobody owns it now."
    picker: Block = {
        "type": "users_select",
        "action_id": REASSIGN_ACTION,
        "placeholder": plain("A finance user", 150),
    }
    if owner:
        picker["initial_user"] = owner
    return {
        "type": "modal",
        "callback_id": ViewId.REASSIGN.value,
        "private_metadata": encode_value(rec.payment_id, c=channel or ""),
        "title": plain("Reassign", 24),
        "submit": plain("Reassign", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(f"*{escape(rec.payment.reference)}* · {escape(rec.payment.customer.name)}"),
            context(now + " Only finance users may own a failure."),
            {
                "type": "input",
                "block_id": REASSIGN_BLOCK,
                "label": plain("New owner", 2000),
                "element": picker,
            },
        ],
    }


def snooze_modal(rec: FailureRecord, *, channel: str | None, today: str) -> dict[str, Any]:
    """Snooze until a date, or until ConnectBooster's next sync attempt, with a reason.
    ``today`` (YYYY-MM-DD, in the books' time zone) is the date picker's first value."""
    options = [
        {"text": plain("Until a date", 75), "value": SnoozeKind.UNTIL.value},
        {"text": plain("Until ConnectBooster's next sync", 75), "value": SnoozeKind.NEXT_SYNC},
    ]
    return {
        "type": "modal",
        "callback_id": ViewId.SNOOZE.value,
        "private_metadata": encode_value(rec.payment_id, c=channel or ""),
        "title": plain("Snooze", 24),
        "submit": plain("Snooze", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(f"*{escape(rec.payment.reference)}* · {escape(rec.payment.customer.name)}"),
            {
                "type": "input",
                "block_id": SNOOZE_KIND_BLOCK,
                "label": plain("Snooze", 2000),
                "element": {
                    "type": "radio_buttons",
                    "action_id": SNOOZE_KIND_ACTION,
                    "options": options,
                    "initial_option": options[0],
                },
            },
            {
                "type": "input",
                "block_id": SNOOZE_DATE_BLOCK,
                "optional": True,
                "label": plain("Until (wakes at the start of that day)", 2000),
                "element": {
                    "type": "datepicker",
                    "action_id": SNOOZE_DATE_ACTION,
                    "initial_date": today,
                },
            },
            {
                "type": "input",
                "block_id": SNOOZE_REASON_BLOCK,
                "label": plain("Why", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": SNOOZE_REASON_ACTION,
                    "max_length": MAX_REASON,
                    "placeholder": plain("e.g. waiting for the client's bank", 150),
                },
            },
        ],
    }
