"""From changed QuickBooks entities to the work they call for, whether a webhook or the
catch-up found them: which failures depend on them (the index; a payment also reaches the
failures of its invoices and customer, a credit memo those of its customer), each followed
once (``bot.webhooks.follow``), and the pending payments they could make fail warned about
(``bot.webhooks.warn``).

Disorder and repeats: the entity is read as it is *now* and its ``LastUpdatedTime`` (with its
``SyncToken``, as QuickBooks' times are whole seconds) compared with the one last acted on
(``wh:seen``); the same state twice is acted on once, and an old
event delivered late finds the newest state already handled. The final state always wins
because it is the only one ever read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.runtime.services import Services
from bot.store.webhooks import WebhookStore, entity_key
from bot.webhooks.follow import Changed, follow
from bot.webhooks.index import FOLLOWED, refresh_index
from bot.webhooks.warn import warn_pending
from qb.models import CreditMemo, Customer, Entity, Invoice
from qb.models import Payment as QBPayment

log = logging.getLogger(__name__)
AT_ONCE = 4
"""Failures re-diagnosed at once (each reads ConnectBooster and QuickBooks)."""

MODELS: dict[str, type[Entity]] = {
    "Invoice": Invoice,
    "Payment": QBPayment,
    "CreditMemo": CreditMemo,
    "Customer": Customer,
}


@dataclass
class Settled:
    """What one pass did."""

    entities: int = 0
    unchanged: int = 0
    followed: set[str] = field(default_factory=set)
    warned: set[str] = field(default_factory=set)


async def fetch_current(services: Services, keys: Sequence[str]) -> dict[str, Entity | None]:
    """Each ``Type:id`` as QuickBooks has it now (``None``: gone), a few IN queries in all."""
    by_type: dict[str, list[str]] = {}
    for k in keys:
        name, _, eid = k.partition(":")
        if name in MODELS:
            by_type.setdefault(name, []).append(eid)
    asks = []
    for name, ids in by_type.items():
        asks.append(services.qbo.query_in(MODELS[name], "Id", ids))
        if name == "Customer":  # an inactive customer is only listed when asked for
            asks.append(services.qbo.query_in(Customer, "Id", ids, extra_where="Active = false"))
    found: dict[str, Entity | None] = {k: None for k in keys if k.partition(":")[0] in MODELS}
    for rows in await asyncio.gather(*asks):
        for e in rows:
            found[entity_key(e.entity_name, str(e.id))] = e
    return found


def _state(entity: Entity | None) -> str:
    if entity is None or entity.is_deleted:
        return "deleted"
    at = entity.updated_at  # whole seconds in QuickBooks: the SyncToken tells two apart
    return f"{at.isoformat() if at is not None else 'unknown'}|{entity.sync_token or ''}"


def _reaches(key: str, entity: Entity | None) -> list[str]:
    """The keys a change of ``key`` reaches: itself, and a payment's invoices and customer,
    a credit memo's customer."""
    out = [key]
    if isinstance(entity, QBPayment):
        out += [entity_key("Invoice", i) for i in entity.linked_ids("Invoice")]
    if isinstance(entity, (QBPayment, CreditMemo)) and entity.customer_ref is not None:
        out.append(entity_key("Customer", entity.customer_ref.value))
    return out


async def settle(
    services: Services,
    store: WebhookStore,
    current: Mapping[str, Entity | None],
    *,
    times: Mapping[str, datetime | None] | None = None,
    force: bool = False,
) -> Settled:
    """Act on ``current`` (``Type:id`` → the entity now, ``None`` when gone): see the module
    docstring. ``force``: act even on a state already acted on (the reconciliation)."""
    done = Settled(entities=len(current))
    keys = [k for k in current if k.partition(":")[0] in FOLLOWED]
    seen = await store.seen(keys)
    moved = {k: _state(current[k]) for k in keys}
    fresh = [k for k in keys if force or seen.get(k) != moved[k]]
    done.unchanged = len(keys) - len(fresh)
    if not fresh:
        return done
    await refresh_index(services, store)
    reach = {k: _reaches(k, current[k]) for k in fresh}
    deps = await store.dependents(list({r for rs in reach.values() for r in rs}))
    work: dict[str, list[Changed]] = {}
    for k in fresh:
        entity = current[k]
        name, _, eid = k.partition(":")
        at = entity.updated_at if entity is not None else (times or {}).get(k)
        change = Changed(name, eid, moved[k] == "deleted", at)
        for r in reach[k]:
            for pid in deps.get(r, ()):
                work.setdefault(pid, [])
                if change not in work[pid]:
                    work[pid].append(change)
    gate = asyncio.Semaphore(AT_ONCE)

    async def one(pid: str, changes: list[Changed]) -> None:
        async with gate:
            try:
                if await follow(services, store, pid, changes):
                    done.followed.add(pid)
            except Exception:  # one failure's trouble does not stop the others
                log.exception("following payment %s after a QuickBooks change failed", pid)

    await asyncio.gather(*(one(p, c) for p, c in work.items()))
    done.warned = await warn_pending(services, store, {k: current[k] for k in fresh})
    await store.set_seen({k: moved[k] for k in fresh})
    return done
