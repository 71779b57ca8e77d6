"""The mailbox client's errors: one small tree, so a caller tells "reconnect and try again"
from "a person must fix a setting".

``MailError``
    ├── ``MailConnectionLost`` — the server could not be reached, or the connection dropped
    │   (refused, reset, timed out, TLS failed, the server said BYE): reconnect with backoff;
    ├── ``MailAuthError`` — the server refused the login (``MAIL_IMAP_USER`` /
    │   ``MAIL_IMAP_PASSWORD``);
    ├── ``MailFolderError`` — the folder (``MAIL_IMAP_FOLDER``) does not exist or cannot be
    │   opened;
    └── ``MailProtocolError`` — the server answered a command with NO/BAD or with something
        the client cannot read.

Messages carry the host, the user, the folder and the server's words, never the password.
"""

from __future__ import annotations


class MailError(Exception):
    """Any failure of the mailbox client."""


class MailConnectionLost(MailError):
    """The server cannot be reached or dropped the connection; reconnecting may help."""


class MailAuthError(MailError):
    """The server refused the login."""


class MailFolderError(MailError):
    """The folder does not exist or cannot be opened."""


class MailProtocolError(MailError):
    """The server refused a command or answered something unreadable."""
