"""The team's timed messages, run by the poller loop after each cycle
(``bot.poll.cycle.run_poller``) with the services' clock: the working-day reminder
(``bot.team.reminders``) and the weekly summary (``bot.team.weekly``). Each decides itself
whether it is due and posts at most once (a once-marker in Redis), so every bot process may
call this. A failure is logged and tried again next cycle; it never stops the poller."""

from __future__ import annotations

import logging

from bot.errors import log_reason
from bot.runtime.services import Services
from bot.team.reminders import remind_if_due

log = logging.getLogger(__name__)


async def run_schedule(services: Services) -> None:
    """Post the reminder and the weekly summary when due (errors logged, not raised)."""
    from bot.team.weekly import summarise_if_due

    for name, job in (("reminder", remind_if_due), ("weekly summary", summarise_if_due)):
        try:
            await job(services)
        except Exception as exc:  # noqa: BLE001 - the poller goes on; tried again next cycle
            log.warning("%s not sent: %s", name, log_reason(exc))
