"""One e-mail as the bot reads it, parsed with the standard library's ``email`` package.

``parse_message`` never raises on a malformed e-mail: a header that cannot be read is empty,
a date that cannot be read is ``None``, a body in an unknown charset is decoded with
replacement characters, and an HTML-only body is read as its text.
"""

from __future__ import annotations

import email
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime

_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_BLANKS = re.compile(r"[ \t\r\f\v]+")


@dataclass(frozen=True)
class MailMessage:
    """A message of the folder: where it is (UID within UIDVALIDITY) and what it says."""

    uid: int
    uidvalidity: int
    message_id: str
    sender: str
    subject: str
    date: datetime | None
    text: str
    """The body as plain text (the text/plain part, else the HTML part's text); empty when
    only the headers were read."""


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, TypeError, IndexError):  # a header the parser cannot fold
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _date(msg: Message) -> datetime | None:
    raw = _header(msg, "Date")
    if not raw:
        return None
    try:
        at = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def html_text(markup: str) -> str:
    """The text of an HTML body: tags dropped, entities decoded, blank runs squeezed."""
    text = html.unescape(_TAG.sub(" ", markup))
    lines = (_BLANKS.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _part_text(part: Message) -> str:
    try:
        if isinstance(part, EmailMessage):
            content = part.get_content()
            if isinstance(content, str):
                return content
    except (LookupError, ValueError, TypeError, AssertionError):
        pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return payload.decode("utf-8", errors="replace")


def body_text(msg: Message) -> str:
    """The message's body as plain text (see :class:`MailMessage`)."""
    body: Message | None = None
    if isinstance(msg, EmailMessage):
        try:
            body = msg.get_body(preferencelist=("plain", "html"))
        except (KeyError, ValueError, TypeError):
            body = None
    if body is None and not msg.is_multipart():
        body = msg
    if body is None:
        return ""
    text = _part_text(body)
    return html_text(text) if body.get_content_type() == "text/html" else text


def parse_message(
    uid: int, uidvalidity: int, raw: bytes, *, headers_only: bool = False
) -> MailMessage:
    """Read one message (its whole source, or only its header with ``headers_only``)."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    return MailMessage(
        uid=uid,
        uidvalidity=uidvalidity,
        message_id=_header(msg, "Message-ID"),
        sender=_header(msg, "From"),
        subject=_header(msg, "Subject"),
        date=_date(msg),
        text="" if headers_only else body_text(msg),
    )
