"""Records as versioned JSON: ``{"schema_version": n, "data": {...}}``.

Every record the store keeps for longer than a conversation (failure records, alert state)
is written with the schema version of the release that wrote it. A reader refuses a newer
version (:class:`~bot.store.errors.SchemaTooNew`) instead of misreading it, so an older
release running beside a newer one during a deploy never overwrites what it cannot read.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from bot.store.errors import CorruptRecord, SchemaTooNew

SCHEMA_VERSION = 1
M = TypeVar("M", bound=BaseModel)


def dump_versioned(model: BaseModel, version: int = SCHEMA_VERSION) -> str:
    """A model as JSON with its schema version."""
    return json.dumps({"schema_version": version, "data": model.model_dump(mode="json")})


def load_versioned(cls: type[M], raw: bytes | str, version: int = SCHEMA_VERSION) -> M:
    """Read what ``dump_versioned`` wrote; refuse a newer schema instead of misreading it."""
    try:
        doc = json.loads(raw)
        found = int(doc["schema_version"])
        data = doc["data"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptRecord(f"{cls.__name__} record is not versioned JSON") from exc
    if found > version:
        raise SchemaTooNew(
            f"{cls.__name__} record has schema version {found}; this release reads up to "
            f"{version}. Upgrade the bot, or run the release that wrote it."
        )
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise CorruptRecord(f"{cls.__name__} record does not validate") from exc
