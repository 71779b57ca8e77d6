"""The write operations of ``qb.client.QBOClient``: create, update and delete a received
payment, and send a sparse update of any object.

Every write is a POST carrying a ``requestid`` (at most ``MAX_REQUEST_ID`` characters): QBO
answers a repeated one with its first answer, so the client's transport may retry it.
``PaymentWrites`` is a mixin of ``QBOClient``: it builds the request bodies and reads the
answers, and goes through the client (``ClientCore``) for the rest — its transport
(``_request``: limits, retries, token refresh) and its reads (``get``, to re-read a payment
whose SyncToken went stale).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from qb.errors import StaleObjectError
from qb.models import Entity, Payment

E = TypeVar("E", bound=Entity)

MAX_REQUEST_ID = 50
"""The longest ``requestid`` QBO takes."""


class ClientCore(Protocol):
    """What the writes need of the client they are mixed into."""

    async def _request(
        self,
        method: str,
        path: str,
        *,
        kind: str,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        request_id: str | None = None,
    ) -> Any: ...

    async def get(self, cls: type[E], id: str) -> E: ...


class PaymentWrites:
    """The writes of ``QBOClient`` (a mixin: ``self`` is the client)."""

    async def create_payment(self: ClientCore, p: Payment, *, request_id: str) -> Payment:
        """Create a received payment; repeating ``request_id`` returns the first answer."""
        body = p.to_qbo()
        for k in ("Id", "SyncToken", "MetaData", "status"):
            body.pop(k, None)
        data = await self._request(
            "POST", "/payment", kind="create", json_body=body, request_id=request_id
        )
        return Payment.model_validate(data["Payment"])

    async def update_payment(
        self: ClientCore, p: Payment, *, request_id: str, sparse: bool = True
    ) -> Payment:
        """Update a payment (``p.id`` and ``p.sync_token`` required). Lines are replaced
        whole. On a stale SyncToken (5010) it re-reads the payment, re-applies the same
        change on the fresh SyncToken and retries once (requestid ``<request_id>-r``)."""
        if not p.id or p.sync_token is None:
            raise ValueError("update_payment needs the payment's id and sync_token")
        body = p.model_dump(by_alias=True, exclude_none=True, exclude_unset=sparse)
        body.pop("MetaData", None)
        body.update(Id=p.id, SyncToken=p.sync_token, sparse=sparse)
        try:
            data = await self._request(
                "POST", "/payment", kind="update", json_body=body, request_id=request_id
            )
        except StaleObjectError:
            fresh = await self.get(Payment, p.id)
            body["SyncToken"] = fresh.sync_token
            data = await self._request(
                "POST",
                "/payment",
                kind="update",
                json_body=body,
                request_id=f"{request_id[: MAX_REQUEST_ID - 2]}-r",
            )
        return Payment.model_validate(data["Payment"])

    async def update(self: ClientCore, entity: E, *, request_id: str) -> E:
        """Send the fields set on ``entity`` (``Id``, ``SyncToken``, ``sparse``) as they are: a
        stale SyncToken (5010) raises ``StaleObjectError``, never re-applied on the fresh one."""
        if not entity.id or entity.sync_token is None:
            raise ValueError("update needs the object's Id and SyncToken")
        body = entity.model_dump(by_alias=True, exclude_none=True, exclude_unset=True)
        name = entity.entity_name
        data = await self._request(
            "POST", f"/{name.lower()}", kind="update", json_body=body, request_id=request_id
        )
        return type(entity).model_validate(data[name])

    async def delete_payment(
        self: ClientCore, id: str, sync_token: str, *, request_id: str
    ) -> None:
        """Delete a payment (hard delete in QBO)."""
        await self._request(
            "POST",
            "/payment",
            kind="delete",
            params={"operation": "delete"},
            json_body={"Id": id, "SyncToken": sync_token},
            request_id=request_id,
        )


__all__ = ["MAX_REQUEST_ID", "ClientCore", "PaymentWrites"]
