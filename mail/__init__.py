"""An IMAP mailbox client: log in, find new messages by UID, read them, mark them. It knows
nothing of the bot or Slack (like ``qb/`` and ``cb/``).

Why the standard library's ``imaplib``, run in a worker thread (``asyncio.to_thread``):

- licence and upkeep: it ships with CPython (PSF licence) and is maintained with it; no new
  dependency to vet or pin. The async alternatives were weighed: ``aioimaplib`` is GPL-3.0
  (a copyleft licence this product does not take on), and ``imapclient`` (BSD) is itself a
  blocking wrapper over ``imaplib``;
- async without an async library: the bot reads a handful of small messages now and then,
  so one blocking call at a time in a thread costs nothing, and each call is short (a socket
  timeout bounds it), so a cancelled watcher never leaves a thread blocked for long;
- what it lacks (IDLE before Python 3.14) is not needed: the watcher polls a kept
  connection every ``MAIL_POLL_SECONDS`` (``bot.mail.watch``).

Messages are found by UID within the folder's UIDVALIDITY (a UID means nothing once the
server changed UIDVALIDITY), read with ``BODY.PEEK`` (reading never marks them), parsed with
the standard library's ``email`` package, and marked ``\\Seen`` (plus a keyword where the
server allows keywords); nothing is ever deleted or expunged.

Errors: every failure is one of ``mail.errors``' exceptions, the lower one chained with
``raise … from``; none carries the password.
"""

from mail.client import Mailbox, MailboxConfig
from mail.errors import (
    MailAuthError,
    MailConnectionLost,
    MailError,
    MailFolderError,
    MailProtocolError,
)
from mail.message import MailMessage, parse_message

__all__ = [
    "MailAuthError",
    "MailConnectionLost",
    "MailError",
    "MailFolderError",
    "MailMessage",
    "MailProtocolError",
    "Mailbox",
    "MailboxConfig",
    "parse_message",
]
