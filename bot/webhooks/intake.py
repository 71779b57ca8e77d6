"""What ``POST /qbo/webhooks`` does before it answers, and nothing more: check the signature
(before reading anything), read the changes, drop the ones of companies the bot does not
serve, and keep the rest in the Redis stream in one round trip. The worker does the rest.

Outcomes: 401 (no or a wrong signature: nothing kept), 400 (not a QuickBooks payload: nothing
kept), 503 (Redis does not answer: QuickBooks retries later), 200 (kept).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.runtime.services import Services
from bot.store import StoreError
from bot.store.webhooks import WebhookStore
from bot.webhooks.metrics import webhook_metrics
from bot.webhooks.payload import MalformedWebhook, parse_changes, signature_ok

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intake:
    """The answer to one delivery: HTTP status, a short message, events kept and ignored."""

    status: int
    message: str
    kept: int = 0
    ignored: int = 0


def webhook_store(services: Services) -> WebhookStore:
    """The webhook keys, on the services' Redis client and prefix."""
    return WebhookStore(services.store.redis, services.store.prefix)


async def accept(services: Services, raw: bytes, signature: str | None) -> Intake:
    """Check, read and keep one delivery (see the module docstring)."""
    counters = webhook_metrics(services.metrics)
    token = services.settings.qbo_webhook_verifier_token
    if token is None or not signature_ok(token.get_secret_value(), raw, signature):
        counters.deliveries.labels("401").inc()
        return Intake(401, "missing or invalid intuit-signature")
    try:
        changes = parse_changes(raw)
    except MalformedWebhook as exc:
        counters.deliveries.labels("400").inc()
        log.warning("QuickBooks webhook refused: %s", exc)
        return Intake(400, str(exc))
    realm = services.settings.qbo_realm_id
    ours = [c for c in changes if c.realm_id == realm]
    ignored = len(changes) - len(ours)
    try:
        if ours:
            await webhook_store(services).append([c.model_dump_json() for c in ours])
    except StoreError as exc:
        counters.deliveries.labels("503").inc()
        log.warning("QuickBooks webhook not kept: %s", exc)
        return Intake(503, "the bot cannot keep events right now; QuickBooks retries")
    counters.deliveries.labels("200").inc()
    counters.events.labels("kept").inc(len(ours))
    if ignored:
        counters.events.labels("other_company").inc(ignored)
    return Intake(200, "ok", kept=len(ours), ignored=ignored)
