"""The alert-channel message for ConnectBooster's "Sync Disabled" and "Sync Not Running"
notification e-mails (pure): what ConnectBooster said, when, and what to do."""

from __future__ import annotations

from datetime import datetime

from bot.mail.recognise import MailKind
from bot.slack.blocks.common import (
    Block,
    context,
    escape,
    fallback,
    header,
    section,
    slack_time,
    truncate,
)

EXCERPT = 600
"""At most this many characters of the e-mail's body are quoted."""

_HEADLINES = {
    MailKind.SYNC_DISABLED: ":no_entry: ConnectBooster says a sync is disabled",
    MailKind.SYNC_NOT_RUNNING: ":warning: ConnectBooster says its sync is not running",
    MailKind.SYNC_FAILED: ":x: ConnectBooster says a sync failed",
}
_ADVICE = {
    MailKind.SYNC_DISABLED: (
        "An integration (accounting, CRM or payment gateway) was turned off in "
        "ConnectBooster: payments made in the portal do not reach QuickBooks until it is "
        "on again. Check its integrations (QuickBooks may need re-authorising) and turn "
        "the sync back on."
    ),
    MailKind.SYNC_NOT_RUNNING: (
        "No sync has run for a while (ConnectBooster sends this after about 48 hours): "
        "payments wait to reach QuickBooks. Check the QuickBooks connection in "
        "ConnectBooster and its Sync History; *Sync Now* starts a run."
    ),
    MailKind.SYNC_FAILED: "The bot looks for the failed payments now.",
}


def _quote(text: str) -> str:
    lines = [escape(line) for line in text.strip().splitlines() if line.strip()]
    return "\n".join(f"> {line}" for line in lines)


def mail_alert_message(
    kind: MailKind,
    *,
    subject: str,
    sender: str,
    sent_at: datetime | None,
    body: str,
    now: datetime,
) -> tuple[str, list[Block]]:
    """The alert for one notification e-mail: headline, the e-mail's subject, sender and an
    excerpt of its body (escaped: nothing in an e-mail can mention or link), the advice."""
    excerpt = truncate(" ".join(body.split(" ")), EXCERPT) if body.strip() else ""
    when = f", sent {slack_time(sent_at)}" if sent_at is not None else ""
    blocks: list[Block] = [
        header(_HEADLINES[kind]),
        section(f"*{escape(subject) or '(no subject)'}*\nfrom {escape(sender) or 'unknown'}{when}"),
    ]
    if excerpt:
        blocks.append(section(_quote(excerpt)))
    blocks.append(section(_ADVICE[kind]))
    blocks.append(context(f"From ConnectBooster's notification e-mail, read {slack_time(now)}."))
    return fallback(f"ConnectBooster: {subject or kind.value}"), blocks
