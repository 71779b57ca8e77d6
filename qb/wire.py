"""The JSON QuickBooks Online sends and takes: batch items and their answers, exact decimals
on the way out (``dumps_json``) and entity models on the way in (``parse_entity``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from qb.errors import QBOError
from qb.models import ENTITY_TYPES, Entity


@dataclass
class BatchItem:
    """One item of a batch request: a ``query``, or an ``operation`` on ``entity``."""

    bid: str
    query: str | None = None
    operation: str | None = None  # create | update | delete
    entity: Entity | None = None
    sparse: bool = True

    def to_qbo(self) -> dict[str, Any]:
        if self.query is not None:
            return {"bId": self.bid, "Query": self.query}
        if self.entity is None or not self.operation:
            raise ValueError(f"batch item {self.bid}: give a query, or an operation and entity")
        body = self.entity.to_qbo()
        if self.operation == "update" and self.sparse:
            body["sparse"] = True
        if self.operation == "delete":
            body = {"Id": self.entity.id, "SyncToken": self.entity.sync_token}
        return {"bId": self.bid, "operation": self.operation, type(self.entity).entity_name: body}


@dataclass
class BatchResult:
    """The answer to one :class:`BatchItem`: rows of a query, the written entity, or the
    item's own fault as ``error``."""

    bid: str
    entities: list[Entity] = field(default_factory=list)
    entity: Entity | None = None
    error: QBOError | None = None


_DEC_MARK = "\x00dec:"
_DEC_RE = re.compile(r'"\\u0000dec:([-0-9.Ee+]+)"')


def dumps_json(obj: Any) -> str:
    """JSON for QBO: ``Decimal`` as exact numbers, dates and datetimes in ISO 8601."""

    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            return _DEC_MARK + str(o)
        if isinstance(o, datetime | date):
            return o.isoformat()
        raise TypeError(f"cannot send {type(o).__name__} to QBO")

    return _DEC_RE.sub(r"\1", json.dumps(obj, default=default, separators=(",", ":")))


def parse_entity(name: str, data: Mapping[str, Any]) -> Entity:
    """A model for a QBO object of type ``name`` (plain :class:`Entity` if unknown)."""
    cls = ENTITY_TYPES.get(name, Entity)
    return cls.model_validate(data)


def entity_key(data: Mapping[str, Any]) -> str | None:
    for k in data:
        if k in ENTITY_TYPES or (k[:1].isupper() and isinstance(data[k], dict) and k != "Fault"):
            return k
    return None
