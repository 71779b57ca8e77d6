"""Shared parts of the benchmarks that measure the bot as it runs in production: three
processes on loopback.

- **the stand-ins** (``python -m bench.common standins [--scenario S]``): the QBO,
  ConnectBooster and Slack stand-ins, plus a small control API under ``/bench/`` on the Slack
  stand-in (build a click as Slack would, mint a ``response_url``, report when a reply reached
  one). It prints one JSON line with its URLs and runs until its stdin closes.
- **the bot** (``python -m bench.common bot``): the bot's own process, wired by
  ``app.build_services`` / ``build_bolt_app`` / ``build_web_app`` from settings in the
  environment, logging as ``app.py run`` does, serving HTTP on ``PORT``. It is ``app.py run``
  without the poller (the benchmarks seed Redis themselves and must not see it change under
  them) and without Socket Mode. QuickBooks' 40 batch calls a minute are scaled up
  (``BENCH_BATCH_CALLS_PER_MINUTE``) like the stand-ins' pace: ``bench_ack`` runs 50 Re-checks
  at once after every round (each reads the facts again), which the real limit would spread
  over minutes; the acks it measures do not touch QuickBooks.
- **the benchmark** (the caller): sends signed requests as Slack does and times them.

``time.monotonic()`` is the system-wide ``CLOCK_MONOTONIC`` on Linux, so a time taken in the
stand-ins' process (a reply reaching a ``response_url``) compares with one taken here.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import hmac
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

if TYPE_CHECKING:
    from sandbox.stand_ins import StandIns

RESULTS = Path(".bench-results")
REALM = "9341453000000001"
SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-bot-token"
CB_KEY = "cb-bench-key"
FINANCE_USER = "U0FINANCE1"
FINANCE_USER_2 = "U0FINANCE2"
FAILED_CHANNEL = "C0FAILED"
ALERT_CHANNEL = "C0ALERTS"


# -- figures ------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank (p99 of 250 samples is the 3rd
    slowest)."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered) - 1e-9) - 1))
    return ordered[k]


def stats(xs: list[float]) -> dict[str, float]:
    """n, p50, p95, p99 and max of ``xs`` (ms), rounded to 0.1 ms."""
    return {
        "n": len(xs),
        "p50": round(statistics.median(xs), 1),
        "p95": round(percentile(xs, 0.95), 1),
        "p99": round(percentile(xs, 0.99), 1),
        "max": round(max(xs), 1),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign(body: bytes, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """The headers Slack sends with ``body``: content type and the v0 signature."""
    ts = str(int(time.time()))
    sig = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={sig}",
    }


# -- the stand-ins' process -----------------------------------------------------------------------
async def _standins(scenario: str | None) -> None:
    from functools import partial

    from sandbox import scenarios
    from sandbox.stand_ins import Populate, start_stand_ins

    populate: str | Populate | None = scenario
    if scenario is not None and scenario.startswith("generate:"):
        # ``generate:N``: N payments of the last 6 days, about 90 % of them failing
        populate = partial(
            scenarios.generate, int(scenario.split(":")[1]), failure_share=0.9, days=6
        )
    stand_ins = await start_stand_ins(
        cb_api_key=CB_KEY,
        signing_secret=SIGNING_SECRET,
        bot_token=BOT_TOKEN,
        realm_id=REALM,
        scenario=populate,
        slack_app=_control_app,
    )
    print(
        json.dumps(
            {
                "qbo_url": stand_ins.qbo_url,
                "cb_url": stand_ins.cb_url,
                "slack_url": stand_ins.slack_url,
                "qbo_client_id": stand_ins.qbo.client_id,
                "qbo_client_secret": stand_ins.qbo.client_secret,
                "qbo_refresh_token": stand_ins.qbo.issue_refresh_token(REALM),
            }
        ),
        flush=True,
    )
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the benchmark goes away
    await stand_ins.close()


def _control_app(stand_ins: StandIns) -> web.Application:
    """The Slack stand-in's app plus the benchmarks' control API under ``/bench/``."""
    slack, cb = stand_ins.slack, stand_ins.cb
    slack.usergroups["S0FINANCE"] = [FINANCE_USER, FINANCE_USER_2]
    slack.rate_limit_enabled = False  # the benchmarks measure the bot, not Slack's pacing
    expected = sorted(stand_ins.world.failed_ids) if stand_ins.world is not None else []
    arrived: dict[str, tuple[float, str]] = {}
    changed = asyncio.Event()

    @web.middleware
    async def timing(request: web.Request, handler: Any) -> web.StreamResponse:
        resp = await handler(request)
        if request.path.startswith("/response_url/"):
            rid = request.match_info.get("rid", "")
            try:
                text = str((await request.json()).get("text", ""))
            except ValueError:
                text = ""
            arrived.setdefault(rid, (time.monotonic(), text))
            changed.set()
        return resp

    async def scenario_ids(_r: web.Request) -> web.Response:
        return web.json_response({"failed": expected, "payments": list(cb.payments)})

    async def clicks(request: web.Request) -> web.Response:
        """Form bodies of clicks as Slack sends them: a list of {channel, ts, action_id,
        block_id, value, user}."""
        out = []
        for c in await request.json():
            msg = slack.message(c["channel"], c["ts"])
            payload = {
                "type": "block_actions",
                "user": {"id": c["user"], "username": c["user"].lower(), "team_id": "T0SANDBOX"},
                "api_app_id": "A0SANDBOX",
                "token": "sandbox-verification-token",
                "container": {
                    "type": "message",
                    "message_ts": c["ts"],
                    "channel_id": c["channel"],
                    "is_ephemeral": False,
                },
                "trigger_id": slack.mint_trigger_id(),
                "team": {"id": "T0SANDBOX", "domain": "sandbox"},
                "channel": {"id": c["channel"], "name": "failed-payments"},
                "response_url": slack.response_url_for(c["channel"], c["user"], c["ts"]),
                "actions": [
                    {
                        "type": "button",
                        "action_id": c["action_id"],
                        "block_id": c["block_id"],
                        "value": c["value"],
                        "action_ts": f"{time.time():.6f}",
                    }
                ],
                "message": msg.to_slack() if msg is not None else None,
            }
            out.append(urlencode({"payload": json.dumps(payload)}))
        return web.json_response(out)

    async def response_urls(request: web.Request) -> web.Response:
        """``n`` fresh response URLs for ``user`` in ``channel``."""
        q = await request.json()
        urls = [slack.response_url_for(q["channel"], q["user"]) for _ in range(int(q["n"]))]
        return web.json_response([{"url": u, "rid": u.rsplit("/", 1)[1]} for u in urls])

    async def wait(request: web.Request) -> web.Response:
        """Long poll: when each of ``rids`` was answered (monotonic seconds, reply text)."""
        q = await request.json()
        rids, deadline = list(q["rids"]), time.monotonic() + float(q.get("within", 30))
        while not all(r in arrived for r in rids) and time.monotonic() < deadline:
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), deadline - time.monotonic())
        return web.json_response({r: arrived.get(r) for r in rids})

    async def next_page(request: web.Request) -> web.Response:
        """Click Next on ``user``'s newest ephemeral list; ms until it was replaced."""
        from bot.slack.ids import ActionId

        q = await request.json()
        e = slack.ephemeral(q["user"])[-1]
        replaced = e.replaced
        t0 = time.monotonic()
        await slack.click(
            q["bot"],
            message_ts=e.ts,
            channel=e.channel,
            action_id=ActionId.LIST_NEXT.value,
            user_id=q["user"],
        )
        await slack.wait_until(lambda: e.replaced > replaced, within=30)
        return web.json_response({"ms": (time.monotonic() - t0) * 1000})

    app = slack.make_app()
    app.middlewares.append(timing)
    app.router.add_get("/bench/scenario", scenario_ids)
    app.router.add_post("/bench/clicks", clicks)
    app.router.add_post("/bench/response-urls", response_urls)
    app.router.add_post("/bench/wait", wait)
    app.router.add_post("/bench/next", next_page)
    return app


# -- the bot's process ----------------------------------------------------------------------------
BENCH_BATCH_CALLS_PER_MINUTE = 4000
"""QuickBooks' 40 batch calls a minute, scaled up for the benchmarks (see the module doc)."""


def scale_qbo_batch_limit(services: Any) -> None:
    """Give the bot's QuickBooks client the scaled batch limit, in process and shared."""
    from qb.limits import Limits
    from qb.shared_limits import RedisLimits, limits_key

    s = services.settings
    services.qbo.limits = Limits(
        max_in_flight=s.qbo_max_in_flight,
        per_window=s.qbo_requests_per_minute,
        batch_per_window=BENCH_BATCH_CALLS_PER_MINUTE,
        window_seconds=60.0,
        stats=services.qbo.limits.stats,
        shared=RedisLimits(
            services.redis,
            limits_key(s.redis_prefix, s.qbo_realm_id),
            max_in_flight=s.qbo_max_in_flight,
            per_window=s.qbo_requests_per_minute,
            batch_per_window=BENCH_BATCH_CALLS_PER_MINUTE,
        ),
    )


async def _bot() -> None:
    import app as app_module
    from bot.runtime.heap import settle_heap
    from bot.runtime.settings import load_settings

    settings = load_settings()
    services = await app_module.build_services(settings, instance="bench-bot")
    scale_qbo_batch_limit(services)
    bolt = app_module.build_bolt_app(services)
    runner = web.AppRunner(app_module.build_web_app(bolt, services))  # as app.serve does
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.port).start()
    settle_heap()  # as app.serve does once it serves
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await services.drain()
    await services.aclose()


def _bot_main() -> None:
    from app import _load_or_exit
    from bot.runtime.logs import configure_logging

    settings = _load_or_exit()
    secrets = [
        s.get_secret_value()
        for s in (
            settings.slack_bot_token,
            settings.slack_signing_secret,
            settings.qbo_client_secret,
            settings.qbo_refresh_token,
            settings.cb_api_key,
            settings.token_encryption_key,
        )
        if s is not None
    ]
    configure_logging(settings.log_level, secrets)
    asyncio.run(_bot())


# -- the benchmark's side -------------------------------------------------------------------------
@dataclass
class Processes:
    """The stand-ins and the bot, each in its own process, and how to reach them."""

    standins: dict[str, Any]
    redis_url: str
    prefix: str
    encryption_key: str
    bot_url: str = ""
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    session: aiohttp.ClientSession | None = None

    @property
    def events_url(self) -> str:
        return f"{self.bot_url}/slack/events"

    @property
    def control(self) -> str:
        return f"{self.standins['slack_url']}/bench"

    def settings_values(self, **overrides: Any) -> dict[str, Any]:
        """The bot's settings (as ``tests.harness.World.settings`` has them)."""
        s = self.standins
        values: dict[str, Any] = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": f"{s['slack_url']}/api/",
            "failed_payments_channel": FAILED_CHANNEL,
            "alert_channel": ALERT_CHANNEL,
            "finance_users": f"{FINANCE_USER},{FINANCE_USER_2}",
            "qbo_client_id": s["qbo_client_id"],
            "qbo_client_secret": s["qbo_client_secret"],
            "qbo_realm_id": REALM,
            "qbo_refresh_token": s["qbo_refresh_token"],
            "qbo_environment": "sandbox",
            "qbo_base_url": s["qbo_url"],
            "qbo_token_url": f"{s['qbo_url']}/oauth2/v1/tokens/bearer",
            "cb_base_url": s["cb_url"],
            "cb_api_key": CB_KEY,
            "redis_url": self.redis_url,
            "redis_prefix": self.prefix,
            "token_encryption_key": self.encryption_key,
        }
        values.update(overrides)
        return values

    def settings(self) -> Any:
        from bot.runtime.settings import Settings

        return Settings(_env_file=None, **self.settings_values())

    async def start_bot(self, log_path: Path) -> None:
        """Start the bot's process; returns once ``/healthz`` answers."""
        port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "QBO_", "CB_", "REDIS_", "FINANCE_"))
        }
        env.update({k.upper(): str(v) for k, v in self.settings_values(port=port).items()})
        proc = await asyncio.to_thread(_spawn_bot, env, log_path)
        self.procs.append(proc)
        self.bot_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the bot exited ({proc.returncode}); see {log_path}")
            with contextlib.suppress(aiohttp.ClientError):
                async with self.http.get(f"{self.bot_url}/healthz") as r:
                    if r.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the bot did not answer /healthz; see {log_path}")
            await asyncio.sleep(0.1)

    @property
    def http(self) -> aiohttp.ClientSession:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        return self.session

    async def ctl(self, path: str, body: Any = None) -> Any:
        """Call the stand-ins' control API."""
        if body is None:
            async with self.http.get(f"{self.control}/{path}") as r:
                return await r.json()
        async with self.http.post(f"{self.control}/{path}", json=body) as r:
            r.raise_for_status()
            return await r.json()

    async def remedies_done(self) -> int:
        """Remedies the bot counted so far (its ``/metrics``)."""
        async with self.http.get(f"{self.bot_url}/metrics") as r:
            text = await r.text()
        return sum(
            int(float(line.rsplit(" ", 1)[1]))
            for line in text.splitlines()
            if line.startswith("failed_payments_remedies_total{")
        )

    async def wait_remedies(self, total: int, within: float = 120.0) -> None:
        """Wait until the bot counted ``total`` remedies (polled; not during measurement)."""
        deadline = time.monotonic() + within
        while await self.remedies_done() < total:
            if time.monotonic() > deadline:
                raise RuntimeError(f"remedies did not finish within {within} s")
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                if proc.stdin is not None:
                    proc.stdin.close()
                else:
                    proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.to_thread(proc.wait, 30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if self.session is not None:
            await self.session.close()


def _spawn_bot(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """The bot's process, its log (stderr, as ``app.py run`` writes it) in ``log_path``."""
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bench.common", "bot"],
            env=env,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )


async def start_announcing(
    module_args: list[str], what: str
) -> tuple[subprocess.Popen[bytes], bytes]:
    """Start ``python -m <module_args>`` with pipes to its stdin (closing it stops the
    process) and stdout; the process and the first line it prints (what it announces: its
    URLs as JSON, or ``ready``). Raises, the process killed, when it prints nothing."""
    proc = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", *module_args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.to_thread(proc.stdout.readline)
    if not line:
        proc.kill()
        raise RuntimeError(f"{what} did not start")
    return proc, line


@asynccontextmanager
async def processes(scenario: str | None, prefix: str) -> AsyncIterator[Processes]:
    """Start the stand-ins' process (seeded with ``scenario``) and a Redis; the caller seeds
    and then calls :meth:`Processes.start_bot`. Cleans the prefix's Redis keys at the end."""
    from cryptography.fernet import Fernet

    from tests.redis_server import ensure_redis

    redis_url = ensure_redis()
    args = ["bench.common", "standins"]
    if scenario is not None:
        args += ["--scenario", scenario]
    proc, line = await start_announcing(args, "the stand-ins")
    p = Processes(json.loads(line), redis_url, prefix, Fernet.generate_key().decode(), procs=[proc])
    try:
        yield p
    finally:
        await p.close()
        await cleanup(redis_url, prefix)


async def cleanup(redis_url: str, prefix: str) -> None:
    """Delete every key under ``prefix``."""
    import redis.asyncio as aioredis

    r = aioredis.Redis.from_url(redis_url)
    try:
        keys = [k async for k in r.scan_iter(match=f"{prefix}*", count=1000)]
        for i in range(0, len(keys), 500):
            await r.delete(*keys[i : i + 500])
    finally:
        await r.aclose()


async def fire(url: str, bodies: list[bytes]) -> list[tuple[float, int]]:
    """Send every body at once, signed (before the clock starts) as Slack signs; (latency ms,
    HTTP status) of each, from sending the request to having the whole answer.

    This process's own cycle collector is kept out of the timing: its garbage is collected
    before the clock starts and collection waits until every answer is in. Unchecked, a pass
    over this process's heap (40 ms, measured) landed inside one round now and then and was
    counted as the bot's (or the floor's) latency for every click of it."""
    signed = [(b, sign(b)) for b in bodies]
    gc.collect()
    gc.disable()
    try:
        return await _fire_signed(url, signed)
    finally:
        gc.enable()


async def _fire_signed(
    url: str, signed: list[tuple[bytes, dict[str, str]]]
) -> list[tuple[float, int]]:
    """``fire``'s requests, all at once through fresh connections; each one's latency."""

    async def one(
        session: aiohttp.ClientSession, body: bytes, headers: dict[str, str]
    ) -> tuple[float, int]:
        t0 = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as resp:
            await resp.read()
            return (time.perf_counter() - t0) * 1000, resp.status

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        return list(await asyncio.gather(*(one(session, b, h) for b, h in signed)))


async def timed(coro: Awaitable[Any]) -> float:
    t0 = time.perf_counter()
    await coro
    return (time.perf_counter() - t0) * 1000


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Write ``result`` to ``.bench-results/<name>-<time>.json``; returns the path."""
    from datetime import UTC, datetime

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


if __name__ == "__main__":
    if sys.argv[1:2] == ["bot"]:
        _bot_main()
    elif sys.argv[1:2] == ["standins"]:
        scen = sys.argv[3] if sys.argv[2:3] == ["--scenario"] else None
        asyncio.run(_standins(scen))
    else:
        raise SystemExit("usage: python -m bench.common bot | standins [--scenario S]")
