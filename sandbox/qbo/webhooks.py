"""The QBO stand-in's webhooks: when the books of a watched company change, it sends signed
notifications to one URL, as Intuit does.

- Both payloads: the CloudEvents array (``fmt="cloudevents"``) or the legacy
  ``eventNotifications`` body (``fmt="legacy"``), or each delivery in turn (``"alternate"``).
- Signed: ``intuit-signature`` is base64 of HMAC-SHA256 over the body with the verifier token.
- Changes within ``window`` seconds travel in one delivery (at most ``max_events``).
- Delivery in order, one at a time; a delivery not answered 200 within ``timeout`` is retried
  on Intuit's schedule (10 s, 20 s, 30 s, 5 min, 20 min, 2 h, 4 h, 6 h, then every 6 h), scaled
  by ``time_scale`` for tests, and later deliveries wait behind it.
- Test knobs: ``duplicate`` (each delivery sent twice), ``reorder`` (the events of a delivery
  sent newest first, and each delivery's events with their time), ``stats`` counts what
  happened.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import aiohttp

from sandbox.qbo.company import SandboxCompany

log = logging.getLogger(__name__)

INTUIT_RETRY_SCHEDULE = (10.0, 20.0, 30.0, 300.0, 1200.0, 7200.0, 14400.0, 21600.0)
"""Seconds before each retry; after the last, every 6 hours."""
NOTIFIED = frozenset({"Invoice", "Payment", "CreditMemo", "Customer", "Deposit", "RefundReceipt"})
VERBS = {"Create": "created", "Update": "updated", "Delete": "deleted", "Void": "voided"}
VERBS["Merge"] = "merged"


@dataclass
class Change:
    realm_id: str
    entity: str
    entity_id: str
    operation: str
    at: datetime
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    queued: float = 0.0  # loop time when it happened (for latency measurements)


@dataclass
class SenderStats:
    notified: int = 0  # changes queued
    deliveries: int = 0
    acknowledged: int = 0
    refused: int = 0
    events: int = 0
    retries: int = 0
    statuses: list[int] = field(default_factory=list)


def cloudevents_body(changes: list[Change]) -> list[dict[str, Any]]:
    return [
        {
            "specversion": "1.0",
            "id": c.id,
            "source": "intuit.sandbox",
            "type": f"qbo.{c.entity.lower()}.{VERBS.get(c.operation, c.operation.lower())}.v1",
            "datacontenttype": "application/json",
            "time": c.at.isoformat(),
            "intuitentityid": c.entity_id,
            "intuitaccountid": c.realm_id,
            "data": {},
        }
        for c in changes
    ]


def legacy_body(changes: list[Change]) -> dict[str, Any]:
    realms: dict[str, list[dict[str, Any]]] = {}
    for c in changes:
        realms.setdefault(c.realm_id, []).append(
            {
                "name": c.entity,
                "id": c.entity_id,
                "operation": c.operation,
                "lastUpdated": c.at.isoformat(),
            }
        )
    return {
        "eventNotifications": [
            {"realmId": r, "dataChangeEvent": {"entities": es}} for r, es in realms.items()
        ]
    }


def signature(token: str, raw: bytes) -> str:
    return base64.b64encode(hmac.new(token.encode(), raw, hashlib.sha256).digest()).decode()


class WebhookSender:
    """Sends a watched company's changes to ``url`` (see the module docstring)."""

    def __init__(
        self,
        verifier_token: str,
        url: str | None = None,
        *,
        fmt: Literal["cloudevents", "legacy", "alternate"] = "cloudevents",
        window: float = 0.05,
        max_events: int = 100,
        timeout: float = 3.0,
        time_scale: float = 1.0,
        duplicate: bool = False,
        reorder: bool = False,
    ) -> None:
        self.verifier_token = verifier_token
        self.url = url
        self.fmt = fmt
        self.window = window
        self.max_events = max_events
        self.timeout = timeout
        self.time_scale = time_scale
        self.duplicate = duplicate
        self.reorder = reorder
        self.stats = SenderStats()
        self.sent: list[Change] = []  # every change delivered and acknowledged
        self._queue: asyncio.Queue[Change] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._turn = 0

    def watch(self, company: SandboxCompany) -> None:
        """Send ``company``'s changes."""
        company.listeners.append(
            lambda entity, id_, op, at: self.notify(company.realm_id, entity, id_, op, at)
        )

    def notify(self, realm_id: str, entity: str, entity_id: str, op: str, at: datetime) -> None:
        if entity not in NOTIFIED or self.url is None:
            return
        try:
            loop_time = asyncio.get_running_loop().time()
        except RuntimeError:
            loop_time = 0.0
        self.stats.notified += 1
        self._queue.put_nowait(Change(realm_id, entity, entity_id, op, at, queued=loop_time))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="qbo-webhooks")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def idle(self) -> bool:
        """Every change queued so far was delivered and acknowledged."""
        return self.stats.notified == len(self.sent) // (2 if self.duplicate else 1)

    def body(self, changes: list[Change]) -> bytes:
        fmt = self.fmt
        if fmt == "alternate":
            fmt = "legacy" if self._turn % 2 else "cloudevents"
            self._turn += 1
        out = legacy_body(changes) if fmt == "legacy" else cloudevents_body(changes)
        return json.dumps(out).encode()

    async def _batch(self) -> list[Change]:
        first = await self._queue.get()
        out = [first]
        loop = asyncio.get_running_loop()
        until = loop.time() + self.window
        while len(out) < self.max_events:
            left = until - loop.time()
            if left <= 0:
                break
            try:
                out.append(await asyncio.wait_for(self._queue.get(), left))
            except TimeoutError:
                break
        return out[::-1] if self.reorder else out

    async def _run(self) -> None:
        self._session = aiohttp.ClientSession()
        while True:
            changes = await self._batch()
            raw = self.body(changes)
            for _ in range(2 if self.duplicate else 1):
                await self._deliver(raw, changes)

    async def _deliver(self, raw: bytes, changes: list[Change]) -> None:
        attempt = 0
        while True:
            ok = await self._send_once(raw)
            if ok:
                self.stats.acknowledged += 1
                self.stats.events += len(changes)
                self.sent.extend(changes)
                return
            delay = INTUIT_RETRY_SCHEDULE[min(attempt, len(INTUIT_RETRY_SCHEDULE) - 1)]
            attempt += 1
            self.stats.retries += 1
            await asyncio.sleep(delay * self.time_scale)

    async def _send_once(self, raw: bytes) -> bool:
        assert self._session is not None and self.url is not None
        self.stats.deliveries += 1
        headers = {
            "content-type": "application/json",
            "intuit-signature": signature(self.verifier_token, raw),
        }
        try:
            async with self._session.post(
                self.url, data=raw, headers=headers, timeout=aiohttp.ClientTimeout(self.timeout)
            ) as resp:
                self.stats.statuses.append(resp.status)
                if resp.status == 200:
                    return True
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("webhook delivery failed: %s", exc)
        self.stats.refused += 1
        return False
