"""The bot as an operator runs it: ``python app.py run`` in HTTP mode serves ``/healthz``
and ``/metrics``, polls, and stops cleanly on SIGTERM; ``/metrics`` counts what happened."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.models import FailureStatus, RemedyKind
from bot.runtime.settings import Settings
from tests.conftest import ROOT
from tests.harness import World, world
from tests.redis_server import free_port
from tests.test_remedies_e2e import click, seed, until_status


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that configures ``python app.py`` like ``settings``."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list):
            value = ",".join(value)
        env[name.upper()] = str(value)
    env.update(extra)
    return env


async def get_text(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    try:
        async with session.get(url) as resp:
            return resp.status, await resp.text()
    except aiohttp.ClientConnectionError:
        return 0, ""


async def wait_for(check: Any, within: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, f"{what}: not within {within}s"
        await asyncio.sleep(0.1)


@pytest.fixture
async def stand_ins(redis_url: str, redis_prefix: str) -> AsyncIterator[World]:
    async with world(redis_url, redis_prefix, "credit-memo", bots=0) as w:
        w.slack.rate_limit_enabled = False
        yield w


async def test_run_serves_health_and_metrics_polls_and_stops_on_sigterm(
    stand_ins: World, tmp_path: Any
) -> None:
    port = free_port()
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "QBO_", "CB_", "FINANCE_", "REDIS_", "TOKEN_"))
    }
    env = {**base, **settings_env(stand_ins.settings(), PORT=str(port))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "app.py"),
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def healthy() -> bool:
                status, body = await get_text(http, f"{url}/healthz")
                return status == 200 and '"ok": true' in body

            await wait_for(healthy, 30, "/healthz")

            async def posted() -> bool:  # the poller runs at start-up
                return bool(stand_ins.slack.messages("C0FAILED"))

            await wait_for(posted, 30, "the failure message")

            async def counted() -> bool:
                status, body = await get_text(http, f"{url}/metrics")
                return status == 200 and 'failed_payments_open{cause="credit-memo"} 1.0' in body

            await wait_for(counted, 10, "the open-failures gauge")
            _, metrics = await get_text(http, f"{url}/metrics")
            assert 'failed_payments_upstream_calls_total{service="qbo"' in metrics
            assert 'failed_payments_upstream_calls_total{service="connectbooster"' in metrics
            assert 'failed_payments_upstream_latency_seconds_count{service="slack"}' in metrics
            assert "failed_payments_posted_total 1.0" in metrics
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.stderr is not None
    err = (await proc.stderr.read()).decode()
    assert code == 0, err[-2000:]
    assert "stopping" in err and "Traceback" not in err
    assert re.search(r"heap settled: [1-9]\d* objects", err)  # bot.runtime.heap, once serving
    assert stand_ins.settings().slack_bot_token.get_secret_value() not in err


async def test_metrics_count_remedies_by_kind_and_result(redis_url: str, redis_prefix: str) -> None:
    async with world(redis_url, redis_prefix, "all-causes") as w:
        rec = (await seed(w, ["paid-manually"]))["paid-manually"]
        await click(w, rec, RemedyKind.DISMISS_SYNC)
        await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
        async with aiohttp.ClientSession() as http:
            status, body = await get_text(http, f"{w.bot.url}/metrics")
        assert status == 200
        assert 'failed_payments_remedies_total{kind="dismiss_sync",result="ok"} 1.0' in body
        assert 'failed_payments_open{cause="paid-manually"} 0.0' in body
