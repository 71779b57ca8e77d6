"""Settings of the e-mail triggers (issue 15): the IMAP mailbox ConnectBooster's notification
e-mails are forwarded to, and the patterns that recognise them.

Every setting is optional: without ``MAIL_IMAP_HOST`` the feature is off and nothing here is
read. With it, ``MAIL_IMAP_USER`` and ``MAIL_IMAP_PASSWORD`` are required. ConnectBooster does
not publish the format of its notifications, so the sender and subjects are regular
expressions (Python's ``re``, searched anywhere in the header; ``(?i)`` for any case):

- ``MAIL_FROM_PATTERN`` — the sender (the ``From`` header's text); unset: any sender;
- ``MAIL_SYNC_FAILED_PATTERN`` — "Sync Failed": a poll cycle runs at once;
- ``MAIL_SYNC_DISABLED_PATTERN`` — "Sync Disabled": the alert channel is told at once;
- ``MAIL_SYNC_NOT_RUNNING_PATTERN`` — "Sync Not Running": the alert channel is told at once.

``MAIL_POLL_SECONDS`` is how often the mailbox is looked at (the watcher polls with
``UID SEARCH`` on one kept connection; see ``bot.mail.watch`` for why not IDLE).
"""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings

DEFAULT_SYNC_FAILED = r"(?i)\bsync(ing)?\s+failed"
DEFAULT_SYNC_DISABLED = r"(?i)\bsync(ing)?\s+(is\s+|has\s+been\s+)?disabled"
DEFAULT_SYNC_NOT_RUNNING = r"(?i)\bsync(ing)?\s+(is\s+)?not\s+running"


class MailSettings(BaseSettings):
    """The e-mail trigger settings (a base of ``bot.runtime.settings.Settings``)."""

    mail_imap_host: str | None = Field(
        default=None,
        description="the IMAP server's host name (unset: e-mail triggers are off)",
    )
    mail_imap_port: int = Field(
        default=993, ge=1, le=65535, description="the IMAP server's TCP port (1-65535)"
    )
    mail_imap_tls: bool = Field(
        default=True,
        description="true (IMAP over TLS, port 993) or false (plain IMAP: a trusted network only)",
    )
    mail_imap_user: str | None = Field(default=None, description="the mailbox's login name")
    mail_imap_password: SecretStr | None = Field(
        default=None, description="the mailbox's password (an app password where offered)"
    )
    mail_imap_folder: str = Field(
        default="INBOX", min_length=1, description="the folder the notifications land in"
    )
    mail_from_pattern: str | None = Field(
        default=None,
        description="a regular expression the sender must match, e.g. (?i)connectbooster "
        "(unset: any sender)",
    )
    mail_sync_failed_pattern: str = Field(
        default=DEFAULT_SYNC_FAILED,
        description="a regular expression for a Sync Failed subject (runs a poll cycle now)",
    )
    mail_sync_disabled_pattern: str = Field(
        default=DEFAULT_SYNC_DISABLED,
        description="a regular expression for a Sync Disabled subject (alerts at once)",
    )
    mail_sync_not_running_pattern: str = Field(
        default=DEFAULT_SYNC_NOT_RUNNING,
        description="a regular expression for a Sync Not Running subject (alerts at once)",
    )
    mail_poll_seconds: float = Field(
        default=4.0, ge=0.1, le=3600, description="seconds between looks at the mailbox"
    )

    @field_validator(
        "mail_from_pattern",
        "mail_sync_failed_pattern",
        "mail_sync_disabled_pattern",
        "mail_sync_not_running_pattern",
    )
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"is not a regular expression ({exc.msg})") from None
        return v

    @field_validator("mail_imap_host", "mail_imap_user")
    @classmethod
    def _blank_is_unset(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None

    @model_validator(mode="after")
    def _login_given(self) -> MailSettings:
        if self.mail_imap_host is not None and (
            self.mail_imap_user is None or self.mail_imap_password is None
        ):
            raise ValueError(
                "MAIL_IMAP_HOST is set: MAIL_IMAP_USER and MAIL_IMAP_PASSWORD must be set too"
            )
        return self

    @property
    def mail_enabled(self) -> bool:
        """Whether the e-mail triggers are on (``MAIL_IMAP_HOST`` is set)."""
        return self.mail_imap_host is not None
