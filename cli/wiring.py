"""The bot's services built from settings: one Redis client, one aiohttp session per upstream
service, the QuickBooks, ConnectBooster and Slack clients on them. ``app.py`` (``run``,
``demo``) and the ``check`` command build them here, the same way."""

from __future__ import annotations

import aiohttp
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.logs import safe_url
from bot.runtime.services import Services
from bot.runtime.settings import Settings
from bot.store import Store, StoreError
from bot.store.pool import redis_from_url
from bot.store.tokens import RedisTokenStore, TokenStoreError
from cb.client import CBClient
from cli.connect import token_keys
from gateway.client import GatewayClient
from qb.auth import OAuthClient
from qb.client import QBOClient
from qb.shared_limits import RedisLimits, limits_key


class StartError(Exception):
    """The bot cannot start; the message says why and what to do (no traceback)."""


def redis_client(settings: Settings) -> aioredis.Redis:
    """One Redis client for the process. A pooled connection idle for over a second is
    checked (PING, and a reconnect when Redis restarted meanwhile) before it is used, and
    one failed connection closes the idle ones (``bot.store.pool``), so a restart of Redis
    does not fail one command per stale connection."""
    return redis_from_url(
        settings.redis_url, socket_connect_timeout=5, socket_timeout=10, health_check_interval=1
    )


def token_store(
    settings: Settings, redis: aioredis.Redis, *, allow_plaintext: bool = False
) -> RedisTokenStore:
    key, lock_key = token_keys(settings)
    return RedisTokenStore(
        redis,
        key,
        lock_key,
        encryption_key=settings.token_encryption_key,
        allow_plaintext=allow_plaintext,
    )


def qbo_client(
    settings: Settings,
    session: aiohttp.ClientSession,
    redis: aioredis.Redis,
    tokens: RedisTokenStore,
) -> QBOClient:
    """The QuickBooks client: OAuth on the kept tokens, and the company's limits, kept by
    every replica together through Redis on top of this process's own limiter."""
    auth = OAuthClient(
        session,
        client_id=settings.qbo_client_id,
        client_secret=settings.qbo_client_secret,
        token_url=settings.qbo_oauth_token_url,
        store=tokens,
    )
    return QBOClient(
        session,
        realm_id=settings.qbo_realm_id,
        base_url=settings.qbo_api_base,
        auth=auth,
        max_in_flight=settings.qbo_max_in_flight,
        per_minute=settings.qbo_requests_per_minute,
        environment=settings.qbo_environment,
        shared_limits=RedisLimits(
            redis,
            limits_key(settings.redis_prefix, settings.qbo_realm_id),
            max_in_flight=settings.qbo_max_in_flight,
            per_window=settings.qbo_requests_per_minute,
        ),
    )


def gateway_client(
    settings: Settings, trace: aiohttp.TraceConfig
) -> tuple[aiohttp.ClientSession, GatewayClient | None]:
    """The gateway's session — one connection: its limits count connections from one
    address — and its Query API client (``None`` without ``GATEWAY_SECURITY_KEY``)."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit_per_host=1),
        trace_configs=[trace],
    )
    key = settings.gateway_security_key
    client = GatewayClient(session, url=settings.gateway_url, security_key=key) if key else None
    return session, client


async def build_services(
    settings: Settings,
    *,
    redis: aioredis.Redis | None = None,
    allow_plaintext_tokens: bool = False,
    instance: str = "bot",
) -> Services:
    """One aiohttp session per upstream service and one Redis client, and the clients on them."""
    from bot.runtime.metrics import Metrics

    if settings.token_encryption_key is None and not allow_plaintext_tokens:
        raise StartError(
            "TOKEN_ENCRYPTION_KEY is not set: the bot keeps QuickBooks tokens in Redis only "
            'encrypted. Generate one with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        )
    metrics = Metrics()
    redis = redis if redis is not None else redis_client(settings)
    store = Store(redis, settings.redis_prefix)
    try:
        await store.ping()
    except (StoreError, RedisError) as exc:
        await redis.aclose()
        raise StartError(
            f"Redis does not answer at REDIS_URL ({safe_url(settings.redis_url)}): {exc}. "
            "Start Redis or point REDIS_URL at one that answers."
        ) from None

    def session(service: str) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(trace_configs=[metrics.trace_config(service)])

    qbo_session, cb_session, slack_session = (
        session("qbo"),
        session("connectbooster"),
        session("slack"),
    )
    gateway_session, gateway = gateway_client(settings, metrics.trace_config("gateway"))
    tokens = token_store(settings, redis, allow_plaintext=allow_plaintext_tokens)
    if settings.qbo_refresh_token is not None:
        try:
            await tokens.seed(settings.qbo_refresh_token, realm_id=settings.qbo_realm_id)
        except TokenStoreError as exc:
            for s in (qbo_session, cb_session, slack_session, gateway_session):
                await s.close()
            await redis.aclose()
            raise StartError(f"QuickBooks tokens cannot be kept: {exc}") from None
    qbo = qbo_client(settings, qbo_session, redis, tokens)
    cb = (
        CBClient(cb_session, base_url=settings.cb_base_url, api_key=settings.cb_api_key)
        if settings.cb_base_url and settings.cb_api_key
        else None
    )
    slack = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        session=slack_session,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )
    return Services(
        settings=settings,
        redis=redis,
        store=store,
        qbo=qbo,
        cb=cb,
        slack=slack,
        metrics=metrics,
        sessions=[qbo_session, cb_session, slack_session, gateway_session],
        gateway=gateway,
        instance=instance,
    )
