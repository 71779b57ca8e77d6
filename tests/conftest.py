"""Shared fixtures: a real Redis server (never a mock) and a store under a fresh prefix."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.redis_server import ensure_redis

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
QBO_SAMPLES = SHARED / "qbo-samples"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run the long variants too")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long variant: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a Redis that answers: REDIS_URL, or a throwaway redis-server."""
    return ensure_redis()


@pytest.fixture
def redis_prefix() -> str:
    """A prefix no other test uses, so tests never see each other's keys."""
    return f"fptest:{uuid.uuid4().hex[:10]}:"


@pytest.fixture
async def redis_client(redis_url: str, redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=False)
    try:
        yield client
    finally:
        keys = [k async for k in client.scan_iter(match=f"{redis_prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


# Every log line of every test is scanned for tokens and secrets (tests/test_secrets_guard.py).
from tests.test_secrets_guard import no_secrets_in_logs  # noqa: E402, F401
