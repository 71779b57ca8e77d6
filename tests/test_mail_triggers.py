"""ConnectBooster's notification e-mails as triggers, end to end: a real Dovecot IMAP server
(``tests/imap_server.py``), the bot wired as in production against the stand-ins
(``tests/harness.py``), a real Redis. Messages arrive by IMAP APPEND."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import app as app_module
from bot.mail.handle import last_event
from bot.mail.recognise import MailKind
from bot.mail.watch import MailCursor, MailWatcher, start_mail_watcher
from bot.poll import cycle as cycle_module
from bot.poll.cycle import run_poller
from bot.runtime.services import Services
from cli.check import run_checks
from cli.check_mail import mail_check_line
from tests.harness import ALERT_CHANNEL, World, world
from tests.imap_server import PASSWORD, USER, ImapServer, imap_server, notification

__all__ = ["imap_server"]  # the fixture, used by name


def mail_settings(imap: ImapServer, **more: Any) -> dict[str, Any]:
    return {
        "mail_imap_host": "127.0.0.1",
        "mail_imap_port": imap.port,
        "mail_imap_tls": False,
        "mail_imap_user": USER,
        "mail_imap_password": PASSWORD,
        "mail_from_pattern": r"(?i)connectbooster",
        "mail_poll_seconds": 0.2,
        "poll_interval_seconds": 300,  # only a wake-up explains a second cycle in a test
        **more,
    }


@asynccontextmanager
async def mail_world(
    redis_url: str, prefix: str, imap: ImapServer, scenario: str = "credit-memo"
) -> AsyncIterator[World]:
    async with world(redis_url, prefix, scenario, bot_overrides=mail_settings(imap)) as w:
        w.slack.rate_limit_enabled = False
        yield w


async def wait_until(check: Callable[[], Any], within: float, what: str) -> None:
    """Wait for ``check()`` to hold (it may be a coroutine function), at most ``within`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        got = check()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return
        assert loop.time() < deadline, f"not within {within}s: {what}"
        await asyncio.sleep(0.02)


def cycles(s: Services) -> float:
    return float(s.metrics.poll_cycles.labels("ok")._value.get())


def alerts(w: World) -> list[str]:
    return [m.text for m in w.slack.messages(ALERT_CHANNEL)]


@pytest.fixture(autouse=True)
def no_password_in_logs() -> Iterator[None]:
    """No log line of these tests holds the mailbox's password."""
    seen: list[str] = []

    class Scan(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage() + (record.exc_text or "")
            if record.exc_info:
                text += logging.Formatter().formatException(record.exc_info)
            if PASSWORD in text:
                seen.append(text[:200])

    handler = Scan(level=logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(handler)
    assert not seen, seen


async def opened(s: Services) -> MailWatcher:
    watcher = MailWatcher(s)
    await watcher.mailbox.open()
    return watcher


# ---- must show ----------------------------------------------------------------------------


async def test_sync_failed_email_starts_a_cycle_within_5_seconds(
    redis_url: str, redis_prefix: str, imap_server: ImapServer
):
    async with mail_world(redis_url, redis_prefix, imap_server) as w:
        s = w.services
        s.start_background(run_poller(s, post_interval=0), name="poller")
        await wait_until(lambda: cycles(s) >= 1, 60, "the poller's first cycle")
        watcher = start_mail_watcher(s)
        assert watcher is not None
        await wait_until(lambda: watcher.connected, 10, "the watcher's login")
        before = cycles(s)

        uid = imap_server.append(
            notification(
                "ConnectBooster: Sync Failed",
                "A payment failed to sync to QuickBooks.\nPayment CB10234 for $1,250.00 "
                "(Acme Ltd) could not be applied.",
            )
        )
        await wait_until(lambda: cycles(s) > before, 5, "a poll cycle after the e-mail")
        # the cycle may finish before the e-mail's record and mark are written: wait for them
        await wait_until(lambda: watcher.handled, 10, "the e-mail's handling to finish")

        event = await last_event(s, MailKind.SYNC_FAILED)
        assert event is not None and event.uid == uid
        assert event.references == ["CB10234"] and [str(a) for a in event.amounts] == ["1250.00"]
        assert watcher.handled == [MailKind.SYNC_FAILED]
        assert "\\Seen" in imap_server.flags(uid) and "$FailedPayments" in imap_server.flags(uid)
        assert alerts(w) == []  # a Sync Failed is a look now, not an alert


async def test_sync_disabled_email_reaches_the_alert_channel(
    redis_url: str, redis_prefix: str, imap_server: ImapServer
):
    async with mail_world(redis_url, redis_prefix, imap_server) as w:
        s = w.services
        watcher = start_mail_watcher(s)
        assert watcher is not None
        imap_server.append(
            notification(
                "Sync Disabled: QuickBooks Online",
                "The QuickBooks Online integration was disabled by <!channel> admin.",
            )
        )
        await wait_until(lambda: len(alerts(w)) == 1, 10, "the alert")
        await wait_until(lambda: len(watcher.handled) == 1, 10, "the e-mail's handling to finish")
        msg = w.slack.messages(ALERT_CHANNEL)[0]
        text = str(msg.blocks)
        assert "Sync Disabled: QuickBooks Online" in msg.text
        assert (
            "sync is disabled" in text and "&lt;!channel&gt;" in text and "<!channel>" not in text
        )
        assert (await last_event(s, MailKind.SYNC_DISABLED)) is not None

        imap_server.append(notification("Sync Not Running", "No sync has run for 48 hours."))
        await wait_until(lambda: len(alerts(w)) == 2, 10, "the second alert")
        assert "not running" in str(w.slack.messages(ALERT_CHANNEL)[1].blocks)


async def test_the_same_email_seen_twice_is_handled_once(
    redis_url: str, redis_prefix: str, imap_server: ImapServer
):
    async with mail_world(redis_url, redis_prefix, imap_server) as w:
        s = w.services
        raw = notification("Sync Not Running", "No sync for 48 hours.", message_id="<nr-1@cb.test>")
        first_uid = imap_server.append(raw)

        first = await opened(s)
        assert await first.look() == [MailKind.SYNC_NOT_RUNNING]
        assert len(alerts(w)) == 1

        # a restarted watcher, its cursor lost, the e-mail marked unread by someone: the
        # same UID is seen again
        await s.store.redis.delete(s.store.key("mail", "cursor", "INBOX"))
        imap_server.mark_unread(first_uid)
        second = await opened(s)
        assert await second.look() == []
        # the same e-mail delivered again (same Message-ID, a new UID)
        again_uid = imap_server.append(raw)
        assert again_uid != first_uid
        assert await second.look() == []
        assert len(alerts(w)) == 1
        assert "\\Seen" in imap_server.flags(again_uid)  # marked, not acted on

        cursor = await s.store.get_model(MailCursor, "mail", "cursor", "INBOX")
        assert cursor is not None and cursor.uid == again_uid
        first.mailbox.abort()
        second.mailbox.abort()


async def test_dropped_connection_is_logged_reconnected_and_nothing_lost(
    redis_url: str, redis_prefix: str, imap_server: ImapServer, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="bot.mail.watch")
    async with mail_world(redis_url, redis_prefix, imap_server) as w:
        s = w.services
        watcher = start_mail_watcher(s)
        assert watcher is not None
        await wait_until(lambda: watcher.connected, 10, "the watcher's login")

        assert imap_server.drop_connections() >= 1  # the server kills the watcher's connection
        # an e-mail arrives while the watcher is cut off
        imap_server.append(notification("Sync Disabled", "The gateway integration was disabled."))
        await wait_until(lambda: len(alerts(w)) == 1, 15, "the alert after the reconnect")
        lines = [r.getMessage() for r in caplog.records if r.name == "bot.mail.watch"]
        assert any("connection lost" in line for line in lines), lines
        assert any("reconnected to" in line for line in lines), lines

        # the whole server goes away and comes back on the same port
        imap_server.stop()
        await wait_until(
            lambda: any("cannot connect" in r.getMessage() for r in caplog.records),
            15,
            "a line saying the server cannot be reached",
        )
        imap_server.start()
        uid = imap_server.append(notification("Sync Not Running", "No run for 48 hours."))
        await wait_until(lambda: len(alerts(w)) == 2, 30, "the alert after the server restart")
        await wait_until(lambda: "\\Seen" in imap_server.flags(uid), 30, "the e-mail marked")
        assert await last_event(s, MailKind.SYNC_DISABLED) is not None
        event = await last_event(s, MailKind.SYNC_NOT_RUNNING)
        assert event is not None and event.uid == uid
        assert len(alerts(w)) == 2  # nothing done twice across the reconnects
        assert all(PASSWORD not in r.getMessage() for r in caplog.records)


# ---- what is not ConnectBooster's, and bad settings ----------------------------------------


async def test_other_mail_is_left_alone(redis_url: str, redis_prefix: str, imap_server: ImapServer):
    async with mail_world(redis_url, redis_prefix, imap_server) as w:
        s = w.services
        other = imap_server.append(
            notification("Sync failed for your phone backup", "hi", sender="Phone <x@phone.test>")
        )
        plain = imap_server.append(notification("Payment Made", "CB10001 $10.00"))
        watcher = await opened(s)
        assert await watcher.look() == []
        assert alerts(w) == [] and not s.poll_now.is_set()
        assert "\\Seen" not in imap_server.flags(other)  # not ours: not marked
        assert "\\Seen" not in imap_server.flags(plain)
        watcher.mailbox.abort()


# ---- check ------------------------------------------------------------------------------------


async def test_check_says_login_and_folder_or_why_not(
    redis_url: str, redis_prefix: str, imap_server: ImapServer, capsys: pytest.CaptureFixture[str]
):
    async with world(redis_url, redis_prefix, "credit-memo", bots=0) as w:
        ok = await mail_check_line(w.settings(**mail_settings(imap_server)))
        assert ok[1] and f"logged in as {USER}" in ok[2] and "'INBOX'" in ok[2], ok

        wrong = await mail_check_line(
            w.settings(**mail_settings(imap_server, mail_imap_password="not-the-password"))
        )
        assert not wrong[1] and "login refused" in wrong[2] and "MAIL_IMAP_PASSWORD" in wrong[2]
        assert "not-the-password" not in wrong[2]

        folder = await mail_check_line(
            w.settings(**mail_settings(imap_server, mail_imap_folder="ConnectBooster"))
        )
        assert not folder[1] and "MAIL_IMAP_FOLDER" in folder[2] and "ConnectBooster" in folder[2]

        off = await mail_check_line(w.settings())
        assert off[1] and off[2].startswith("off")

        code = await run_checks(w.settings(**mail_settings(imap_server)), app_module.build_services)
        out = capsys.readouterr().out
        assert code == 0, out
        assert any(line.startswith("OK") and "E-mail triggers" in line for line in out.splitlines())
        assert PASSWORD not in out

        imap_server.stop()
        down = await mail_check_line(w.settings(**mail_settings(imap_server)))
        assert not down[1] and "not reachable" in down[2], down


# ---- the wake-up with several bots -------------------------------------------------------------


async def test_a_wake_up_skipped_by_another_poller_is_tried_again_soon(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(cycle_module, "WAKE_RETRY", 0.2)
    async with world(
        redis_url, redis_prefix, "credit-memo", bot_overrides={"poll_interval_seconds": 300}
    ) as w:
        s = w.services
        w.slack.rate_limit_enabled = False
        other = s.store.lease(cycle_module.LEASE_NAME, "another-bot", ttl=60)
        assert await other.acquire()  # another process is in the middle of a cycle
        skipped = s.metrics.poll_cycles.labels("skipped")
        s.start_background(run_poller(s, post_interval=0), name="poller")
        await wait_until(lambda: skipped._value.get() >= 1, 30, "the first cycle, skipped")

        s.wake_poller("a test")  # e.g. a Sync Failed e-mail this process handled
        await wait_until(lambda: skipped._value.get() >= 2, 10, "the woken cycle, skipped")
        await other.release()
        # the poll interval is 300 s: only the retry of the wake-up runs a cycle this soon
        await wait_until(lambda: cycles(s) >= 1, 10, "the woken cycle, tried again")
