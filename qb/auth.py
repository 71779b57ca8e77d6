"""OAuth 2.0 access tokens for QuickBooks Online, with refresh-token rotation.

Intuit may answer a refresh with a new refresh token; the old one later fails with
``invalid_grant``. So the newest refresh token is saved to the :class:`TokenStore` *before*
the new access token is handed out, and refreshing happens under the store's lock (shared
by every process using the store): exactly one refresh however many callers need a token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import aiohttp
from pydantic import AwareDatetime, BaseModel, Field, SecretStr

from qb.errors import (
    AuthenticationError,
    QBOError,
    ReconnectRequired,
    ServerError,
    TransportError,
    loads,
)

log = logging.getLogger(__name__)

DEFAULT_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"  # noqa: S105


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


class TokenRecord(BaseModel):
    """What is kept about one company's connection. Secrets never show in ``repr``."""

    access_token: SecretStr | None = None
    access_expires_at: AwareDatetime | None = None
    refresh_token: SecretStr
    updated_at: AwareDatetime = Field(default_factory=utcnow)
    realm_id: str | None = None

    def access_valid(self, now: datetime, early_seconds: float = 0) -> bool:
        """True if the access token exists and lives past ``now + early_seconds``."""
        if self.access_token is None or self.access_expires_at is None:
            return False
        return self.access_expires_at - timedelta(seconds=early_seconds) > now

    def to_secret_json(self) -> str:
        """JSON with the secrets in clear text: only for storing (encrypted) at rest."""
        data = self.model_dump(mode="json")
        data["refresh_token"] = self.refresh_token.get_secret_value()
        if self.access_token is not None:
            data["access_token"] = self.access_token.get_secret_value()
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_secret_json(cls, raw: str | bytes) -> TokenRecord:
        """Inverse of :meth:`to_secret_json`."""
        return cls.model_validate_json(raw)


class TokenStore(Protocol):
    """Where the newest tokens live, plus a lock shared by every process using it."""

    async def load(self) -> TokenRecord | None:
        """The stored record, or ``None`` if the company was never connected."""
        ...

    async def save(self, rec: TokenRecord) -> None:
        """Store ``rec``, replacing what was there."""
        ...

    def refresh_lock(self) -> AbstractAsyncContextManager[Any]:
        """A lock held while refreshing, shared by all processes using this store."""
        ...


class MemoryTokenStore:
    """A :class:`TokenStore` in memory, for one process (tests, demo)."""

    def __init__(self, rec: TokenRecord | None = None) -> None:
        self.rec = rec
        self.saves = 0
        self._lock = asyncio.Lock()

    async def load(self) -> TokenRecord | None:
        return self.rec

    async def save(self, rec: TokenRecord) -> None:
        self.rec = rec
        self.saves += 1

    def refresh_lock(self) -> AbstractAsyncContextManager[Any]:
        @asynccontextmanager
        async def _held() -> Any:
            async with self._lock:
                yield

        return _held()


def basic_auth(client_id: str, client_secret: SecretStr) -> str:
    """The ``Authorization: Basic`` value for Intuit's token endpoint."""
    raw = f"{client_id}:{client_secret.get_secret_value()}".encode()
    return "Basic " + base64.b64encode(raw).decode()


async def post_token_form(
    session: aiohttp.ClientSession,
    token_url: str,
    client_id: str,
    client_secret: SecretStr,
    form: dict[str, str],
    *,
    timeout: float = 30.0,  # noqa: ASYNC109 - passed to aiohttp's ClientTimeout
    now: datetime | None = None,
    realm_id: str | None = None,
    old_refresh: SecretStr | None = None,
) -> TokenRecord:
    """POST a grant to the token endpoint and turn the answer into a :class:`TokenRecord`.

    ``invalid_grant`` raises :class:`ReconnectRequired`; other refusals
    :class:`AuthenticationError`; 5xx :class:`ServerError`; no answer :class:`TransportError`.
    """
    headers = {
        "Authorization": basic_auth(client_id, client_secret),
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    try:
        async with session.post(
            token_url, data=form, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as resp:
            status = resp.status
            body = await resp.read()
            tid = resp.headers.get("intuit_tid")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TransportError(f"token endpoint unreachable: {type(exc).__name__}") from exc
    try:
        data = loads(body) if body else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if status >= 500:
        raise ServerError(f"token endpoint failed (HTTP {status})", status=status, intuit_tid=tid)
    if status != 200 or "access_token" not in data:
        error = str(data.get("error") or f"HTTP {status}")
        if error == "invalid_grant":
            raise ReconnectRequired(status=status, intuit_tid=tid, code="invalid_grant")
        raise AuthenticationError(
            f"token endpoint refused the grant: {error}",
            code=error,
            status=status,
            intuit_tid=tid,
        )
    now = now or utcnow()
    refresh = data.get("refresh_token")
    if not refresh and old_refresh is None:
        raise AuthenticationError("token endpoint answered without a refresh token", status=status)
    return TokenRecord(
        access_token=SecretStr(str(data["access_token"])),
        access_expires_at=now + timedelta(seconds=int(data.get("expires_in", 3600))),
        refresh_token=SecretStr(str(refresh)) if refresh else old_refresh,
        updated_at=now,
        realm_id=realm_id,
    )


class OAuthClient:
    """Hands out a valid access token, refreshing it exactly once when needed.

    ``access_token()`` reuses the token until ``early_seconds`` before it expires.
    Concurrent callers in this process wait on one local lock; other processes wait on the
    store's lock and then find the fresh token the winner saved.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        client_id: str,
        client_secret: SecretStr,
        token_url: str = DEFAULT_TOKEN_URL,
        store: TokenStore,
        early_seconds: float = 300,
        clock: Callable[[], datetime] = utcnow,
        timeout: float = 30.0,
    ) -> None:
        self._session = session
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_url = token_url
        self._store = store
        self._early = early_seconds
        self._clock = clock
        self._timeout = timeout
        self._cached: TokenRecord | None = None
        self._lock = asyncio.Lock()
        self.refreshes = 0
        """How many refreshes this client made (the token endpoint was called)."""

    def _fresh(self, rec: TokenRecord | None) -> bool:
        return rec is not None and rec.access_valid(self._clock(), self._early)

    async def access_token(self) -> str:
        """A valid access token; refreshes (once, under the lock) if it is about to expire."""
        rec = self._cached
        if rec is not None and self._fresh(rec):
            return rec.access_token.get_secret_value()  # type: ignore[union-attr]
        async with self._lock:
            rec = self._cached
            if rec is None or not self._fresh(rec):
                rec = await self._store.load()
                if rec is None or not self._fresh(rec):
                    rec = await self._refresh_locked(stale=None)
                self._cached = rec
            return rec.access_token.get_secret_value()  # type: ignore[union-attr]

    async def refresh(self, stale: str | None) -> str:
        """After QBO refused ``stale`` (401/3200): refresh unless someone already did.

        Returns the access token to retry with.
        """
        async with self._lock:
            rec = self._cached
            if rec is not None and self._usable_instead_of(rec, stale):
                return rec.access_token.get_secret_value()  # type: ignore[union-attr]
            rec = await self._refresh_locked(stale=stale)
            self._cached = rec
            return rec.access_token.get_secret_value()  # type: ignore[union-attr]

    def _usable_instead_of(self, rec: TokenRecord, stale: str | None) -> bool:
        if rec.access_token is None or not rec.access_valid(self._clock()):
            return False
        return stale is not None and rec.access_token.get_secret_value() != stale

    async def _refresh_locked(self, *, stale: str | None) -> TokenRecord:
        async with self._store.refresh_lock():
            rec = await self._store.load()
            if rec is None:
                raise ReconnectRequired(
                    "QuickBooks is not connected yet: run `python app.py qbo-connect`"
                )
            if stale is None and self._fresh(rec):
                return rec
            if stale is not None and self._usable_instead_of(rec, stale):
                return rec
            new = await post_token_form(
                self._session,
                self._token_url,
                self._client_id,
                self._client_secret,
                {
                    "grant_type": "refresh_token",
                    "refresh_token": rec.refresh_token.get_secret_value(),
                },
                timeout=self._timeout,
                now=self._clock(),
                realm_id=rec.realm_id,
                old_refresh=rec.refresh_token,
            )
            self.refreshes += 1
            try:
                await self._store.save(new)  # before anyone uses the new access token
            except Exception as exc:
                log.error("could not store the rotated QBO refresh token: %s", type(exc).__name__)
                raise QBOError("could not store the rotated QuickBooks refresh token") from exc
            log.info("refreshed the QBO access token (realm %s)", rec.realm_id or "?")
            return new
