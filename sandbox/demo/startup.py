"""Starting the demo: the stand-ins, Redis, the bot exactly as in production, the poller and
the workbench; and ``python app.py demo``, which runs it until Ctrl-C or SIGTERM.

The bot is built by the app's own builders, handed in as :class:`BotBuilders` by ``app.py``'s
``demo`` command (the stand-ins never import ``app``): HTTP mode, ``/slack/events`` behind
Slack's request signatures, the poller, Redis.

Redis: ``REDIS_URL`` when it answers (keys under a fresh ``fpdemo:<random>:`` prefix, removed
at exit), otherwise an in-process stand-in (fakeredis) and a visible notice that nothing is
kept. QuickBooks tokens are encrypted with a Fernet key generated for the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
from aiohttp import web
from cryptography.fernet import Fernet
from slack_bolt.async_app import AsyncApp

from bot.runtime.logs import safe_url
from bot.runtime.services import Services
from bot.runtime.settings import Settings
from sandbox.demo.session import Demo
from sandbox.demo.workbench import make_workbench_app
from sandbox.demo.workspace import (
    ALERT_CHANNEL,
    CHANNELS,
    DEFAULT_PORT,
    DEFAULT_REDIS_URL,
    FAILED_CHANNEL,
    POLL_INTERVAL_SECONDS,
    USERS,
)
from sandbox.scenarios import SCENARIOS
from sandbox.serving import serve
from sandbox.stand_ins import SANDBOX_CB_KEY, StandIns, start_stand_ins

log = logging.getLogger(__name__)

SIGNING_SECRET_BYTES = 24


class BuildServices(Protocol):
    """``app.build_services``: sessions, Redis and the clients on them, from settings."""

    def __call__(
        self, settings: Settings, *, redis: aioredis.Redis | None = ..., instance: str = ...
    ) -> Awaitable[Services]: ...


@dataclass(frozen=True)
class BotBuilders:
    """How ``app.py`` builds the bot; the demo builds it with these, as production does."""

    build_services: BuildServices
    build_bolt_app: Callable[[Services], AsyncApp]
    build_web_app: Callable[[AsyncApp, Services], web.Application]


class DemoError(Exception):
    """The demo cannot start; the message says why and what to do."""


async def open_redis(url: str) -> tuple[aioredis.Redis, str | None]:
    """A Redis client for ``url`` when it answers, else an in-process stand-in (fakeredis)
    and the notice to show: ``(client, notice or None)``."""
    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    try:
        await client.ping()
        return client, None
    except Exception as exc:  # noqa: BLE001 - any failure means "use the stand-in"
        await client.aclose()
        reason = type(exc).__name__
    try:
        import fakeredis
    except ImportError:
        raise DemoError(
            f"Redis does not answer at {safe_url(url)} ({reason}) and the in-memory stand-in "
            "is not installed: start Redis, set REDIS_URL, or pip install '.[demo]'"
        ) from None
    notice = (
        f"Redis does not answer at {safe_url(url)}: this demo keeps its state in memory, "
        "and nothing is kept when it stops. Set REDIS_URL to use a real Redis."
    )
    return fakeredis.FakeAsyncRedis(), notice


DEMO_SOURCES = ("contract", "gateway", "both")
"""``--source``: the ConnectBooster contract, the payment gateway (issue 15: no contract, the
portal's link and *Done in the portal* on the cards), or both."""


def _source_settings(stand_ins: StandIns, source: str) -> dict[str, Any]:
    """The settings that choose the demo's sources of payments."""
    env = stand_ins.gateway_env(contract=source != "gateway")
    out: dict[str, Any] = {
        "cb_base_url": env.get("CB_BASE_URL"),
        "cb_api_key": env.get("CB_API_KEY"),
        "cb_portal_url": None,
    }
    if source != "contract":
        out |= {
            "gateway_url": env["GATEWAY_URL"],
            "gateway_security_key": env["GATEWAY_SECURITY_KEY"],
            "gateway_invoice_pattern": r"(\d{4,})",
            "cb_portal_url": f"{stand_ins.cb_url}/sandbox/state",
        }
    return out


def demo_settings(
    stand_ins: StandIns, *, redis_url: str, prefix: str, source: str = "contract"
) -> Settings:
    """The bot's settings for the demo: every value explicit, so nothing in the environment
    (or a ``.env``) of a real installation leaks in. ``source``: one of
    :data:`DEMO_SOURCES`."""
    env = stand_ins.bot_env()
    return Settings(
        _env_file=None,
        slack_bot_token=stand_ins.slack.bot_token,
        slack_signing_secret=stand_ins.slack.signing_secret,
        slack_app_token=None,
        slack_api_url=f"{stand_ins.slack_url}/api/",
        failed_payments_channel=FAILED_CHANNEL,
        alert_channel=ALERT_CHANNEL,
        finance_users=[u.id for u in USERS if u.finance],
        finance_usergroup=None,
        poll_interval_seconds=POLL_INTERVAL_SECONDS,
        qbo_client_id=env["QBO_CLIENT_ID"],
        qbo_client_secret=env["QBO_CLIENT_SECRET"],
        qbo_realm_id=env["QBO_REALM_ID"],
        qbo_refresh_token=env["QBO_REFRESH_TOKEN"],
        qbo_environment="sandbox",
        qbo_base_url=env["QBO_BASE_URL"],
        qbo_token_url=env["QBO_TOKEN_URL"],
        qbo_deposit_account_id=None,
        **_source_settings(stand_ins, source),
        redis_url=redis_url,
        redis_prefix=prefix,
        redis_durability_check="off",  # the demo's Redis is throwaway (keys removed at exit)
        token_encryption_key=Fernet.generate_key().decode(),
        log_level="INFO",
        qbo_webhook_verifier_token=secrets.token_urlsafe(24),  # the stand-in signs with it
    )


async def _start_slack_world(scenario: str) -> StandIns:
    """The stand-ins seeded with ``scenario``; Slack knows the demo's channels and users."""
    stand_ins = await start_stand_ins(
        cb_api_key=SANDBOX_CB_KEY,
        signing_secret=secrets.token_urlsafe(SIGNING_SECRET_BYTES),
        bot_token="xoxb-demo-" + secrets.token_hex(12),
        channels=[c.id for c in CHANNELS],
        scenario=scenario,
        rng_seed=7,
    )
    for u in USERS:
        stand_ins.slack.users[u.id] = {
            "id": u.id,
            "team_id": "T0SANDBOX",
            "name": u.name.split()[0].lower(),
            "real_name": u.name,
            "tz": "UTC",
            "deleted": False,
            "is_bot": False,
            "profile": {"real_name": u.name, "display_name": u.name},
        }
    return stand_ins


async def start_demo(
    bot: BotBuilders,
    port: int = 0,
    scenario: str = "all-causes",
    redis_url: str | None = None,
    *,
    host: str = "127.0.0.1",
    source: str = "contract",
) -> Demo:
    """Start the sandboxes (seeded with ``scenario``), the Slack stand-in, the bot (built
    with ``bot``) and the workbench on ``host:port`` (0: any free port); the first poll runs
    in the background (:meth:`Demo.wait_first_poll`), then the poller keeps running.
    ``redis_url``: default ``REDIS_URL`` or ``redis://localhost:6379/0``; the in-memory
    stand-in when it does not answer. Raises :class:`DemoError` with what to do when
    something cannot start."""
    if source not in DEMO_SOURCES:
        raise DemoError(f"unknown source {source!r}; choose one of {', '.join(DEMO_SOURCES)}")
    if scenario not in SCENARIOS:
        raise DemoError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    url = redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    redis, notice = await open_redis(url)
    prefix = f"fpdemo:{secrets.token_hex(4)}:"
    stand_ins: StandIns | None = None
    runners: list[web.AppRunner] = []
    services: Services | None = None
    try:
        stand_ins = await _start_slack_world(scenario)
        settings = demo_settings(stand_ins, redis_url=url, prefix=prefix, source=source)
        services = await bot.build_services(settings, redis=redis, instance="demo")
        bolt = bot.build_bolt_app(services)
        bot_runner, bot_url = await serve(bot.build_web_app(bolt, services), "127.0.0.1", 0)
        runners.append(bot_runner)
        demo = Demo(
            url="",
            scenario=scenario,
            stand_ins=stand_ins,
            services=services,
            bot_url=bot_url,
            prefix=prefix,
            redis_notice=notice,
            runners=runners,
            _real_redis=notice is None,
        )
        token = settings.qbo_webhook_verifier_token
        if token is not None:  # the books panel's edits reach the bot as QuickBooks webhooks
            stand_ins.send_webhooks(f"{bot_url}/qbo/webhooks", token.get_secret_value())
        web_runner, web_url = await serve(make_workbench_app(demo), host, port)
        runners.insert(0, web_runner)
        demo.url = web_url
    except BaseException:
        for r in reversed(runners):
            await r.cleanup()
        if services is not None:
            await services.aclose()
        else:
            await redis.aclose()
        if stand_ins is not None:
            await stand_ins.close()
        raise
    demo.tasks.append(asyncio.create_task(_first_poll_then_poller(demo), name="demo-poller"))
    from bot.webhooks.worker import run_worker

    demo.tasks.append(asyncio.create_task(run_worker(services), name="demo-webhooks"))
    return demo


async def _first_poll_then_poller(demo: Demo) -> None:
    """Resume half-done remedies, poll once (the failures get posted), then keep polling."""
    from bot.poll.cycle import poll_once, run_poller

    try:
        with contextlib.suppress(ImportError):
            from bot.remedies import resume_unfinished

            await resume_unfinished(demo.services)
        report = await poll_once(demo.services)
        log.info("first poll: %d failures posted", len(report.new))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        demo.first_poll_error = f"{type(exc).__name__}: {exc}"
        log.exception("the first poll failed; the poller keeps trying")
    finally:
        demo.first_poll.set()
    await run_poller(demo.services)


def _local_url(url: str, host: str) -> str:
    if host in ("127.0.0.1", "0.0.0.0", "::", ""):
        return re.sub(r"//[^/:]+", "//localhost", url, count=1)
    return url


def _port_from_env() -> int:
    """``PORT`` (default 3000); exits with a message when it is not a TCP port."""
    raw = os.environ.get("PORT") or str(DEFAULT_PORT)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        print(
            f"failed-payments demo: PORT must be a TCP port (1-65535), not {raw!r}", file=sys.stderr
        )
        raise SystemExit(2)
    return int(raw)


async def run_demo(
    bot: BotBuilders,
    port: int | None = None,
    scenario: str = "all-causes",
    source: str = "contract",
) -> None:
    """``python app.py demo``: start everything, print the one URL, serve until Ctrl-C or
    SIGTERM, then stop cleanly. ``port`` default: ``PORT`` or 3000. The page listens on
    ``DEMO_HOST`` (default 127.0.0.1; set 0.0.0.0 to reach it from another machine)."""
    if port is None:
        port = _port_from_env()
    host = os.environ.get("DEMO_HOST") or "127.0.0.1"
    try:
        demo = await start_demo(bot, port=port, scenario=scenario, host=host, source=source)
    except DemoError as err:
        print(f"failed-payments demo: cannot start: {err}", file=sys.stderr)
        raise SystemExit(3) from None
    except OSError as err:
        print(
            f"failed-payments demo: cannot listen on {host}:{port} ({err.strerror or err}). "
            f"Choose another port: PORT={port + 1} make demo",
            file=sys.stderr,
        )
        raise SystemExit(3) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if demo.redis_notice:
            print(f"NOTE: {demo.redis_notice}", flush=True)
        else:
            print(
                f"State: Redis, keys under {demo.prefix} (removed when the demo stops)", flush=True
            )
        print(f"failed-payments demo ({demo.world.summary()})", flush=True)
        print(f"Open {_local_url(demo.url, host)}   (Ctrl-C stops)", flush=True)
        await stop.wait()
    finally:
        print("stopping the demo…", flush=True)
        await demo.close()
