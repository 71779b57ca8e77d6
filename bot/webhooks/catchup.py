"""Missed webhooks cost nothing: at start-up the worker runs a ChangeDataCapture pass from the
last processed time (``wh:cursor``, less a margin for clock skew, at most CDC's 30 days back)
and settles what changed as if the webhooks had come; and every ``WEBHOOK_RECONCILE_HOURS``
(Intuit's daily reconciliation) it re-reads every open failure and every pending payment —
the index rebuilt, each failure re-diagnosed and redrawn only when its diagnosis changed, each
pending payment assessed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.runtime.services import Services
from bot.store.webhooks import WebhookStore, entity_key
from bot.webhooks.follow import Changed, follow
from bot.webhooks.index import refresh_index
from bot.webhooks.settle import MODELS, Settled, settle
from bot.webhooks.warn import assess, pending_payments
from qb.models import Entity

log = logging.getLogger(__name__)
SKEW = timedelta(minutes=5)
CDC_WINDOW = timedelta(days=30)


async def catch_up(services: Services, store: WebhookStore) -> Settled | None:
    """The CDC pass from the last processed time (none at a first start: the cursor is set)."""
    now = services.clock()
    cursor = await store.get_time("cursor")
    if cursor is None:
        await store.set_time("cursor", now)
        return None
    since = max(cursor - SKEW, now - CDC_WINDOW + timedelta(minutes=1))
    changes = await services.qbo.cdc(list(MODELS), since)
    current: dict[str, Entity | None] = {}
    for name, rows in changes.items():
        for e in rows:
            if e.id:
                current[entity_key(name, e.id)] = None if e.is_deleted else e
    done = await settle(services, store, current)
    await store.set_time("cursor", now)
    log.info(
        "caught up from %s: %d changes, %d failures redrawn, %d warnings",
        since.isoformat(timespec="seconds"),
        len(current),
        len(done.followed),
        len(done.warned),
    )
    return done


async def reconcile(services: Services, store: WebhookStore) -> Settled:
    """Every open failure and pending payment read again (see the module docstring)."""
    done = Settled()
    await refresh_index(services, store, full=True)
    for pid in await services.store.open_ids():
        note = [Changed("Reconciliation", "daily", False, services.clock())]
        if await follow(services, store, pid, note, quiet=True):
            done.followed.add(pid)
    pending = await pending_payments(services)  # the contract's, and the gateway's
    done.warned = await assess(services, store, pending)
    await store.set_time("reconciled", services.clock())
    return done


async def reconcile_if_due(services: Services, store: WebhookStore) -> Settled | None:
    """Reconcile once the last one is ``WEBHOOK_RECONCILE_HOURS`` old (a first start notes
    the time only)."""
    last = await store.get_time("reconciled")
    if last is None:  # a first start: the catch-up just read the books
        await store.set_time("reconciled", services.clock())
        return None
    every = timedelta(hours=services.settings.webhook_reconcile_hours)
    if last is not None and services.clock() - last < every:
        return None
    return await reconcile(services, store)
