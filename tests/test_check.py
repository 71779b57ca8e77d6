"""``python app.py check``: one line per service, OK or why not, never a secret."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import app as app_module
from cli.check import run_checks
from tests.harness import BOT_TOKEN, CB_KEY, World, world


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
    assert any(line.startswith("FAIL") and "Slack" in line and "SLACK_BOT_TOKEN" in line
               for line in lines), out
    assert any(line.startswith("OK") and "QuickBooks" in line for line in lines), out
    for secret in (BOT_TOKEN, CB_KEY, "xoxb-wrong-token-value"):
        assert secret not in out
