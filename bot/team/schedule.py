"""The team's timed messages, run by the poller loop after each cycle
(``bot.poll.cycle.run_poller``) with the services' clock: the working-day reminder
(``bot.team.reminders``) and the weekly summary (``bot.team.weekly``). Each decides itself
whether it is due and posts at most once (a once-marker in Redis), so every bot process may
call this. After a cycle that changed anything it also refreshes the recent viewers' App
Home (``bot.team.home``). A failure is logged and tried again next cycle; it never stops
the poller."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.errors import log_reason
from bot.runtime.services import Services
from bot.team.home import refresh_viewers
from bot.team.reminders import remind_if_due
from bot.team.weekly import summarise_if_due

log = logging.getLogger(__name__)


async def run_schedule(services: Services, *, changed: bool = False) -> None:
    """Post the reminder and the weekly summary when due, and refresh the recent viewers'
    App Home when the poll cycle ``changed`` anything (errors logged, not raised)."""
    jobs: list[tuple[str, Callable[[Services], Awaitable[object]]]] = [
        ("reminder", remind_if_due),
        ("weekly summary", summarise_if_due),
    ]
    if changed:
        jobs.append(("App Home refresh", refresh_viewers))
    for name, job in jobs:
        try:
            await job(services)
        except Exception as exc:  # noqa: BLE001 - the poller goes on; tried again next cycle
            log.warning("%s not sent: %s", name, log_reason(exc))
