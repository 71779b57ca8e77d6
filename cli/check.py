"""``python app.py check``: reach every service the bot needs and say, one line each,
whether it answered and, if not, why — never printing a secret."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from slack_sdk.errors import SlackApiError

from bot.runtime.services import Services
from bot.runtime.settings import Settings

CheckLine = tuple[str, bool, str]


async def _slack(services: Services) -> CheckLine:
    try:
        resp = await services.slack.auth_test()
    except SlackApiError as exc:
        return ("Slack", False, f"auth.test answered {exc.response.get('error')}: check "
                "SLACK_BOT_TOKEN and SLACK_API_URL")
    except Exception as exc:  # noqa: BLE001 - check reports any failure as a line
        return ("Slack", False, f"not reachable at SLACK_API_URL: {type(exc).__name__}")
    return ("Slack", True, f"bot {resp.get('user')} in team {resp.get('team')}")


async def _qbo(services: Services) -> CheckLine:
    try:
        info = await services.qbo.company_info()
    except Exception as exc:  # noqa: BLE001 - check reports any failure as a line
        return ("QuickBooks", False, f"{type(exc).__name__}: {exc}")
    return ("QuickBooks", True, f"company {info.company_name!r} "
            f"(realm {services.settings.qbo_realm_id}, {services.settings.qbo_environment})")


async def _cb(services: Services) -> CheckLine:
    since = services.clock() - timedelta(days=services.settings.alert_window_days)
    try:
        stats = await services.cb.sync_stats(since)
    except Exception as exc:  # noqa: BLE001 - check reports any failure as a line
        return ("ConnectBooster", False, f"{type(exc).__name__}: {exc}")
    return ("ConnectBooster", True, f"{stats.total} payments in the last "
            f"{services.settings.alert_window_days} days, {stats.failed} failed")


async def run_checks(
    settings: Settings, build: Callable[..., Awaitable[Services]]
) -> int:
    """Print a line per service; 0 when every one answered, 1 otherwise."""
    print("OK    settings")
    try:
        services = await build(settings)
    except Exception as exc:  # noqa: BLE001 - check reports any failure as a line
        print(f"FAIL  Redis: {exc}")
        return 1
    print("OK    Redis")
    try:
        lines = [await _slack(services), await _qbo(services), await _cb(services)]
    finally:
        await services.aclose()
    for name, ok, detail in lines:
        print(f"{'OK  ' if ok else 'FAIL'}  {name}: {detail}")
    return 0 if all(ok for _n, ok, _d in lines) else 1
