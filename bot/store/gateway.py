"""The gateway reconciliation's state: its cursor and the sales it still watches.

- ``P gateway:cursor`` — the time the last reconciliation read the gateway up to (RFC 3339);
  the next one reads from it less an overlap.
- ``P gateway:watch`` — hash transaction id → the transaction's JSON (as the gateway last
  showed it): sales not yet seen healthy (waiting for their grace period, or flagged). A
  sale leaves it once its receipt is in QuickBooks (or it was reversed with no receipt); the
  gateway brings it back if it changes again (refund, void, return).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.store.base import StoreBase, as_text
from bot.store.errors import translate_errors
from gateway.models import Transaction


class GatewayStateStore(StoreBase):
    """The reconciliation's cursor and watched sales."""

    async def gateway_cursor(self) -> datetime | None:
        with translate_errors():
            raw = await self.redis.get(self.key("gateway", "cursor"))
        return None if raw is None else datetime.fromisoformat(as_text(raw))

    async def watched_sales(self) -> dict[str, Transaction]:
        with translate_errors():
            rows = await self.redis.hgetall(self.key("gateway", "watch"))
        return {as_text(k): Transaction.model_validate_json(as_text(v)) for k, v in rows.items()}

    async def save_reconciliation(
        self, cursor: datetime, watch: Iterable[Transaction], drop: Iterable[str]
    ) -> None:
        """Watch ``watch``, stop watching ``drop`` and move the cursor, in one transaction."""
        if cursor.tzinfo is None:
            raise ValueError("the gateway cursor must carry a time zone")
        keep: dict[Any, Any] = {t.transaction_id: t.model_dump_json() for t in watch}
        gone = [d for d in drop if d not in keep]
        key = self.key("gateway", "watch")
        with translate_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                if keep:
                    pipe.hset(key, mapping=keep)
                if gone:
                    pipe.hdel(key, *gone)
                pipe.set(self.key("gateway", "cursor"), cursor.isoformat())
                await pipe.execute()
