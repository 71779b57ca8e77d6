"""QuickBooks tokens kept in Redis, encrypted at rest, with a lock every process shares."""

from __future__ import annotations

import base64
import hashlib
from contextlib import AbstractAsyncContextManager
from typing import Any

import redis.asyncio as aioredis
from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from qb.auth import TokenRecord, utcnow

_PLAIN = b"plain:"
_FERNET = b"fernet:"


def token_key(prefix: str, realm_id: str) -> str:
    """The key of company ``realm_id``'s token record: ``<prefix>qbo:token:<realm>``."""
    return f"{prefix}qbo:token:{realm_id}"


class TokenStoreError(RuntimeError):
    """The token store is misconfigured or its content cannot be read."""


def _fernet(key: SecretStr) -> Fernet:
    raw = key.get_secret_value().strip()
    try:
        return Fernet(raw.encode())
    except ValueError:
        # Not a Fernet key: derive one from the passphrase.
        digest = hashlib.sha256(raw.encode()).digest()
        return Fernet(base64.urlsafe_b64encode(digest))


class RedisTokenStore:
    """A :class:`qb.auth.TokenStore` in Redis.

    The record is encrypted with Fernet when ``encryption_key`` (a Fernet key or any
    passphrase) is given. Without a key, ``save`` refuses unless ``allow_plaintext``.
    ``refresh_lock`` is a redis-py Lock, so every process sharing the Redis sees it.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        lock_key: str,
        *,
        encryption_key: SecretStr | None,
        allow_plaintext: bool = False,
        lock_timeout: float = 60.0,
        lock_wait: float = 90.0,
    ) -> None:
        self._redis = redis
        self._key = key
        self._lock_key = lock_key
        self._fernet = _fernet(encryption_key) if encryption_key is not None else None
        self._allow_plaintext = allow_plaintext
        self._lock_timeout = lock_timeout
        self._lock_wait = lock_wait

    def _encode(self, rec: TokenRecord) -> bytes:
        raw = rec.to_secret_json().encode()
        if self._fernet is not None:
            return _FERNET + self._fernet.encrypt(raw)
        if not self._allow_plaintext:
            raise TokenStoreError(
                "refusing to store QuickBooks tokens unencrypted: set TOKEN_ENCRYPTION_KEY"
            )
        return _PLAIN + raw

    def _decode(self, blob: bytes) -> TokenRecord:
        if blob.startswith(_FERNET):
            if self._fernet is None:
                raise TokenStoreError(
                    "stored QuickBooks tokens are encrypted: set TOKEN_ENCRYPTION_KEY"
                )
            try:
                raw = self._fernet.decrypt(blob[len(_FERNET) :])
            except InvalidToken as exc:
                raise TokenStoreError(
                    "cannot decrypt the stored QuickBooks tokens: TOKEN_ENCRYPTION_KEY changed? "
                    "Reconnect with `python app.py qbo-connect`"
                ) from exc
            return TokenRecord.from_secret_json(raw)
        if blob.startswith(_PLAIN):
            return TokenRecord.from_secret_json(blob[len(_PLAIN) :])
        raise TokenStoreError("stored QuickBooks tokens are in an unknown format")

    async def load(self) -> TokenRecord | None:
        """The stored record, or ``None``."""
        blob = await self._redis.get(self._key)
        if blob is None:
            return None
        if isinstance(blob, str):
            blob = blob.encode()
        return self._decode(blob)

    async def save(self, rec: TokenRecord) -> None:
        """Store ``rec`` (encrypted)."""
        await self._redis.set(self._key, self._encode(rec))

    def refresh_lock(self) -> AbstractAsyncContextManager[Any]:
        """redis-py's Lock on ``lock_key``: expires after ``lock_timeout`` if a holder dies."""
        return self._redis.lock(
            self._lock_key, timeout=self._lock_timeout, blocking_timeout=self._lock_wait
        )

    async def seed(self, refresh_token: str | SecretStr, *, realm_id: str | None = None) -> bool:
        """Store a record holding only ``refresh_token`` if nothing is stored yet.

        Returns True if it was stored (the first start), False if a record already existed
        (the stored refresh token is newer than the configured one).
        """
        token = refresh_token if isinstance(refresh_token, SecretStr) else SecretStr(refresh_token)
        rec = TokenRecord(refresh_token=token, updated_at=utcnow(), realm_id=realm_id)
        return bool(await self._redis.set(self._key, self._encode(rec), nx=True))
