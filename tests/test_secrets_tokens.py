"""QuickBooks tokens at rest: encrypted with TOKEN_ENCRYPTION_KEY (Fernet); without a key
the bot refuses to keep them — the store raises, and ``python app.py run`` exits non-zero
naming the variable, with no secret on its output. And a whole bot run (OAuth refresh,
poll, remedy) logs no secret (the scan is ``tests/test_secrets_guard.py``'s fixture)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from bot.poll.cycle import poll_once
from bot.store.tokens import RedisTokenStore, TokenStoreError
from cli.connect import token_keys
from qb.auth import TokenRecord
from tests.conftest import ROOT
from tests.harness import BOT_TOKEN, CB_KEY, SIGNING_SECRET, world
from tests.redis_server import free_port
from tests.test_secrets_guard import (  # noqa: F401 (the autouse scan)
    SecretScanner,
    leaks,
    no_secrets_in_logs,
)


async def test_store_without_a_key_refuses_to_keep_tokens(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = RedisTokenStore(
        redis_client,
        f"{redis_prefix}tok",
        f"{redis_prefix}lock",
        encryption_key=None,
        allow_plaintext=False,
    )
    rec = TokenRecord(
        refresh_token=SecretStr("RT1-neverstoredplain0000"), updated_at=datetime.now(UTC)
    )
    with pytest.raises(TokenStoreError, match="TOKEN_ENCRYPTION_KEY"):
        await store.save(rec)
    with pytest.raises(TokenStoreError, match="TOKEN_ENCRYPTION_KEY"):
        await store.seed("RT1-neverstoredplain0000")
    assert await redis_client.get(f"{redis_prefix}tok") is None


async def test_tokens_at_rest_are_fernet_encrypted_and_need_the_key(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    from cryptography.fernet import Fernet

    key = SecretStr(Fernet.generate_key().decode())
    store = RedisTokenStore(
        redis_client, f"{redis_prefix}tok", f"{redis_prefix}lock", encryption_key=key
    )
    await store.save(
        TokenRecord(
            refresh_token=SecretStr("RT1-secretrefresh0000000"),
            access_token=SecretStr("eyJsandbox.secretaccess0000000"),
            access_expires_at=datetime.now(UTC) + timedelta(hours=1),
            updated_at=datetime.now(UTC),
        )
    )
    raw = await redis_client.get(f"{redis_prefix}tok")
    assert raw is not None and raw.startswith(b"fernet:")
    assert b"RT1-" not in raw and b"eyJsandbox" not in raw
    loaded = await store.load()
    assert loaded is not None
    assert loaded.refresh_token.get_secret_value() == "RT1-secretrefresh0000000"
    keyless = RedisTokenStore(
        redis_client, f"{redis_prefix}tok", f"{redis_prefix}lock", encryption_key=None
    )
    with pytest.raises(TokenStoreError, match="TOKEN_ENCRYPTION_KEY"):
        await keyless.load()
    other = RedisTokenStore(
        redis_client,
        f"{redis_prefix}tok",
        f"{redis_prefix}lock",
        encryption_key=SecretStr(Fernet.generate_key().decode()),
    )
    with pytest.raises(TokenStoreError, match="TOKEN_ENCRYPTION_KEY"):
        await other.load()


def _env_without_key(redis_url: str, redis_prefix: str, refresh: str) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")
    }
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "FAILED_PAYMENTS_CHANNEL": "C0FAILED",
        "ALERT_CHANNEL": "C0ALERTS",
        "FINANCE_USERS": "U0FINANCE1",
        "QBO_CLIENT_ID": "cid",
        "QBO_CLIENT_SECRET": "sandbox-client-secret",
        "QBO_REALM_ID": "9341453000000001",
        "QBO_REFRESH_TOKEN": refresh,
        "CB_BASE_URL": "http://127.0.0.1:9/",
        "CB_API_KEY": CB_KEY,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": redis_prefix,
        "PORT": str(free_port()),
    }


async def test_app_run_without_a_key_exits_naming_token_encryption_key(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis, tmp_path: object
) -> None:
    refresh = "RT1-configuredrefreshtoken000"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "app.py"),
        "run",
        cwd=str(tmp_path),
        env=_env_without_key(redis_url, redis_prefix, refresh),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail("app.py run kept running without TOKEN_ENCRYPTION_KEY")
    text = (out + err).decode(errors="replace")
    assert proc.returncode not in (0, None), text
    assert "TOKEN_ENCRYPTION_KEY" in text, text
    assert "Traceback" not in text, text
    assert refresh not in text and not leaks(text), text
    assert await redis_client.get(f"{redis_prefix}qbo:token:9341453000000001") is None


async def test_a_whole_run_logs_no_secret_and_keeps_tokens_encrypted(
    redis_url: str,
    redis_prefix: str,
    redis_client: aioredis.Redis,
    request: pytest.FixtureRequest,
) -> None:
    """OAuth refresh (expired access tokens), a poll that posts every failure, a QBO fault
    and a Slack error: the scanner sees the log lines (it fails the test on a leak)."""
    async with world(redis_url, redis_prefix, "all-causes") as w:
        w.slack.rate_limit_enabled = False
        w.qbo.expire_access_tokens()
        w.qbo.storm(1, 500)
        w.services.qbo.backoff_base = 0.01
        report = await poll_once(w.services, post_interval=0)
        assert report.new, "the poll posted nothing"
        w.qbo.expire_access_tokens()
        w.slack.inject_error("chat.update", "internal_error", status=500)
        await poll_once(w.services, post_interval=0)
        key, _lock = token_keys(w.services.settings)
        raw = await redis_client.get(key)
        assert raw is not None and raw.startswith(b"fernet:")
        assert b"RT1-" not in raw and b"eyJsandbox" not in raw
    scanner: SecretScanner = request.getfixturevalue("no_secrets_in_logs")
    assert scanner.records > 0, "no log line was scanned"
