"""``python app.py check``: one line per service, OK or why not, never a secret."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import app as app_module
from cli.check import EXIT_REDIS_UNSAFE, run_checks
from sandbox.slack import BOT_USER_ID
from tests.harness import (
    ALERT_CHANNEL,
    BOT_TOKEN,
    CB_KEY,
    FAILED_CHANNEL,
    FINANCE_USER,
    FINANCE_USER_2,
    OUTSIDER,
    World,
    world,
)


@pytest.fixture
async def stand_ins(redis_url: str, redis_prefix: str) -> AsyncIterator[World]:
    async with world(redis_url, redis_prefix, "credit-memo", bots=0) as w:
        yield w


async def test_every_service_answers(stand_ins: World, capsys: pytest.CaptureFixture[str]) -> None:
    code = await run_checks(stand_ins.settings(), app_module.build_services)
    out = capsys.readouterr().out
    assert code == 0, out
    for name in ("settings", "Redis", "Slack", "QuickBooks", "ConnectBooster"):
        assert any(line.startswith("OK") and name in line for line in out.splitlines()), name
    assert "Sandbox MSP" in out or "company" in out


async def test_a_service_that_does_not_answer_is_named(
    stand_ins: World, capsys: pytest.CaptureFixture[str]
) -> None:
    stand_ins.cb.outage = True
    settings = stand_ins.settings(slack_bot_token="xoxb-wrong-token-value")
    code = await run_checks(settings, app_module.build_services)
    out = capsys.readouterr().out
    assert code == 1
    lines = out.splitlines()
    assert any(line.startswith("FAIL") and "ConnectBooster" in line for line in lines), out
    assert any(
        line.startswith("FAIL") and "Slack" in line and "SLACK_BOT_TOKEN" in line for line in lines
    ), out
    assert any(line.startswith("OK") and "QuickBooks" in line for line in lines), out
    for secret in (BOT_TOKEN, CB_KEY, "xoxb-wrong-token-value"):
        assert secret not in out


# ---- who reads the amounts: the channels' privacy and members -------------------------------


def _channel_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "Slack channel" in line]


async def test_channels_private_to_finance_are_ok(
    stand_ins: World, capsys: pytest.CaptureFixture[str]
) -> None:
    slack = stand_ins.slack
    slack.private_channels |= {FAILED_CHANNEL, ALERT_CHANNEL}
    slack.channel_members[FAILED_CHANNEL] = [FINANCE_USER, FINANCE_USER_2, BOT_USER_ID]
    slack.channel_members[ALERT_CHANNEL] = [FINANCE_USER_2, BOT_USER_ID]
    # finance named by the user group only: its members count as finance
    settings = stand_ins.settings(finance_users=[], finance_usergroup="S0FINANCE")
    code = await run_checks(settings, app_module.build_services)
    out = capsys.readouterr().out
    lines = _channel_lines(out)
    assert len(lines) == 2, out
    assert lines[0].startswith("OK") and f"FAILED_PAYMENTS_CHANNEL {FAILED_CHANNEL}" in lines[0]
    assert "private" in lines[0] and "3 member(s)" in lines[0]
    assert lines[1].startswith("OK") and f"ALERT_CHANNEL {ALERT_CHANNEL}" in lines[1]
    assert "FAIL  Slack" not in out
    assert code in (0, EXIT_REDIS_UNSAFE)  # the channels never fail a check that passes


async def test_public_channels_and_outsiders_are_named(
    stand_ins: World, capsys: pytest.CaptureFixture[str]
) -> None:
    slack = stand_ins.slack
    slack.private_channels.add(FAILED_CHANNEL)
    slack.channel_members[FAILED_CHANNEL] = [FINANCE_USER, OUTSIDER, BOT_USER_ID]
    outsiders = [f"U0MEMBER{n:04d}" for n in range(1500)]  # two pages of members
    slack.channel_members[ALERT_CHANNEL] = [FINANCE_USER_2, *outsiders]
    await run_checks(stand_ins.settings(), app_module.build_services)
    out = capsys.readouterr().out
    failed, alerts = _channel_lines(out)
    assert failed.startswith("WARN") and "private, but 1 member(s) outside finance" in failed
    assert OUTSIDER in failed and FINANCE_USER not in failed and BOT_USER_ID not in failed
    assert alerts.startswith("WARN") and "public: anyone in the workspace" in alerts
    assert "1500 member(s) outside finance" in alerts and "and 1490 more" in alerts
    assert len(slack.calls_to("conversations.members")) == 3  # 1 + 2 pages


async def test_a_channel_the_bot_cannot_see_fails_the_check(
    stand_ins: World, capsys: pytest.CaptureFixture[str]
) -> None:
    slack = stand_ins.slack
    slack.inject_error("conversations.info", "channel_not_found")
    slack.inject_error("conversations.info", "missing_scope")
    code = await run_checks(stand_ins.settings(), app_module.build_services)
    out = capsys.readouterr().out
    failed, alerts = _channel_lines(out)
    assert failed.startswith("FAIL") and "channel_not_found" in failed and "invite" in failed
    assert alerts.startswith("WARN") and "channels:read and groups:read" in alerts
    assert code != 0


async def test_an_answer_that_is_not_json_is_a_line_not_a_crash(
    stand_ins: World, capsys: pytest.CaptureFixture[str]
) -> None:
    slack = stand_ins.slack
    slack.inject_unreadable(
        "conversations.info",
        "<html>Bad Gateway</html>",
        status=502,
        content_type="application/json",
    )
    slack.inject_unreadable("conversations.members", "upstream reset", status=503)
    await run_checks(stand_ins.settings(), app_module.build_services)
    failed, alerts = _channel_lines(capsys.readouterr().out)
    assert failed.startswith("WARN") and "HTTP 502" in failed
    assert alerts.startswith("WARN") and "HTTP 503" in alerts


async def test_auth_test_answering_html_is_a_failed_line(
    stand_ins: World, capsys: pytest.CaptureFixture[str]
) -> None:
    stand_ins.slack.inject_unreadable(
        "auth.test", "<html>oops</html>", status=503, content_type="application/json"
    )
    code = await run_checks(stand_ins.settings(), app_module.build_services)
    out = capsys.readouterr().out
    assert code != 0
    assert any(
        line.startswith("FAIL") and "auth.test answered HTTP 503" in line
        for line in out.splitlines()
    ), out
    assert not _channel_lines(out)
