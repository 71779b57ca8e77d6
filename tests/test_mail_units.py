"""The e-mail triggers' pure parts: settings, recognising a notification, the hints in its
body, parsing e-mails, reading FETCH answers, the alert's Block Kit, the reconnect backoff."""

from __future__ import annotations

import asyncio
import os
import random
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.mail.recognise import MailKind, Patterns, classify, find_hints
from bot.mail.watch import BACKOFF_CAP, backoff, mail_patterns
from bot.runtime.settings import SettingsError, load_settings
from bot.slack.blocks.mail import mail_alert_message
from mail import MailMessage, parse_message
from mail.client import MailboxConfig, fetched, quote
from sandbox.slack import validate_blocks
from tests.test_settings import REQUIRED

NOW = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(os.environ):
        if name.startswith(("SLACK_", "QBO_", "CB_", "MAIL_", "FINANCE_", "REDIS_", "TOKEN_")):
            monkeypatch.delenv(name)
    for k, v in REQUIRED.items():
        monkeypatch.setenv(k, v)
    return monkeypatch


def message(
    subject: str, sender: str = "ConnectBooster <no-reply@connectbooster.com>"
) -> MailMessage:
    return MailMessage(
        uid=1, uidvalidity=7, message_id="<a@b>", sender=sender, subject=subject, date=None, text=""
    )


# ---- settings --------------------------------------------------------------------------------


def test_mail_settings_are_off_by_default_with_documented_defaults(env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert not s.mail_enabled and s.mail_imap_host is None
    assert (s.mail_imap_port, s.mail_imap_tls, s.mail_imap_folder) == (993, True, "INBOX")
    env.setenv("MAIL_IMAP_HOST", "imap.example.com")
    env.setenv("MAIL_IMAP_USER", "finance@example.com")
    env.setenv("MAIL_IMAP_PASSWORD", "mailbox-secret-value")
    env.setenv("MAIL_IMAP_TLS", "false")
    s = load_settings()
    assert s.mail_enabled and not s.mail_imap_tls
    assert "mailbox-secret-value" not in repr(s)


def test_a_host_without_a_login_or_a_bad_pattern_is_named(env: pytest.MonkeyPatch) -> None:
    env.setenv("MAIL_IMAP_HOST", "imap.example.com")
    env.setenv("MAIL_SYNC_FAILED_PATTERN", "(unclosed")
    with pytest.raises(SettingsError) as err:
        load_settings()
    text = "\n".join(err.value.lines)
    assert "MAIL_SYNC_FAILED_PATTERN: is not a regular expression" in text
    env.setenv("MAIL_SYNC_FAILED_PATTERN", "(?i)sync failed")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "MAIL_IMAP_USER and MAIL_IMAP_PASSWORD must be set" in "\n".join(err.value.lines)


# ---- recognising -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "kind"),
    [
        ("Sync Failed", MailKind.SYNC_FAILED),
        ("[ConnectBooster] Payment sync failed for Acme", MailKind.SYNC_FAILED),
        ("SYNC DISABLED - QuickBooks Online", MailKind.SYNC_DISABLED),
        ("Sync has been disabled", MailKind.SYNC_DISABLED),
        ("Sync Not Running", MailKind.SYNC_NOT_RUNNING),
        ("Your sync is not running", MailKind.SYNC_NOT_RUNNING),
        ("Payment Made", None),
        ("Daily Summary", None),
        ("Resync failed? No: resynced", None),
    ],
)
def test_default_patterns_read_the_subjects(
    env: pytest.MonkeyPatch, subject: str, kind: MailKind | None
) -> None:
    assert classify(message(subject), mail_patterns(load_settings())) == kind


def test_the_sender_pattern_keeps_other_mail_out() -> None:
    patterns = Patterns.of(
        sender=r"(?i)@connectbooster\.com>?$",
        sync_failed=r"(?i)sync failed",
        sync_disabled=r"(?i)sync disabled",
        sync_not_running=r"(?i)not running",
    )
    assert classify(message("Sync Failed"), patterns) is MailKind.SYNC_FAILED
    assert classify(message("Sync Failed", sender="Phone <backup@phone.test>"), patterns) is None


def test_hints_find_references_in_any_spelling_and_amounts() -> None:
    hints = find_hints(
        "Payment CB10234 ($1,250.00) and cb-10235 of USD 99.50 failed; CB#10234 again. "
        "Invoice 4411 on 2024-11-03, phone 555-0100, ABCB1234 is no reference."
    )
    assert hints.references == ["CB10234", "CB10235"]
    assert hints.amounts == [Decimal("1250.00"), Decimal("99.50")]
    assert hints.describe() == "CB10234, CB10235; 1250.00, 99.50"
    assert find_hints("nothing here").describe() == "none"


# ---- parsing -----------------------------------------------------------------------------------


def test_parse_reads_plain_html_and_broken_mail() -> None:
    html_only = (
        b"From: ConnectBooster <n@connectbooster.com>\r\nSubject: Sync Failed\r\n"
        b"Date: Tue, 03 Nov 2026 09:00:00 -0500\r\nMessage-ID: <m1@cb>\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><style>p{}</style><p>Payment <b>CB10234</b> &amp; $5.00</p></html>\r\n"
    )
    m = parse_message(3, 9, html_only)
    assert (m.uid, m.uidvalidity, m.message_id, m.subject) == (3, 9, "<m1@cb>", "Sync Failed")
    assert m.date == datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
    assert "Payment CB10234 & $5.00" in m.text and "p{}" not in m.text

    broken = (
        b"Subject: =?bogus?Q?x?=\r\nDate: not a date\r\n"
        b"Content-Type: text/plain; charset=nope\r\n\r\n\xff\xfeok"
    )
    b = parse_message(4, 9, broken)
    assert b.date is None and b.sender == "" and "ok" in b.text

    headers = parse_message(5, 9, html_only, headers_only=True)
    assert headers.text == "" and headers.subject == "Sync Failed"


def test_fetched_reads_the_uid_before_or_after_the_literal() -> None:
    data = [
        (b"1 (UID 12 BODY[HEADER] {5}", b"abcde"),
        b")",
        (b"2 (BODY[HEADER] {3}", b"xyz"),
        b" UID 15)",
        b"garbage",
    ]
    assert fetched(data) == {12: b"abcde", 15: b"xyz"}
    assert quote('My "Folder"\\x') == '"My \\"Folder\\"\\\\x"'


def test_the_config_never_shows_the_password() -> None:
    from pydantic import SecretStr

    c = MailboxConfig(host="h", user="u", password=SecretStr("pw-value-123"))
    assert "pw-value-123" not in repr(c) and "pw-value-123" not in c.where


# ---- the alert -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(MailKind))
def test_alert_blocks_fit_slack_and_escape_the_mail(kind: MailKind) -> None:
    text, blocks = mail_alert_message(
        kind,
        subject="Sync Disabled <!channel> & co " + "x" * 400,
        sender="ConnectBooster <n@cb.com>",
        sent_at=NOW,
        body="line one <@U123>\n\n" + "long " * 2000,
        now=NOW,
    )
    assert validate_blocks(blocks) == []
    raw = str(blocks)
    assert "<!channel>" not in raw and "&lt;!channel&gt;" in raw and "<@U123>" not in raw
    assert text.startswith("ConnectBooster: Sync Disabled")
    _t, bare = mail_alert_message(kind, subject="", sender="", sent_at=None, body="", now=NOW)
    assert validate_blocks(bare) == [] and "(no subject)" in str(bare)


def test_backoff_grows_from_the_poll_interval_to_the_cap() -> None:
    rng = random.Random(1)
    assert 0.15 <= backoff(1, 0.2, rng) <= 0.2
    assert 0.75 <= backoff(1, 15, rng) <= 1.0
    assert BACKOFF_CAP * 0.75 <= backoff(30, 15, rng) <= BACKOFF_CAP


async def test_a_wake_up_cuts_the_pollers_rest_short() -> None:
    from types import SimpleNamespace

    from bot.poll.cycle import _rest

    services: Any = SimpleNamespace(poll_now=asyncio.Event(), poll_now_reason=None)
    slept: list[float] = []
    resting_now = asyncio.Event()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        resting_now.set()
        await asyncio.Event().wait()  # the interval, never over by itself

    resting = asyncio.create_task(_rest(services, sleep, 300))
    await asyncio.wait_for(resting_now.wait(), 5)
    services.poll_now_reason = "a test"
    services.poll_now.set()
    await asyncio.wait_for(resting, 5)
    assert slept == [300] and not services.poll_now.is_set()

    services.poll_now.set()  # asked during a cycle: the next one starts without resting
    await asyncio.wait_for(_rest(services, sleep, 300), 5)
    assert slept == [300] and not services.poll_now.is_set()
