"""failed-payments: wiring and command line.

    python app.py [run]        the bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP on PORT)
    python app.py check        settings, Redis, Slack, QuickBooks and ConnectBooster: OK or why not
    python app.py sandbox      local QuickBooks and ConnectBooster stand-ins, for trying things out
    python app.py qbo-connect  connect QuickBooks (OAuth consent) and keep its tokens in Redis
    python app.py demo         the whole bot against local stand-ins, in a Slack-like page

This module only wires: settings -> sessions and Redis -> clients -> Bolt app -> handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiohttp import web
from slack_bolt.async_app import AsyncApp

from bot.runtime.heap import settle_heap
from bot.runtime.logs import configure_logging
from bot.runtime.services import Services
from bot.runtime.settings import Settings, SettingsError, load_settings
from bot.store.durability import RedisNotDurable, check_at_start
from cli.arguments import parse_args
from cli.check import EXIT_REDIS_UNSAFE
from cli.wiring import StartError, build_services, redis_client

__all__ = ["StartError", "build_bolt_app", "build_services", "build_web_app", "main"]

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    from handlers.health import ConnectionCheck
    from sandbox.demo import BotBuilders

log = logging.getLogger("failed_payments")

EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3


def build_bolt_app(services: Services) -> AsyncApp:
    """The Bolt app with every handler module registered."""
    from handlers import register_all

    app = AsyncApp(
        client=services.slack,
        signing_secret=services.settings.slack_signing_secret.get_secret_value(),
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )
    register_all(app, services)
    return app


def build_web_app(
    bolt: AsyncApp, services: Services, *, socket_connected: ConnectionCheck | None = None
) -> web.Application:
    """``/slack/events`` (HTTP mode; signed requests only), ``/livez``, ``/readyz`` and
    ``/healthz``, and ``/metrics`` unless ``METRICS_PORT`` serves it apart.
    ``socket_connected`` tells ``/readyz`` whether the Socket Mode connection is up."""
    from handlers.errors import request_guard
    from handlers.health import add_health_routes, add_metrics_route
    from handlers.webhooks import add_webhook_routes

    webapp = bolt.web_app(path="/slack/events")
    webapp.middlewares.append(
        request_guard(services.settings.slack_signing_secret.get_secret_value())
    )
    add_health_routes(webapp, services, socket_connected=socket_connected)
    add_webhook_routes(webapp, services)  # POST /qbo/webhooks (when its verifier token is set)
    if services.settings.metrics_port is None:
        add_metrics_route(webapp, services)
    return webapp


def bot_builders() -> BotBuilders:
    """This module's builders, for ``demo``: the demo builds the bot as production does,
    without importing this module."""
    from sandbox.demo import BotBuilders

    return BotBuilders(
        build_services=build_services, build_bolt_app=build_bolt_app, build_web_app=build_web_app
    )


async def start_background(services: Services) -> None:
    """Resume half-done remedies, then start the poller (and the mailbox watcher)."""
    from bot.mail.watch import start_mail_watcher
    from bot.poll.cycle import run_poller
    from bot.remedies import resume_unfinished

    await resume_unfinished(services)
    services.start_background(run_poller(services), name="poller")
    start_mail_watcher(services)  # ConnectBooster's e-mails as triggers, when MAIL_IMAP_HOST
    if services.settings.qbo_webhook_verifier_token is not None:
        from bot.webhooks.worker import run_worker

        services.start_background(run_worker(services), name="qbo-webhooks")


async def check_redis_at_start(services: Services) -> None:
    """Refuse a Redis that could lose the bot's state (``RedisNotDurable``) unless
    ``REDIS_DURABILITY_CHECK=off``; read (or write, at a first start) the state marker;
    verify the open failures' indexes (rebuilt when an older release wrote them)."""
    await check_at_start(
        services.store,
        check=services.settings.redis_durability_check == "on",
        instance=services.instance,
    )
    await services.store.ensure_indexes()


def socket_mode(bolt: AsyncApp, services: Services) -> AsyncSocketModeHandler:
    """The Socket Mode handler, through the bot's own web client (``SLACK_API_URL``)."""
    from handlers.socket_mode import socket_mode_handler

    return socket_mode_handler(bolt, services)


# -- commands ---------------------------------------------------------------------------------
async def serve(settings: Settings) -> None:
    """Run the bot until SIGTERM or SIGINT; then finish remedies in flight and close."""
    from handlers.health import metrics_app
    from handlers.socket_mode import SocketModeRefused, connect_socket_mode

    services = await build_services(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    runners: list[web.AppRunner] = []
    socket: AsyncSocketModeHandler | None = None
    try:
        await check_redis_at_start(services)
        bolt = build_bolt_app(services)
        socket = socket_mode(bolt, services) if settings.socket_mode else None
        apps = [
            (
                build_web_app(
                    bolt,
                    services,
                    socket_connected=socket.client.is_connected if socket is not None else None,
                ),
                settings.port,
            )
        ]
        if settings.metrics_port is not None:
            apps.append((metrics_app(services), settings.metrics_port))
        if settings.socket_mode and settings.webhook_port is not None:
            from handlers.webhooks import webhook_app

            apps.append((webhook_app(services), settings.webhook_port))
        for webapp, port in apps:  # health on PORT in both modes; /metrics on its own port
            runner = web.AppRunner(webapp)
            await runner.setup()
            runners.append(runner)
            await web.TCPSite(runner, "0.0.0.0", port).start()  # noqa: S104
        log.info(
            "serving /livez, /readyz%s on port %d",
            "" if settings.metrics_port else " and /metrics",
            settings.port,
        )
        if socket is not None:
            try:
                await connect_socket_mode(socket)
            except SocketModeRefused as exc:
                raise StartError(str(exc)) from None
            log.info("connected to Slack in Socket Mode")
        await start_background(services)
        settle_heap()  # the start's objects out of the collector's walks (bot.runtime.heap)
        await stop.wait()
        log.info("stopping: no new work; finishing remedies in flight")
    finally:
        if socket is not None:  # closed for good: no reconnect during the drain
            await socket.close_async()
        for runner in runners:
            await runner.cleanup()
        await services.drain()
        await services.aclose()


async def check(settings: Settings) -> int:
    """Reach every service the bot needs and print one line each: OK or why not."""
    from cli.check import run_checks

    return await run_checks(settings, build_services)


def _load_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as err:
        print(
            f"failed-payments: cannot start: {len(err.lines)} setting(s) need attention",
            file=sys.stderr,
        )
        for line in err.lines:
            print(f"  {line}", file=sys.stderr)
        print("Set them in the environment or in a .env file (see README).", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python app.py`` and the ``failed-payments`` console script."""
    args = parse_args(argv, __doc__)
    command = args.command or "run"
    try:
        if command == "sandbox":
            configure_logging()
            from sandbox.runner import serve_sandboxes_forever

            asyncio.run(
                serve_sandboxes_forever(args.scenario, qbo_port=args.qbo_port, cb_port=args.cb_port)
            )
            return 0
        if command == "demo":
            configure_logging()
            from sandbox.demo import run_demo

            asyncio.run(
                run_demo(bot_builders(), port=args.port, scenario=args.scenario, source=args.source)
            )
            return 0
        settings = _load_or_exit()
        secrets = [
            s.get_secret_value()
            for s in (
                settings.slack_bot_token,
                settings.slack_signing_secret,
                settings.slack_app_token,
                settings.qbo_client_secret,
                settings.qbo_refresh_token,
                settings.cb_api_key,
                settings.token_encryption_key,
                settings.mail_imap_password,
                settings.qbo_webhook_verifier_token,
            )
            if s is not None
        ]
        configure_logging(settings.log_level, secrets, settings.log_format)
        if command == "check":
            return asyncio.run(check(settings))
        if command == "qbo-connect":
            from cli.connect import connect_quickbooks

            return asyncio.run(
                connect_quickbooks(
                    settings, port=args.port, paste=args.paste, redis=redis_client(settings)
                )
            )
        asyncio.run(serve(settings))
        return 0
    except StartError as err:
        print(f"failed-payments: cannot start: {err}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except RedisNotDurable as err:
        print(f"failed-payments: cannot start: {err}", file=sys.stderr)
        return EXIT_REDIS_UNSAFE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
