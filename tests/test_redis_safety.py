"""Redis that cannot silently lose the books' state (issue 16).

- ``run`` and ``check`` refuse a Redis that may evict keys or keeps nothing on disk (exit
  status 4, a line saying what to change), and one whose ``CONFIG`` cannot be read unless
  ``REDIS_DURABILITY_CHECK=off``; each case on a ``redis-server`` of the test's own, started
  with and without the options (never the machine's shared Redis).
- A Redis that answers but lost the state (its keys flushed while the bot runs, or before a
  restart) is noticed by the state marker: one plain line in the log and in the alert
  channel, with what QuickBooks needs; the bot recovers from Slack (its messages' metadata)
  and posts no failure twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from cryptography.fernet import Fernet

import app as app_module
from bot.poll.cycle import poll_once, run_poller
from bot.store.durability import RedisNotDurable, read_durability, require_durable
from cli.check import EXIT_REDIS_UNSAFE, run_checks
from sandbox.scenarios import generate
from tests.harness import ALERT_CHANNEL, World, world
from tests.redis_server import RedisServer
from tests.test_poller import posted_ids
from tests.test_remedies_e2e import eventually
from tests.test_secrets_guard import no_secrets_in_logs  # noqa: F401 (the autouse scan)

# name -> (redis-server options, keeps the state, words the verdict must say)
SERVERS: dict[str, tuple[tuple[str, ...], bool, str]] = {
    "no-persistence": ((), False, "persistence is off"),
    "evicting": (
        ("--appendonly", "yes", "--maxmemory-policy", "allkeys-lru"),
        False,
        "maxmemory-policy is allkeys-lru",
    ),
    "aof": (("--appendonly", "yes"), True, "append-only file"),
    "rdb": (("--save", "900 1"), True, "RDB snapshots only"),
    "config-refused": (
        ("--appendonly", "yes", "--rename-command", "CONFIG", ""),
        False,
        "REDIS_DURABILITY_CHECK=off",
    ),
}


def start_server(options: tuple[str, ...]) -> RedisServer:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    return RedisServer(options=options).start()


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    srv = start_server(SERVERS[request.param][0])
    try:
        yield srv
    finally:
        srv.stop()
        shutil.rmtree(srv.workdir, ignore_errors=True)


# ---- refusing a Redis that could lose the state -----------------------------------------------


@pytest.mark.parametrize("server", list(SERVERS), indirect=True)
async def test_the_durability_verdict_of_each_redis(
    server: RedisServer, request: pytest.FixtureRequest
) -> None:
    name = request.node.callspec.params["server"]
    _options, keeps, words = SERVERS[name]
    client = aioredis.Redis.from_url(server.url)
    try:
        found = await read_durability(client)
        assert found.ok is keeps, found
        assert words in found.describe()
        if keeps:
            assert words in await require_durable(client)
        else:
            with pytest.raises(RedisNotDurable, match="lose the bot's state") as err:
                await require_durable(client)
            assert words in str(err.value)
        # the override skips the check, saying so
        assert "not checked" in await require_durable(client, check=False)
    finally:
        await client.aclose()


def _env(monkeypatch: pytest.MonkeyPatch, url: str, **extra: str) -> None:
    """The environment of ``python app.py run`` against ``url`` (and no ``.env``)."""
    for name in list(os.environ):
        if name.startswith(
            ("SLACK_", "QBO_", "CB_", "ALERT_", "FINANCE_", "REDIS_", "TOKEN_", "LOG_", "METRICS_")
        ):
            monkeypatch.delenv(name)
    values = {
        "SLACK_BOT_TOKEN": "xoxb-safety-test",
        "SLACK_SIGNING_SECRET": "safety-secret",
        "FAILED_PAYMENTS_CHANNEL": "C0FAILED",
        "ALERT_CHANNEL": "C0ALERTS",
        "FINANCE_USERS": "U0FINANCE1",
        "QBO_CLIENT_ID": "id",
        "QBO_CLIENT_SECRET": "secret",
        "QBO_REALM_ID": "9341453000000001",
        "CB_BASE_URL": "http://127.0.0.1:9/cb",
        "CB_API_KEY": "cb-key",
        "REDIS_URL": url,
        "REDIS_PREFIX": "fpsafety:",
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PORT": "9",
        **extra,
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)


@pytest.mark.parametrize("server", ["no-persistence", "evicting", "config-refused"], indirect=True)
def test_run_refuses_a_redis_that_could_lose_the_state(
    server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    """``python app.py run``: exit status 4 and one line saying what to change; nothing
    served, nothing polled."""
    words = SERVERS[request.node.callspec.params["server"]][2]
    monkeypatch.chdir(tmp_path)
    _env(monkeypatch, server.url)
    monkeypatch.setattr(app_module, "configure_logging", lambda *a, **kw: None)  # keep pytest's
    assert app_module.main(["run"]) == EXIT_REDIS_UNSAFE == 4
    err = capsys.readouterr().err
    assert "cannot start" in err and "lose the bot's state" in err and words in err


@pytest.mark.parametrize("server", ["config-refused"], indirect=True)
async def test_the_override_starts_on_a_redis_whose_config_cannot_be_read(
    server: RedisServer, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with world(server.url, redis_prefix, None, bots=0) as w:
        settings = w.settings(redis_durability_check="off")
        services = await app_module.build_services(settings)
        try:
            with caplog.at_level(logging.INFO):
                await app_module.check_redis_at_start(services)
            assert any(
                "not checked" in r.getMessage() and r.levelno == logging.WARNING
                for r in caplog.records
            )
            marker = await services.store.state_marker()
            assert marker is not None and marker.recovery == "unknown"  # first start
        finally:
            await services.aclose()


@pytest.mark.parametrize(
    ("server", "code"), [("aof", 0), ("no-persistence", 4)], indirect=["server"]
)
async def test_check_names_the_redis_durability(
    server: RedisServer, code: int, redis_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with world(server.url, redis_prefix, "credit-memo", bots=0) as w:
        settings = w.settings(redis_durability_check="on")
        assert await run_checks(settings, app_module.build_services) == code
    lines = capsys.readouterr().out.splitlines()
    durability = next(line for line in lines if "Redis durability" in line)
    if code == 0:
        assert durability.startswith("OK") and "append-only file" in durability
    else:
        assert durability.startswith("FAIL") and "appendonly yes" in durability
    assert any("Redis state" in line for line in lines)


# ---- a Redis that lost the state ----------------------------------------------------------------


async def flush_prefix(w: World) -> int:
    """What FLUSHALL (or eviction) does to the bot: every key under its prefix gone (from a
    client of the test's own, as an operator's would be)."""
    client = aioredis.Redis.from_url(w.redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{w.prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
    return len(keys)


async def all_recorded(w: World, expected: set[str]) -> bool:
    recs = await w.services.store.get_failures(sorted(expected))
    return len(recs) == len(expected) and all(r.slack is not None for r in recs)


def alerts(w: World) -> list[str]:
    return [m.text or "" for m in w.slack.messages(ALERT_CHANNEL)]


async def _short_sleep(seconds: float) -> None:
    await asyncio.sleep(min(seconds, 0.05))  # run_poller's pause between cycles, scaled down


@pytest.mark.parametrize("burst", [0, 30], ids=["top-level", "digest-thread"])
async def test_a_flush_while_the_bot_runs_posts_nothing_twice_and_says_so(
    redis_url: str, redis_prefix: str, burst: int, caplog: pytest.LogCaptureFixture
) -> None:
    async with world(
        redis_url,
        redis_prefix,
        "all-causes" if not burst else None,
        bot_overrides={"alert_min_payments": 100_000},
    ) as w:
        w.slack.rate_limit_enabled = False
        if burst:
            expected = set(generate(burst, w.qbo, w.cb, failure_share=1.0, days=6).failed_ids)
        else:
            assert w.scenario is not None
            expected = set(w.scenario.failed_ids)
        s = w.services
        s.start_background(run_poller(s, sleep=_short_sleep, post_interval=0), name="poller")
        await w.slack.wait_until(lambda: len(posted_ids(w)) >= len(expected), within=60)
        await eventually(lambda: all_recorded(w, expected), within=30)
        where = {
            r.payment_id: r.slack.ts
            for r in await s.store.get_failures(sorted(expected))
            if r.slack is not None
        }
        assert alerts(w) == []  # a first start is no loss

        with caplog.at_level(logging.INFO):
            assert await flush_prefix(w) > 0  # while the poller runs
            await w.slack.wait_until(lambda: len(alerts(w)) >= 1, within=30)
            await eventually(lambda: all_recorded(w, expected), within=60)
            cycles = s.metrics.poll_cycles.labels("ok")._value.get()
            await eventually(
                lambda: _after(s.metrics.poll_cycles.labels("ok")._value.get, cycles + 2), within=30
            )

        # no failure posted twice; each record points at its first message again
        assert Counter(posted_ids(w)) == Counter(dict.fromkeys(expected, 1))
        for rec in await s.store.get_failures(sorted(expected)):
            assert rec.slack is not None and rec.slack.ts == where[rec.payment_id]
        # one plain line, in the alert channel and the log, about QuickBooks too
        (line,) = alerts(w)
        assert "Redis lost" in line and "none is posted twice" in line
        assert "QuickBooks must be reconnected" in line and "python app.py qbo-connect" in line
        assert any(
            r.levelno == logging.ERROR
            and "Redis lost" in r.getMessage()
            and "qbo-connect" in r.getMessage()
            for r in caplog.records
        )
        marker = await s.store.state_marker()
        assert marker is not None and marker.recovery is None  # recovered


async def _after(read: Any, n: float) -> bool:
    return bool(read() >= n)


async def test_a_restart_after_the_state_was_lost_recovers_from_slack(
    redis_url: str, redis_prefix: str
) -> None:
    """No bot ran when the state went (a Redis without persistence restarted): the new
    process cannot know the marker, but Slack holds its messages from before the new one."""
    async with world(redis_url, redis_prefix, "all-causes") as w:
        w.slack.rate_limit_enabled = False
        assert w.scenario is not None
        expected = set(w.scenario.failed_ids)
        w.slack.clock = lambda: time.time() - 3600  # the messages went out an hour ago
        first = await poll_once(w.services, post_interval=0, check_alerts=False)
        w.slack.clock = time.time
        assert set(first.new) == expected and not first.state_lost and alerts(w) == []
        await w.stop_bot(w.bot)
        assert await flush_prefix(w) > 0
        bot = await w.start_bot()  # seeds the QuickBooks token from the settings again
        report = await poll_once(bot.services, post_interval=0, check_alerts=False)
        assert report.state_lost and sorted(report.adopted) == sorted(expected)
        assert report.top_level_posts == 0 and report.thread_posts == 0
        assert Counter(posted_ids(w)) == Counter(dict.fromkeys(expected, 1))
        (line,) = alerts(w)
        assert "Redis lost" in line and "stored again" in line and "qbo-connect" in line
        again = await poll_once(bot.services, post_interval=0, check_alerts=False)
        assert again.new == [] and not again.state_lost and len(alerts(w)) == 1


async def test_a_first_start_reads_slack_once_and_says_nothing(
    redis_url: str, redis_prefix: str
) -> None:
    async with world(redis_url, redis_prefix, "credit-memo") as w:
        report = await poll_once(w.services, post_interval=0, check_alerts=False)
        assert report.new and not report.adopted and not report.state_lost
        reads = len(w.slack.calls_to("conversations.history"))
        assert reads >= 1  # looked for messages already posted (none)
        marker = await w.services.store.state_marker()
        assert marker is not None and marker.recovery is None
        await poll_once(w.services, post_interval=0, check_alerts=False)
        assert len(w.slack.calls_to("conversations.history")) == reads  # not again
        assert alerts(w) == []
