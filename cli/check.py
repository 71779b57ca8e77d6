"""``python app.py check``: reach every service the bot needs and say, one line each,
whether it answered and, if not, why — never printing a secret."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from slack_sdk.errors import SlackApiError

from bot.errors import slack_error_code
from bot.runtime.services import Services
from bot.runtime.settings import Settings
from bot.store import StoreError
from bot.store.durability import require_durable
from bot.webhooks.status import webhook_check
from cli.audience import Level, audience_lines
from cli.check_mail import mail_check_line
from cli.check_sources import source_lines

CheckLine = tuple[str, bool, str]

EXIT_REDIS_UNSAFE = 4
"""Exit status of ``run`` and ``check`` when the Redis could lose the bot's state."""

BOOKS_TIMEZONE_WARNING = (
    "WARN  settings: BOOKS_TIMEZONE is not set, so a recreated payment is dated with its UTC "
    "date (a payment at 22:30 in New York on 31 December lands on 1 January); set it to the "
    "books' IANA time zone, e.g. America/New_York"
)
"""The line ``check`` prints while ``BOOKS_TIMEZONE`` is unset (a warning: the exit code
stays 0)."""


async def _durability(services: Services) -> CheckLine:
    """Whether the Redis keeps the state: ``noeviction`` and persistence (see
    ``bot.store.durability``), or that the check is turned off."""
    check = services.settings.redis_durability_check == "on"
    try:
        return ("Redis durability", True, await require_durable(services.redis, check=check))
    except StoreError as exc:  # RedisNotDurable, or Redis stopped answering
        return ("Redis durability", False, str(exc))


async def _state(services: Services) -> CheckLine:
    """The state marker (read only: ``check`` writes nothing)."""
    try:
        marker = await services.store.state_marker()
    except StoreError as exc:
        return ("Redis state", False, str(exc))
    if marker is None:
        return (
            "Redis state",
            True,
            "no state marker yet: the bot writes it at its first "
            "start (if it ran here before, Redis lost its state: the bot recovers from "
            "Slack at start, and QuickBooks may need `python app.py qbo-connect`)",
        )
    return (
        "Redis state",
        True,
        f"kept since {marker.born_at:%Y-%m-%d %H:%M} UTC"
        + (", recovering from Slack at the next poll" if marker.recovery else ""),
    )


async def _slack(services: Services) -> CheckLine:
    try:
        resp = await services.slack.auth_test()
    except SlackApiError as exc:
        return (
            "Slack",
            False,
            f"auth.test answered {slack_error_code(exc)}: check SLACK_BOT_TOKEN and SLACK_API_URL",
        )
    except Exception as exc:  # noqa: BLE001 - check reports any failure as a line
        return ("Slack", False, f"not reachable at SLACK_API_URL: {type(exc).__name__}")
    return ("Slack", True, f"bot {resp.get('user')} in team {resp.get('team')}")


async def _qbo(services: Services) -> CheckLine:
    try:
        info = await services.qbo.company_info()
    except Exception as exc:  # noqa: BLE001 - check reports any failure as a line
        return ("QuickBooks", False, f"{type(exc).__name__}: {exc}")
    return (
        "QuickBooks",
        True,
        f"company {info.company_name!r} "
        f"(realm {services.settings.qbo_realm_id}, {services.settings.qbo_environment})",
    )


async def _cb(services: Services) -> CheckLine:
    since = services.clock() - timedelta(days=services.settings.alert_window_days)
    try:
        stats = await services.contract().sync_stats(since)
    except Exception as exc:  # noqa: BLE001 - check reports any failure as a line
        return ("ConnectBooster", False, f"{type(exc).__name__}: {exc}")
    return (
        "ConnectBooster",
        True,
        f"{stats.total} payments in the last "
        f"{services.settings.alert_window_days} days, {stats.failed} failed",
    )


async def run_checks(settings: Settings, build: Callable[..., Awaitable[Services]]) -> int:
    """Print a line per service; 0 when every one answered, :data:`EXIT_REDIS_UNSAFE` when
    the Redis could lose the bot's state, 1 when anything else failed."""
    print("OK    settings")
    if settings.books_timezone is None:
        print(BOOKS_TIMEZONE_WARNING)
    try:
        services = await build(settings)
    except Exception as exc:  # noqa: BLE001 - check reports any failure as a line
        print(f"FAIL  Redis: {exc}")
        return 1
    print("OK    Redis")
    try:
        durable = await _durability(services)
        lines = [
            durable,
            await _state(services),
            await _slack(services),
            await _qbo(services),
            *([await _cb(services)] if services.cb is not None else []),
            *await source_lines(services),
            await mail_check_line(settings),
            await webhook_check(services),
        ]
        # who reads the amounts: each channel's privacy and members (a WARN keeps exit code 0)
        slack_ok = any(name == "Slack" and ok for name, ok, _d in lines)
        audience = await audience_lines(services) if slack_ok else []
    finally:
        await services.aclose()
    for name, ok, detail in lines:
        print(f"{'OK  ' if ok else 'FAIL'}  {name}: {detail}")
    for level, text in audience:
        print(f"{level.value:<4}  Slack channel {text}")
        if level is Level.FAIL:
            lines.append(("Slack channel", False, text))
    if not durable[1]:
        return EXIT_REDIS_UNSAFE
    return 0 if all(ok for _n, ok, _d in lines) else 1
