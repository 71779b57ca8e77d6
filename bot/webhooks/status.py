"""One line for ``python app.py check``: whether webhooks are on, and how the stream stands."""

from __future__ import annotations

from bot.runtime.services import Services
from bot.store import StoreError
from bot.webhooks.intake import webhook_store


async def webhook_check(services: Services) -> tuple[str, bool, str]:
    """``(name, ok, detail)``: off, or on with the events waiting and the last processed time."""
    name = "QuickBooks webhooks"
    if services.settings.qbo_webhook_verifier_token is None:
        return name, True, "off (QBO_WEBHOOK_VERIFIER_TOKEN unset): changes are seen at each poll"
    store = webhook_store(services)
    try:
        waiting = await store.backlog()
        last = await store.get_time("cursor")
    except StoreError as exc:
        return name, False, f"the event stream cannot be read: {exc}"
    when = last.isoformat(timespec="seconds") if last else "never"
    return name, True, f"on: POST /qbo/webhooks; {waiting} events waiting; last processed {when}"
