"""The webhook worker: reads the changes ``POST /qbo/webhooks`` kept in the Redis stream, each
event once, and settles them (``bot.webhooks.settle``).

A batch: the entries read (or reclaimed from a consumer that crashed before acknowledging
them), repeats dropped (an event id already done, or twice in the batch), the changed entities
read from QuickBooks as they are now (a few IN queries), settled, the event ids marked done,
then the entries acknowledged. A crash before the acknowledgement leaves them in the stream for
the next worker (a replica, or this one after a restart); settling twice is harmless because
the second pass finds the state already acted on.

:func:`run_worker` runs batches until cancelled; it first catches up (``catchup``) and runs the
reconciliation every ``WEBHOOK_RECONCILE_HOURS``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from bot.runtime.services import Services
from bot.store import StoreError
from bot.store.webhooks import WebhookStore, entity_key
from bot.webhooks.catchup import catch_up, reconcile_if_due
from bot.webhooks.intake import webhook_store
from bot.webhooks.metrics import webhook_metrics
from bot.webhooks.payload import EntityChange
from bot.webhooks.settle import Settled, fetch_current, settle
from qb import errors as qbe

log = logging.getLogger(__name__)
BATCH = 200
RECLAIM_IDLE_MS = 60_000
"""An entry read but not acknowledged this long belonged to a consumer that died."""


@dataclass
class Batch:
    """What one batch did: entries read, events processed, repeats dropped."""

    entries: int = 0
    processed: int = 0
    repeats: int = 0
    settled: Settled | None = None


def _changes(entries: Sequence[tuple[str, str]]) -> list[EntityChange]:
    out: list[EntityChange] = []
    for entry_id, raw in entries:
        try:
            out.append(EntityChange.model_validate_json(raw))
        except ValidationError:
            log.warning("webhook stream entry %s is not a change; dropped", entry_id)
    return out


async def handle_entries(
    services: Services, store: WebhookStore, entries: Sequence[tuple[str, str]]
) -> Batch:
    """Process one batch of stream entries (see the module docstring)."""
    batch = Batch(entries=len(entries))
    unique: dict[str, EntityChange] = {}
    for c in _changes(entries):
        unique.setdefault(c.event_id, c)
    ids = list(unique)
    done = await store.done(ids)
    fresh = [unique[i] for i, d in zip(ids, done, strict=True) if not d]
    batch.repeats = len(entries) - len(fresh)
    if fresh:
        keys: dict[str, datetime | None] = {}
        for c in fresh:
            keys[entity_key(c.entity, c.entity_id)] = c.at
            if c.deleted_id:
                keys[entity_key(c.entity, c.deleted_id)] = c.at
        current = await fetch_current(services, list(keys))
        batch.settled = await settle(services, store, current, times=keys)
        await store.mark_done([c.event_id for c in fresh])
        batch.processed = len(fresh)
    await store.set_time("cursor", services.clock())
    await store.acknowledge([e for e, _ in entries])
    counters = webhook_metrics(services.metrics).events
    counters.labels("processed").inc(batch.processed)
    counters.labels("repeat").inc(batch.repeats)
    return batch


async def work_once(
    services: Services, *, consumer: str | None = None, block_ms: int | None = None
) -> Batch:
    """One batch: entries a dead consumer left first, else new ones (waiting ``block_ms``)."""
    store = webhook_store(services)
    name = consumer or services.instance
    entries = await store.reclaim(name, idle_ms=RECLAIM_IDLE_MS, count=BATCH)
    if not entries:
        entries = await store.read(name, count=BATCH, block_ms=block_ms)
    if not entries:
        return Batch()
    return await handle_entries(services, store, entries)


async def drain(services: Services, *, consumer: str | None = None) -> int:
    """Process batches until the stream has nothing new; events processed (tests, bench)."""
    store = webhook_store(services)
    await store.ensure_group()
    total = 0
    while True:
        batch = await work_once(services, consumer=consumer)
        if not batch.entries:
            return total
        total += batch.processed


async def run_worker(services: Services, *, block_ms: int = 1000) -> None:
    """Catch up, then process batches until cancelled (errors logged, retried after a pause)."""
    store = webhook_store(services)
    pause = 1.0
    caught_up = False
    reconciling: asyncio.Task[object] | None = None  # beside the batches, never blocking them
    while True:
        try:
            if not caught_up:
                await store.ensure_group()
                await catch_up(services, store)
                caught_up = True
            batch = await work_once(services, block_ms=block_ms)
            if not batch.entries and (reconciling is None or reconciling.done()):
                reconciling = asyncio.create_task(
                    reconcile_if_due(services, store), name="qbo-reconcile"
                )
                reconciling.add_done_callback(_log_failure)
            pause = 1.0
        except asyncio.CancelledError:
            if reconciling is not None:
                reconciling.cancel()
            raise
        except (StoreError, qbe.QBOError, OSError) as exc:
            log.warning("webhook worker: %s; again in %.0fs", exc, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 60.0)
        except Exception:
            log.exception("webhook worker failed; again in %.0fs", pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 60.0)


def _log_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("reconciliation failed: %s; it runs again later", task.exception())
