"""OAuth: token reuse, exactly one refresh (in one process and across processes sharing
Redis), rotation stored before use, invalid_grant, the token store, qbo-connect."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.store.tokens import RedisTokenStore, TokenStoreError
from qb.auth import MemoryTokenStore, OAuthClient, TokenRecord
from qb.connect import consent_url, run_connect
from qb.errors import QBOError, ReconnectRequired
from qb.models import Invoice
from tests.conftest import ROOT
from tests.qbo_fixtures import REALM, QBOEnv, seed_invoice, start_qbo

KEY = Fernet.generate_key().decode()


@pytest.fixture
async def env() -> AsyncIterator[QBOEnv]:
    async with start_qbo() as e:
        yield e


def redis_store(client: aioredis.Redis, prefix: str, key: str | None = KEY) -> RedisTokenStore:
    return RedisTokenStore(
        client,
        f"{prefix}qbo:tokens",
        f"{prefix}qbo:refresh-lock",
        encryption_key=SecretStr(key) if key else None,
    )


def expired_record(env: QBOEnv) -> TokenRecord:
    """A record whose access token has expired (on both sides) and a live refresh token."""
    token = env.sandbox.issue_access_token(REALM)
    env.sandbox.expire_access_tokens()
    return TokenRecord(
        access_token=SecretStr(token),
        access_expires_at=datetime.now(UTC) - timedelta(seconds=5),
        refresh_token=SecretStr(env.sandbox.issue_refresh_token(REALM)),
        realm_id=REALM,
    )


async def test_access_token_reused_until_shortly_before_expiry(env: QBOEnv) -> None:
    now = [datetime.now(UTC)]
    rec = TokenRecord(
        access_token=SecretStr(env.sandbox.issue_access_token(REALM)),
        access_expires_at=now[0] + timedelta(seconds=3600),
        refresh_token=SecretStr(env.sandbox.issue_refresh_token(REALM)),
    )
    auth = env.new_auth(MemoryTokenStore(rec), early_seconds=300, clock=lambda: now[0])
    first = await auth.access_token()
    now[0] += timedelta(seconds=3000)  # 600 s left: still reused
    assert await auth.access_token() == first and env.sandbox.stats.refreshes == 0
    now[0] += timedelta(seconds=400)  # 200 s left: inside the early window
    second = await auth.access_token()
    assert second != first and env.sandbox.stats.refreshes == 1
    assert await auth.access_token() == second


async def test_50_concurrent_calls_with_expired_token_refresh_once(
    env: QBOEnv, redis_client: aioredis.Redis, redis_prefix: str, redis_url: str
) -> None:
    store = redis_store(redis_client, redis_prefix)
    original = expired_record(env)
    await store.save(original)
    client = env.new_client(auth=env.new_auth(store))
    inv = seed_invoice(
        env.company, env.company.create("Customer", {"DisplayName": "A"})["Id"], "5.00"
    )
    results = await asyncio.gather(*(client.get(Invoice, inv["Id"]) for _ in range(50)))
    assert len(results) == 50
    assert env.sandbox.stats.refreshes == 1
    stored = await store.load()
    assert stored is not None
    newest = stored.refresh_token.get_secret_value()
    assert newest != original.refresh_token.get_secret_value()  # rotated and kept
    # the old refresh token is dead now
    stale = env.new_auth(
        MemoryTokenStore(
            expired_record(env).model_copy(update={"refresh_token": original.refresh_token})
        )
    )
    with pytest.raises(ReconnectRequired):
        await stale.access_token()
    # a fresh "process": new Redis connection, new store, new OAuthClient
    other_redis = aioredis.Redis.from_url(redis_url)
    try:
        fresh_store = redis_store(other_redis, redis_prefix)
        fresh = env.new_auth(fresh_store)
        assert stored.access_token is not None
        assert await fresh.access_token() == stored.access_token.get_secret_value()
        env.sandbox.expire_access_tokens()
        await fresh_store.save(
            stored.model_copy(
                update={"access_expires_at": datetime.now(UTC) - timedelta(seconds=1)}
            )
        )
        fresh2 = env.new_auth(fresh_store)
        await fresh2.access_token()  # refreshes with the newest refresh token: works
        assert env.sandbox.stats.refreshes == 2
    finally:
        await other_redis.aclose()


CHILD = """
import asyncio, os, sys
import aiohttp, redis.asyncio as aioredis
from pydantic import SecretStr
from bot.store.tokens import RedisTokenStore
from qb.auth import OAuthClient

async def main():
    r = aioredis.Redis.from_url(os.environ["T_REDIS"])
    store = RedisTokenStore(r, os.environ["T_KEY"], os.environ["T_LOCK"],
                            encryption_key=SecretStr(os.environ["T_FERNET"]))
    async with aiohttp.ClientSession() as s:
        auth = OAuthClient(s, client_id="sandbox-client-id",
                           client_secret=SecretStr("sandbox-client-secret"),
                           token_url=os.environ["T_URL"], store=store)
        tokens = await asyncio.gather(*(auth.access_token() for _ in range(10)))
    await r.aclose()
    print(len(set(tokens)), auth.refreshes, tokens[0][-8:])

asyncio.run(main())
"""


async def test_processes_sharing_redis_refresh_exactly_once(
    env: QBOEnv, redis_client: aioredis.Redis, redis_prefix: str, redis_url: str
) -> None:
    store = redis_store(redis_client, redis_prefix)
    await store.save(expired_record(env))
    child_env = {
        **os.environ,
        "T_REDIS": redis_url,
        "T_KEY": f"{redis_prefix}qbo:tokens",
        "T_LOCK": f"{redis_prefix}qbo:refresh-lock",
        "T_FERNET": KEY,
        "T_URL": env.token_url,
        "PYTHONPATH": str(ROOT),
    }
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            cwd=str(ROOT),
            env=child_env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 60)
    lines = []
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err.decode()
        lines.append(out.decode().split())
    assert env.sandbox.stats.refreshes == 1
    assert sum(int(refreshes) for _, refreshes, _ in lines) == 1
    assert {n for n, _, _ in lines} == {"1"} and len({t for _, _, t in lines}) == 1


async def test_refresh_after_401_skips_when_someone_already_refreshed(env: QBOEnv) -> None:
    auth = env.auth
    stale = await auth.access_token()
    env.sandbox.expire_access_tokens()
    new1, new2 = await asyncio.gather(auth.refresh(stale), auth.refresh(stale))
    assert new1 == new2 != stale
    assert env.sandbox.stats.refreshes == 1


async def test_rotated_token_is_saved_before_the_access_token_is_used(env: QBOEnv) -> None:
    class FailingSave(MemoryTokenStore):
        async def save(self, rec: TokenRecord) -> None:
            raise OSError("disk full")

    auth = env.new_auth(FailingSave(expired_record(env)))
    with pytest.raises(QBOError, match="could not store"):
        await auth.access_token()
    assert env.sandbox.stats.refreshes == 1  # refreshed, but never handed out unsaved

    order: list[str] = []

    class Recording(MemoryTokenStore):
        async def save(self, rec: TokenRecord) -> None:
            order.append("saved " + rec.refresh_token.get_secret_value())
            await super().save(rec)

    store = Recording(expired_record(env))
    token = await env.new_auth(store).access_token()
    order.append("returned")
    assert order[0].startswith("saved RT1-") and order[-1] == "returned"
    assert store.rec is not None and store.rec.access_token is not None
    assert store.rec.access_token.get_secret_value() == token


async def test_no_token_in_logs(env: QBOEnv, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rec = expired_record(env)
    store = MemoryTokenStore(rec)
    client = env.new_client(auth=env.new_auth(store))
    await client.company_info()
    env.sandbox.expire_access_tokens()
    await client.company_info()  # 401 -> refresh -> retry
    assert store.rec is not None
    secrets_seen = [
        rec.refresh_token.get_secret_value(),
        store.rec.refresh_token.get_secret_value(),
        store.rec.access_token.get_secret_value(),
    ]  # type: ignore[union-attr]
    assert "3200" in caplog.text or "AuthenticationError" in caplog.text
    for s in secrets_seen:
        assert s not in caplog.text
    assert s not in repr(store.rec)


async def test_redis_store_encrypts_at_rest_and_guards_plaintext(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    rec = TokenRecord(
        access_token=SecretStr("acc-SECRET"),
        refresh_token=SecretStr("ref-SECRET"),
        access_expires_at=datetime.now(UTC),
    )
    store = redis_store(redis_client, redis_prefix)
    await store.save(rec)
    raw = await redis_client.get(f"{redis_prefix}qbo:tokens")
    assert raw is not None and b"SECRET" not in raw
    loaded = await store.load()
    assert loaded is not None and loaded.refresh_token.get_secret_value() == "ref-SECRET"
    assert loaded.access_expires_at == rec.access_expires_at

    plain_refused = redis_store(redis_client, redis_prefix + "p:", key=None)
    with pytest.raises(TokenStoreError, match="TOKEN_ENCRYPTION_KEY"):
        await plain_refused.save(rec)
    with pytest.raises(TokenStoreError, match="TOKEN_ENCRYPTION_KEY"):
        await redis_store(redis_client, redis_prefix, key=None).load()
    with pytest.raises(TokenStoreError, match="cannot decrypt"):
        await redis_store(redis_client, redis_prefix, key=Fernet.generate_key().decode()).load()
    plain = RedisTokenStore(
        redis_client,
        f"{redis_prefix}plain",
        f"{redis_prefix}lock",
        encryption_key=None,
        allow_plaintext=True,
    )
    await plain.save(rec)
    assert (await plain.load()) == rec
    passphrase = redis_store(redis_client, redis_prefix + "pp:", key="not a fernet key")
    await passphrase.save(rec)
    assert (await passphrase.load()) == rec


async def test_seed_only_when_empty(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    store = redis_store(redis_client, redis_prefix)
    assert await store.seed("first-refresh", realm_id=REALM) is True
    assert await store.seed("configured-again") is False
    loaded = await store.load()
    assert loaded is not None and loaded.refresh_token.get_secret_value() == "first-refresh"
    assert loaded.access_token is None and loaded.realm_id == REALM


async def test_seeded_store_refreshes_on_first_use(
    env: QBOEnv, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = redis_store(redis_client, redis_prefix)
    await store.seed(env.sandbox.issue_refresh_token(REALM), realm_id=REALM)
    client = env.new_client(auth=env.new_auth(store))
    assert (await client.company_info()).company_name == "Sandbox MSP LLC"
    assert env.sandbox.stats.refreshes == 1


def test_consent_url() -> None:
    url = consent_url("cid", "http://localhost:8765/callback", "st8")
    assert url.startswith("https://appcenter.intuit.com/connect/oauth2?")
    for part in (
        "client_id=cid",
        "response_type=code",
        "state=st8",
        "scope=com.intuit.quickbooks.accounting",
        "redirect_uri=http%3A%2F%2Flocalhost%3A8765%2Fcallback",
    ):
        assert part in url


async def test_run_connect_end_to_end(env: QBOEnv) -> None:
    announced: asyncio.Queue[str] = asyncio.Queue()
    store = MemoryTokenStore()
    task = asyncio.create_task(
        run_connect(
            env.session,
            client_id=env.sandbox.client_id,
            client_secret=SecretStr(env.sandbox.client_secret),
            store=store,
            redirect_uri="http://127.0.0.1:0/callback",
            token_url=env.token_url,
            auth_url=env.base_url + "/connect/oauth2",
            wait_seconds=20,
            announce=announced.put_nowait,
        )
    )
    url = await asyncio.wait_for(announced.get(), 10)
    # a forged redirect (wrong state) is refused and changes nothing
    cb = url.split("redirect_uri=")[1].split("&")[0].replace("%3A", ":").replace("%2F", "/")
    async with env.session.get(cb, params={"code": "x", "realmId": REALM, "state": "forged"}) as r:
        assert r.status == 400
    assert not task.done()
    async with env.session.get(url) as resp:  # consent page redirects to our callback
        assert resp.status == 200
        assert "connected" in await resp.text()
    result = await asyncio.wait_for(task, 10)
    assert result.realm_id == REALM
    assert store.rec is not None and store.rec.realm_id == REALM
    client = env.new_client(auth=env.new_auth(store))
    assert (await client.company_info()).company_name == "Sandbox MSP LLC"


async def test_token_endpoint_refusals(env: QBOEnv) -> None:
    bad_client = OAuthClient(
        env.session,
        client_id="nope",
        client_secret=SecretStr("x"),
        token_url=env.token_url,
        store=MemoryTokenStore(expired_record(env)),
    )
    with pytest.raises(QBOError) as exc:
        await bad_client.access_token()
    assert exc.value.code == "invalid_client" and not isinstance(exc.value, ReconnectRequired)
    with pytest.raises(ReconnectRequired):
        await env.new_auth(MemoryTokenStore()).access_token()  # never connected
