"""``check`` with the payment gateway as a source (issue 15): which sources are on; the
gateway reached, its key accepted, sales in the last 7 days and how many are ConnectBooster's;
a refused key, malformed XML or a 429 each a clear failed line, never the key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import app as app_module
from cli.check import run_checks
from tests.harness import World, world
from tests.test_gateway_mode import gateway_settings


@pytest.fixture
async def w(redis_url: str, redis_prefix: str) -> AsyncIterator[World]:
    async with world(redis_url, redis_prefix, "all-causes", bots=0) as w:
        yield w


def lines(out: str, name: str) -> list[str]:
    return [line for line in out.splitlines() if f"  {name}:" in line]


async def test_gateway_mode_says_its_sources_and_what_the_gateway_shows(
    w: World, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = w.settings(**gateway_settings(w, gateway_cb_usernames="connectbooster"))
    code = await run_checks(settings, app_module.build_services)
    out = capsys.readouterr().out
    assert code == 0, out
    assert lines(out, "Sources") == ["OK    Sources: gateway"]
    [gw] = lines(out, "Gateway")
    assert gw.startswith("OK") and "reached, key accepted;" in gw
    assert "sales in the last 7 days" in gw and "made by connectbooster (ConnectBooster's)" in gw
    assert not lines(out, "ConnectBooster")  # the contract is not set up: no line for it


async def test_both_sources(w: World, capsys: pytest.CaptureFixture[str]) -> None:
    gw = gateway_settings(w)
    both = {k: v for k, v in gw.items() if not k.startswith("cb_")}
    code = await run_checks(w.settings(**both), app_module.build_services)
    out = capsys.readouterr().out
    assert code == 0, out
    assert lines(out, "Sources") == ["OK    Sources: ConnectBooster contract and gateway"]
    assert lines(out, "ConnectBooster")[0].startswith("OK")
    assert "all counted as ConnectBooster's" in lines(out, "Gateway")[0]


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("key", "refused the bot's security key"),
        ("malformed", "answer could not be read"),
        ("429", "did not answer"),
        ("other-user", "no sale in the last 7 days"),
    ],
)
async def test_a_bad_gateway_is_a_failed_line(
    w: World, capsys: pytest.CaptureFixture[str], bad: str, words: str
) -> None:
    gw = w.stand_ins.gateway
    assert gw is not None
    extra: dict[str, Any] = {}
    if bad == "key":
        extra["gateway_security_key"] = "a-wrong-key-0000"
    elif bad == "malformed":
        gw.inject("malformed")
    elif bad == "429":
        gw.inject("429", "429")
    else:
        gw.portal = None  # the key's user sees none of ConnectBooster's sales
    code = await run_checks(
        w.settings(**{**gateway_settings(w), **extra}), app_module.build_services
    )
    out = capsys.readouterr().out
    assert code == 1
    [line] = lines(out, "Gateway")
    assert line.startswith("FAIL") and words in line, line
    assert gw.security_key not in out and "a-wrong-key-0000" not in out
