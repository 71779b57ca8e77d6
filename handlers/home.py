"""The App Home tab: ``app_home_opened`` publishes the opener's Home (``bot.team.home``):
the team's view for a finance user, a short explanation and who may act for anyone else.
Bolt acks the event itself; the work runs after. An error is logged (an event has nobody to
answer); the Home is published again at its next opening or change."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.errors import log_reason
from bot.runtime.services import Services
from bot.team import home


def register(app: AsyncApp, services: Services) -> None:
    """Register the ``app_home_opened`` listener."""

    async def on_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        user = str(event.get("user") or "")
        if not user:
            return
        try:
            await home.opened(services, user)
        except Exception as exc:  # noqa: BLE001 - nobody to answer; logged and tried again
            logging.getLogger(__name__).warning("Home tab not published: %s", log_reason(exc))

    app.event("app_home_opened")(on_home_opened)
