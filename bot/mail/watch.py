"""The mailbox watcher: a background job beside the poller (``start_mail_watcher``, called by
``app.start_background``; nothing runs without ``MAIL_IMAP_HOST``).

It keeps one IMAP connection to ``MAIL_IMAP_FOLDER`` and looks every ``MAIL_POLL_SECONDS``
for messages above the cursor ``mail:cursor:<folder>`` (the folder's UIDVALIDITY and the
highest UID looked at), each handled once by ``bot.mail.handle``. The cursor moves past a
message only once it is handled (or is not ConnectBooster's), so a look cut short — the
connection dropped, Slack or Redis failed — resumes at the first message not handled.

- First look at a folder, or its UIDVALIDITY changed (the server rebuilt it; old UIDs mean
  nothing): the unread messages are handled (each once: the Message-ID marker catches the
  ones handled under the old UIDs) and the cursor starts at the folder's newest.
- The connection dropped or the server cannot be reached: a warning line saying so, then a
  reconnect with backoff (from ``min(1 s, MAIL_POLL_SECONDS)`` doubling to 5 minutes, with
  jitter), and an info line when it is back. Login refused or folder missing: an error line
  naming the setting to fix, retried the same way (a person may fix the mailbox meanwhile).

Why polling, not IDLE: ``imaplib`` has IDLE only from Python 3.14, and emulating it means
reading the socket with a timeout, which ``imaplib``'s buffered reader does not survive; a
``NOOP`` and a ``UID SEARCH`` every few seconds on a kept connection is cheap and robust.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from pydantic import BaseModel
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import log_reason
from bot.mail.handle import handle_message
from bot.mail.recognise import MailKind, Patterns
from bot.runtime.services import Services
from bot.runtime.settings import Settings
from bot.store import StoreError
from mail import (
    MailAuthError,
    Mailbox,
    MailboxConfig,
    MailConnectionLost,
    MailError,
    MailFolderError,
)

log = logging.getLogger(__name__)

BACKOFF_CAP = 300.0
_BATCH = 200
"""Messages read (headers) per look at most; the rest wait for the next look."""


class MailCursor(BaseModel):
    """Where the next look starts: every message of ``folder`` up to ``uid`` (within
    ``uidvalidity``) was looked at."""

    folder: str
    uidvalidity: int
    uid: int


def mailbox_config(settings: Settings) -> MailboxConfig:
    """The mailbox the settings name (``MAIL_IMAP_HOST`` must be set)."""
    assert settings.mail_imap_host and settings.mail_imap_user and settings.mail_imap_password
    return MailboxConfig(
        host=settings.mail_imap_host,
        port=settings.mail_imap_port,
        tls=settings.mail_imap_tls,
        user=settings.mail_imap_user,
        password=settings.mail_imap_password,
        folder=settings.mail_imap_folder,
    )


def mail_patterns(settings: Settings) -> Patterns:
    return Patterns.of(
        sender=settings.mail_from_pattern,
        sync_failed=settings.mail_sync_failed_pattern,
        sync_disabled=settings.mail_sync_disabled_pattern,
        sync_not_running=settings.mail_sync_not_running_pattern,
    )


def backoff(failures: int, poll: float, rng: random.Random | None = None) -> float:
    """Seconds before reconnecting after ``failures`` failed attempts in a row."""
    step = min(BACKOFF_CAP, min(1.0, poll) * 2 ** max(0, failures - 1))
    return (rng or random).uniform(step * 0.75, step)


class MailWatcher:
    """Looks at the mailbox until cancelled (see the module docstring)."""

    def __init__(
        self,
        services: Services,
        mailbox: Mailbox | None = None,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.s = services
        self.mailbox = mailbox or Mailbox(mailbox_config(services.settings))
        self.patterns = mail_patterns(services.settings)
        self.sleep = sleep
        self.connected = False
        self.handled: list[MailKind] = []
        """What this watcher acted on, in order (an e-mail whose handling failed after its
        action, e.g. the mark, is acted on but not listed: the next look only marks it)."""

    async def run(self) -> None:
        poll = float(self.s.settings.mail_poll_seconds)
        failures = 0
        me = asyncio.current_task()
        try:
            while True:
                # A cancel that lands just as an inner ``wait_for`` completes can be
                # swallowed (Python 3.11, redis-py; as in ``bot.poll.cycle.run_poller``):
                # honour it here so shutdown never waits on a watcher that goes on looking.
                if me is not None and me.cancelling():
                    raise asyncio.CancelledError
                delay = poll
                try:
                    await self._connect(failures)
                    await self.look()
                    failures = 0
                except MailConnectionLost as exc:
                    failures += 1
                    delay = backoff(failures, poll)
                    what = "connection lost" if self.connected else "cannot connect"
                    self._lost()
                    log.warning("e-mail triggers: %s: %s; reconnecting in %.1fs", what, exc, delay)
                except (MailAuthError, MailFolderError) as exc:
                    failures += 1
                    delay = backoff(failures, poll)
                    self._lost()
                    log.error("e-mail triggers: %s; trying again in %.0fs", exc, delay)
                except MailError as exc:  # an answer the client cannot read: start afresh
                    failures += 1
                    delay = backoff(failures, poll)
                    self._lost()
                    log.warning("e-mail triggers: %s; reconnecting in %.1fs", exc, delay)
                except (
                    StoreError,
                    SlackApiError,
                    SlackClientError,
                    aiohttp.ClientError,
                    TimeoutError,
                ) as exc:  # the mailbox is fine: look again later, from the cursor
                    log.warning(
                        "e-mail triggers: handling failed (%s); trying again in %.0fs",
                        log_reason(exc),
                        delay,
                    )
                except Exception:  # never let the watcher die
                    log.exception("e-mail triggers: unexpected error; trying again in %.0fs", delay)
                await self.sleep(delay)
        finally:
            self.mailbox.abort()

    def _lost(self) -> None:
        self.connected = False
        self.mailbox.abort()

    async def _connect(self, failures: int) -> None:
        if self.connected:
            return
        uidvalidity = await self.mailbox.open()
        self.connected = True
        log.info(
            "e-mail triggers: %s %s (UIDVALIDITY %d)",
            "reconnected to" if failures else "watching",
            self.mailbox.config.where,
            uidvalidity,
        )

    async def look(self) -> list[MailKind]:
        """One look: handle the messages above the cursor (see the module docstring);
        returns what was acted on."""
        mb, store, folder = self.mailbox, self.s.store, self.mailbox.config.folder
        cursor = await store.get_model(MailCursor, "mail", "cursor", folder)
        uidvalidity = mb.uidvalidity or 0
        newest: int | None = None
        if cursor is None or cursor.uidvalidity != uidvalidity:
            if cursor is not None:
                log.warning(
                    "e-mail triggers: %s's UIDVALIDITY changed (%d → %d): its unread messages "
                    "are read again (each handled once, by Message-ID)",
                    folder,
                    cursor.uidvalidity,
                    uidvalidity,
                )
            # the newest first: a message arriving between the two searches is above it,
            # so the next look finds it if this one does not
            newest = max(await mb.uids_after(0), default=0)
            uids = await mb.uids_after(0, unseen=True)
        else:
            uids = await mb.uids_after(cursor.uid)
        acted: list[MailKind] = []
        for header in await mb.headers(uids[:_BATCH]):
            kind = await handle_message(self.s, mb, header, self.patterns)
            if kind is not None:
                acted.append(kind)
                self.handled.append(kind)
            await self._advance(folder, uidvalidity, header.uid)
        if newest is not None and len(uids) <= _BATCH:
            await self._advance(folder, uidvalidity, newest)
        return acted

    async def _advance(self, folder: str, uidvalidity: int, uid: int) -> None:
        store = self.s.store
        cur = await store.get_model(MailCursor, "mail", "cursor", folder)
        if cur is None or cur.uidvalidity != uidvalidity or cur.uid < uid:
            await store.put_model(
                MailCursor(folder=folder, uidvalidity=uidvalidity, uid=uid),
                "mail",
                "cursor",
                folder,
            )


def start_mail_watcher(services: Services) -> MailWatcher | None:
    """Start the watcher as a background job when ``MAIL_IMAP_HOST`` is set."""
    if not services.settings.mail_enabled:
        return None
    watcher = MailWatcher(services)
    services.start_background(watcher.run(), name="mail-watcher")
    return watcher
