"""Health for orchestrators, over real HTTP: ``/livez`` answers while the process serves;
``/readyz`` (and ``/healthz``, its old name) is 200 only when Redis answers, the Socket Mode
connection is up (in Socket Mode) and the poller's last good cycle is recent — otherwise 503
with a JSON body naming the part that is not ready; ``/metrics`` on its own port with
``METRICS_PORT``, with the process collector's metrics. ``python app.py run`` in Socket Mode
serves all of it on ``PORT`` and takes Slack's envelopes through the stand-in."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from bot.poll.cycle import LEASE_NAME, poll_once, run_poller
from bot.runtime.settings import SettingsError, load_settings
from handlers.health import POLL_STALE_INTERVALS
from tests.conftest import ROOT
from tests.harness import FAILED_CHANNEL, FINANCE_USER, Bot, World, world
from tests.redis_server import RedisServer, free_port
from tests.test_app_lifecycle import get_text, settings_env, wait_for
from tests.test_remedies_e2e import eventually


async def get_json(bot: Bot, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{bot.url}{path}") as resp:
        return resp.status, await resp.json()


@pytest.fixture
async def w(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> AsyncIterator[World]:
    async with world(redis_url, redis_prefix, None) as built:
        yield built


async def test_livez_and_readyz_in_http_mode(w: World) -> None:
    assert await get_json(w.bot, "/livez") == (200, {"ok": True})
    status, body = await get_json(w.bot, "/readyz")
    # no poller runs in this process (the harness starts none): no poll part
    assert (status, body) == (200, {"ok": True, "not_ready": [], "redis": "ok"})
    assert await get_json(w.bot, "/healthz") == (status, body)


async def test_readyz_is_503_while_redis_is_stopped_and_livez_stays_200(
    redis_prefix: str,
) -> None:
    own = RedisServer().start()
    try:
        async with world(own.url, redis_prefix, None) as w:
            assert (await get_json(w.bot, "/readyz"))[0] == 200
            own.stop()
            status, body = await get_json(w.bot, "/readyz")
            assert status == 503
            assert body["ok"] is False and body["not_ready"] == ["redis"]
            assert body["redis"] == "not answering"
            assert (await get_json(w.bot, "/healthz"))[0] == 503
            assert await get_json(w.bot, "/livez") == (200, {"ok": True})
            own.start()

            async def ready_again() -> bool:
                return (await get_json(w.bot, "/readyz"))[0] == 200

            await eventually(ready_again)
    finally:
        own.stop()


async def test_readyz_is_503_when_the_last_good_poll_is_too_old(w: World) -> None:
    s = w.services
    interval = s.settings.poll_interval_seconds
    real_clock = s.clock
    later = timedelta(seconds=(POLL_STALE_INTERVALS + 1) * interval)
    released = asyncio.Event()

    async def hold(_seconds: float) -> None:  # the poller sleeps until the test lets it go
        await released.wait()

    async def polled() -> bool:
        return s.last_poll_ok_at is not None

    s.start_background(run_poller(s, sleep=hold, post_interval=0), name="poller")
    await eventually(polled)
    status, body = await get_json(w.bot, "/readyz")
    assert (status, body["poll"]) == (200, "ok")

    s.clock = lambda: real_clock() + later  # the poller stalls for four intervals
    status, body = await get_json(w.bot, "/readyz")
    assert status == 503 and body["not_ready"] == ["poll"]
    assert "the last good poll cycle ended" in body["poll"]
    assert body["redis"] == "ok"

    # a cycle skipped because another process holds the poller lease is a good cycle too
    other = s.store.lease(LEASE_NAME, "another-process", ttl=60)
    assert await other.acquire()
    report = await poll_once(s, post_interval=0)
    assert report.skipped
    assert await get_json(w.bot, "/readyz") == (
        200,
        {"ok": True, "not_ready": [], "redis": "ok", "poll": "ok"},
    )
    await other.release()


async def test_readyz_before_the_first_good_poll_counts_from_the_poller_start(
    w: World,
) -> None:
    s = w.services
    s.poller_started_at = s.clock() - timedelta(
        seconds=POLL_STALE_INTERVALS * s.settings.poll_interval_seconds + 5
    )
    status, body = await get_json(w.bot, "/readyz")
    assert status == 503 and body["not_ready"] == ["poll"]
    assert "no poll cycle succeeded" in body["poll"]
    s.poller_started_at = s.clock()
    assert (await get_json(w.bot, "/readyz"))[0] == 200


async def test_readyz_in_socket_mode_says_when_the_connection_is_down(
    redis_url: str, redis_prefix: str
) -> None:
    async with world(redis_url, redis_prefix, None, socket_mode=True) as w:
        status, body = await get_json(w.bot, "/readyz")
        assert status == 200 and body["socket_mode"] == "ok"
        # Slack drops the connection and refuses new ones for now
        w.slack.inject_error("apps.connections.open", "internal_error", times=1000, status=500)
        [conn] = w.slack.socket_connections
        await conn.ws.close()

        async def down() -> bool:
            status, body = await get_json(w.bot, "/readyz")
            return status == 503 and body["not_ready"] == ["socket_mode"]

        await eventually(down)
        assert (await get_json(w.bot, "/readyz"))[1]["socket_mode"] == "not connected"
        assert await get_json(w.bot, "/livez") == (200, {"ok": True})


def test_metrics_port_must_differ_from_port() -> None:
    required = {
        "slack_bot_token": "xoxb-t",
        "slack_signing_secret": "s",
        "failed_payments_channel": "C1",
        "alert_channel": "C2",
        "finance_users": "U1",
        "qbo_client_id": "id",
        "qbo_client_secret": "s",
        "qbo_realm_id": "1",
        "cb_base_url": "http://cb.test",
        "cb_api_key": "k",
    }
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, port=3000, metrics_port=3000, **required)
    assert any("METRICS_PORT must differ from PORT" in line for line in caught.value.lines)
    assert (
        load_settings(_env_file=None, port=3000, metrics_port=9100, **required).metrics_port == 9100
    )


@pytest.fixture
async def stand_ins(redis_url: str, redis_prefix: str) -> AsyncIterator[World]:
    async with world(redis_url, redis_prefix, "credit-memo", bots=0) as built:
        built.slack.rate_limit_enabled = False
        yield built


async def test_run_in_socket_mode_serves_health_on_port_and_metrics_apart(
    stand_ins: World, tmp_path: Path
) -> None:
    """``python app.py run`` with SLACK_APP_TOKEN and METRICS_PORT: health on PORT while
    connected to the stand-in over Socket Mode, /metrics only on METRICS_PORT, a command
    over the socket answered, and a clean stop that does not reconnect."""
    w = stand_ins
    port, metrics_port = free_port(), free_port()
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "QBO_", "CB_", "FINANCE_", "REDIS_", "TOKEN_"))
    }
    settings = w.settings(slack_app_token=w.slack.app_token)
    env = {
        **base,
        **settings_env(
            settings, PORT=str(port), METRICS_PORT=str(metrics_port), REDIS_DURABILITY_CHECK="off"
        ),
    }  # the tests' Redis keeps nothing
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "app.py"),
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    url, metrics_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def live() -> bool:
                if proc.returncode is not None:
                    assert proc.stderr is not None
                    raise AssertionError((await proc.stderr.read()).decode()[-2000:])
                return (await get_text(http, f"{url}/livez"))[0] == 200

            await wait_for(live, 30, "/livez")

            async def ready() -> bool:
                status, body = await get_text(http, f"{url}/readyz")
                return status == 200 and '"socket_mode": "ok"' in body and '"poll": "ok"' in body

            await wait_for(ready, 30, "/readyz with the socket up and a first poll")
            env_ = await w.slack.socket_command(
                "/failed-payments", "list", user_id=FINANCE_USER, channel_id=FAILED_CHANNEL
            )
            assert env_.in_time
            await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER)), within=15)

            async def counted() -> bool:  # the first poll cycle, on the metrics port
                status, body = await get_text(http, f"{metrics_url}/metrics")
                return status == 200 and 'failed_payments_poll_cycles_total{result="ok"}' in body

            await wait_for(counted, 30, "the first poll cycle on /metrics")
            _, metrics = await get_text(http, f"{metrics_url}/metrics")
            assert "process_cpu_seconds_total" in metrics
            assert "process_resident_memory_bytes" in metrics
            assert (await get_text(http, f"{url}/metrics"))[0] == 404
            assert (await get_text(http, f"{metrics_url}/readyz"))[0] == 404
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.stderr is not None
    err = (await proc.stderr.read()).decode()
    assert code == 0, err[-2000:]
    assert "connected to Slack in Socket Mode" in err and "Traceback" not in err
    assert w.slack.app_token not in err and settings.slack_bot_token.get_secret_value() not in err
    assert w.slack.ack_problems() == []
    [conn] = w.slack.socket_connections  # closed at the stop, never reopened
    await w.slack.wait_until(lambda: conn.closed_at is not None)
    assert len(w.slack.calls_to("apps.connections.open")) == 1
