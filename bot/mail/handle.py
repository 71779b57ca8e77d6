"""One recognised e-mail, handled exactly once.

In order, for a message the patterns recognise (``bot.mail.recognise``):

1. its whole text is read (``BODY.PEEK``: reading does not mark it);
2. once-markers: ``once:mail:uid:<uidvalidity>:<uid>`` (this message) and
   ``once:mail:msgid:<hash of Message-ID>`` (the same e-mail delivered or copied twice, under
   another UID). Either taken already → handled before: only marked again;
3. the action: "Sync Failed" wakes this process's poller (``Services.wake_poller``) with the
   hints of its body; "Sync Disabled" / "Sync Not Running" are posted to ``ALERT_CHANNEL``.
   A post Slack refuses gives both markers back and raises, so the next look tries again
   (nothing lost); the markers are taken before the post so two bots never both post;
4. the record ``mail:event:<kind>`` (the last e-mail of each kind: what, when, hints);
5. the message is marked ``\\Seen`` (and the ``$FailedPayments`` keyword); never deleted.

A crash between 3 and 5 leaves the message unmarked but handled: the next look finds the
marker and only marks it.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, Field

from bot.mail.recognise import MailKind, Patterns, classify, find_hints
from bot.runtime.services import Services
from bot.slack import messages
from bot.slack.blocks.mail import mail_alert_message
from mail import Mailbox, MailMessage

log = logging.getLogger(__name__)

MARKER_TTL = 90 * 86400.0
"""How long an e-mail's once-markers are kept (far longer than any mailbox keeps a UID
unread)."""


class MailEvent(BaseModel):
    """The last e-mail of one kind the bot acted on, kept in Redis (``mail:event:<kind>``)."""

    kind: MailKind
    uid: int
    uidvalidity: int
    folder: str
    message_id: str = ""
    sender: str = ""
    subject: str = ""
    sent_at: AwareDatetime | None = None
    handled_at: AwareDatetime
    references: list[str] = Field(default_factory=list)
    amounts: list[Decimal] = Field(default_factory=list)


def uid_marker(uidvalidity: int, uid: int) -> str:
    return f"mail:uid:{uidvalidity}:{uid}"


def message_id_marker(message_id: str) -> str:
    digest = hashlib.sha256(message_id.strip().lower().encode()).hexdigest()[:32]
    return f"mail:msgid:{digest}"


async def last_event(services: Services, kind: MailKind) -> MailEvent | None:
    """The last e-mail of ``kind`` the bot acted on."""
    return await services.store.get_model(MailEvent, "mail", "event", kind.value)


async def handle_message(
    services: Services, mailbox: Mailbox, header: MailMessage, patterns: Patterns
) -> MailKind | None:
    """Handle one message of the folder (see the module docstring). Returns its kind when
    this call acted on it; ``None`` when it is not ConnectBooster's or was handled before.
    Mailbox, Redis and Slack errors propagate (the watcher retries)."""
    kind = classify(header, patterns)
    if kind is None:
        return None  # not ours: left as it is, unmarked
    msg = await mailbox.message(header.uid) or header
    store = services.store
    by_uid = uid_marker(msg.uidvalidity, msg.uid)
    if not await store.once(by_uid, ttl=MARKER_TTL):
        await mailbox.mark(msg.uid)
        return None
    by_id = message_id_marker(msg.message_id) if msg.message_id else None
    if by_id is not None and not await store.once(by_id, f"{msg.uid}", ttl=MARKER_TTL):
        log.info(
            "e-mail UID %d (%s) was handled before under another UID (same Message-ID); "
            "marked, nothing done again",
            msg.uid,
            kind.value,
        )
        await mailbox.mark(msg.uid)
        return None
    try:
        event = await _act(services, kind, msg, mailbox.config.folder)
    except Exception:
        await store.clear_once(by_uid)  # nothing done: the next look tries again
        if by_id is not None:
            await store.clear_once(by_id, f"{msg.uid}")
        raise
    await store.put_model(event, "mail", "event", kind.value)
    await mailbox.mark(msg.uid)
    return kind


async def _act(services: Services, kind: MailKind, msg: MailMessage, folder: str) -> MailEvent:
    now: datetime = services.clock()
    hints = find_hints(msg.text) if kind is MailKind.SYNC_FAILED else None
    if kind is MailKind.SYNC_FAILED:
        assert hints is not None
        reason = f"ConnectBooster e-mailed Sync Failed (UID {msg.uid}; hints: {hints.describe()})"
        log.info("%s: running a poll cycle now", reason)
        services.wake_poller(reason)
    else:
        text, blocks = mail_alert_message(
            kind, subject=msg.subject, sender=msg.sender, sent_at=msg.date, body=msg.text, now=now
        )
        await messages.post(services, services.settings.alert_channel, text, blocks)
        log.warning(
            "ConnectBooster e-mailed %s (UID %d): told the alert channel", kind.value, msg.uid
        )
    return MailEvent(
        kind=kind,
        uid=msg.uid,
        uidvalidity=msg.uidvalidity,
        folder=folder,
        message_id=msg.message_id,
        sender=msg.sender,
        subject=msg.subject,
        sent_at=msg.date,
        handled_at=now,
        references=hints.references if hints else [],
        amounts=hints.amounts if hints else [],
    )
