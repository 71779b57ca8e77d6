"""``python app.py qbo-connect``: the first connection to QuickBooks (OAuth consent), with
the tokens kept in Redis where the bot reads them."""

from __future__ import annotations

import aiohttp
import redis.asyncio as aioredis

from bot.runtime.settings import Settings
from bot.store.tokens import RedisTokenStore
from qb.connect import ConnectError, run_connect


def token_keys(settings: Settings, realm_id: str | None = None) -> tuple[str, str]:
    """The Redis keys of one company's token record and of its refresh lock."""
    realm = realm_id or settings.qbo_realm_id
    p = settings.redis_prefix
    return f"{p}qbo:token:{realm}", f"{p}qbo:token-lock:{realm}"


async def connect_quickbooks(settings: Settings, *, port: int, redis: aioredis.Redis) -> int:
    """Print Intuit's consent URL, receive the redirect on ``port``, store the tokens."""
    key, lock_key = token_keys(settings)
    store = RedisTokenStore(redis, key, lock_key, encryption_key=settings.token_encryption_key)
    try:
        async with aiohttp.ClientSession() as session:
            result = await run_connect(
                session,
                client_id=settings.qbo_client_id,
                client_secret=settings.qbo_client_secret,
                store=store,
                redirect_uri=f"http://localhost:{port}/callback",
                token_url=settings.qbo_oauth_token_url,
                listen_port=port,
            )
    except ConnectError as exc:
        print(f"QuickBooks was not connected: {exc}")
        return 1
    finally:
        await redis.aclose()
    if result.realm_id and result.realm_id != settings.qbo_realm_id:
        print(f"Note: you connected company {result.realm_id}, but QBO_REALM_ID is "
              f"{settings.qbo_realm_id}. Set QBO_REALM_ID={result.realm_id} and run this again.")
        return 1
    print(f"QuickBooks company {settings.qbo_realm_id} connected; tokens kept in Redis.")
    return 0
