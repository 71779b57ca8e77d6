"""What QuickBooks sends to ``POST /qbo/webhooks``, checked and read.

:func:`signature_ok` checks ``intuit-signature`` (base64 of HMAC-SHA256 over the raw body,
keyed with the app's Verifier Token) in constant time, before anything is parsed.
:func:`parse_changes` reads both payloads Intuit sends — the CloudEvents array
(``[{"specversion": "1.0", "id": …, "type": "qbo.invoice.updated.v1", "intuitentityid": …,
"intuitaccountid": …}]``) and the legacy ``{"eventNotifications": [...]}`` body — into one
list of :class:`EntityChange`; anything else raises :class:`MalformedWebhook` with words that
say what is wrong. A legacy entity carries no event id: its id is a hash of what it says, so a
repeat of the same notification has the same id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

ENTITIES = frozenset(
    {"Invoice", "Payment", "CreditMemo", "Customer", "Deposit", "RefundReceipt", "SalesReceipt"}
)
"""The entity names the bot reads (others are accepted and ignored)."""

VERBS = {
    "created": "Create",
    "updated": "Update",
    "deleted": "Delete",
    "merged": "Merge",
    "voided": "Void",
    "void": "Void",
    "emailed": "Emailed",
}
"""CloudEvents verbs → the legacy operation names (both ``voided`` and ``void`` are seen)."""

_TYPE = re.compile(r"^qbo\.([a-z]+)\.([a-z]+)\.v\d+$")
_NAMES = {name.lower(): name for name in ENTITIES}
MAX_EVENTS = 1000
"""More events than this in one delivery is not a QuickBooks delivery."""


class MalformedWebhook(ValueError):
    """The body is not a QuickBooks webhook payload; the message says why."""


class EntityChange(BaseModel):
    """One changed entity: the event's id, the company, the entity and what happened."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    realm_id: str
    entity: str  # Invoice, Payment, ... (QuickBooks' spelling)
    entity_id: str
    operation: str  # Create, Update, Delete, Merge, Void, Emailed
    at: datetime | None = None  # when QuickBooks says it changed
    deleted_id: str | None = None  # a merged entity's old id


class _CloudEvent(BaseModel):
    specversion: str
    id: str = Field(min_length=1, max_length=200)
    type: str = Field(pattern=_TYPE.pattern)
    time: AwareDatetime | None = None
    intuitentityid: str = Field(min_length=1, max_length=64)
    intuitaccountid: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] | None = None


class _LegacyEntity(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    id: str = Field(min_length=1, max_length=64)
    operation: str = Field(min_length=1, max_length=32)
    lastUpdated: AwareDatetime | None = None
    deletedId: str | None = None


class _DataChange(BaseModel):
    entities: list[_LegacyEntity]


class _Notification(BaseModel):
    realmId: str = Field(min_length=1, max_length=64)
    dataChangeEvent: _DataChange


class _Legacy(BaseModel):
    eventNotifications: list[_Notification]


def sign(token: str, raw: bytes) -> str:
    """The ``intuit-signature`` of ``raw`` under Verifier Token ``token``."""
    mac = hmac.new(token.encode(), raw, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def signature_ok(token: str, raw: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is ``raw``'s signature under ``token`` (constant time)."""
    if not signature or not token:
        return False
    return hmac.compare_digest(sign(token, raw).encode(), signature.strip().encode())


def _from_cloud(ev: _CloudEvent) -> EntityChange:
    m = _TYPE.match(ev.type)
    assert m is not None  # the field's pattern matched already
    noun, verb = m.group(1), m.group(2)
    deleted = (ev.data or {}).get("deletedId") if isinstance(ev.data, dict) else None
    return EntityChange(
        event_id=ev.id,
        realm_id=ev.intuitaccountid,
        entity=_NAMES.get(noun, noun.capitalize()),
        entity_id=ev.intuitentityid,
        operation=VERBS.get(verb, verb.capitalize()),
        at=ev.time,
        deleted_id=str(deleted) if deleted else None,
    )


def _legacy_id(realm: str, e: _LegacyEntity) -> str:
    at = e.lastUpdated.isoformat() if e.lastUpdated else ""
    said = f"{realm}|{e.name}|{e.id}|{e.operation}|{at}"
    return "legacy-" + hashlib.sha256(said.encode()).hexdigest()[:32]


def _from_legacy(body: _Legacy) -> list[EntityChange]:
    return [
        EntityChange(
            event_id=_legacy_id(n.realmId, e),
            realm_id=n.realmId,
            entity=e.name,
            entity_id=e.id,
            operation=e.operation,
            at=e.lastUpdated,
            deleted_id=e.deletedId,
        )
        for n in body.eventNotifications
        for e in n.dataChangeEvent.entities
    ]


def parse_changes(raw: bytes) -> list[EntityChange]:
    """The changes a delivery reports, in the order sent (``MalformedWebhook`` otherwise)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise MalformedWebhook("the body is not JSON") from None
    try:
        if isinstance(body, list):
            if len(body) > MAX_EVENTS:
                raise MalformedWebhook(f"more than {MAX_EVENTS} events in one delivery")
            return [_from_cloud(_CloudEvent.model_validate(ev)) for ev in body]
        if isinstance(body, dict) and "eventNotifications" in body:
            changes = _from_legacy(_Legacy.model_validate(body))
            if len(changes) > MAX_EVENTS:
                raise MalformedWebhook(f"more than {MAX_EVENTS} events in one delivery")
            return changes
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise MalformedWebhook(f"not a QuickBooks event: {where}: {first.get('msg')}") from None
    raise MalformedWebhook(
        "neither a CloudEvents array nor an eventNotifications object: not a QuickBooks webhook"
    )
