"""``python app.py qbo-connect`` against the QBO stand-in's OAuth endpoints and a real Redis:
the company is checked before anything is stored (a wrong one never overwrites a working
connection), an HTTPS redirect URI with the pasted-address flow, and every bad paste refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import redis.asyncio as aioredis
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.runtime.settings import Settings, SettingsError, load_settings
from bot.store.tokens import RedisTokenStore
from cli.connect import connect_quickbooks, token_keys
from qb.auth import MemoryTokenStore, TokenRecord
from qb.connect import (
    DEFAULT_AUTH_URL,
    ConnectError,
    WrongCompany,
    read_redirect,
    run_connect,
)
from tests.qbo_fixtures import REALM, QBOEnv, connected_record, start_qbo

OTHER_REALM = "9130000000000002"
HTTPS_REDIRECT = "https://finance.example.com/qbo/callback"


@pytest.fixture
async def env() -> AsyncIterator[QBOEnv]:
    async with start_qbo() as e:
        e.sandbox.add_company(OTHER_REALM, "Another Company Ltd")
        yield e


def settings_for(env: QBOEnv, redis_url: str, prefix: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": "xoxb-connect-test",
        "slack_signing_secret": "connect-signing",
        "failed_payments_channel": "C0FAILED",
        "alert_channel": "C0ALERTS",
        "finance_users": ["U0FINANCE1"],
        "qbo_client_id": env.sandbox.client_id,
        "qbo_client_secret": env.sandbox.client_secret,
        "qbo_realm_id": REALM,
        "qbo_token_url": env.token_url,
        "cb_base_url": "http://127.0.0.1:9/",
        "cb_api_key": "cb-connect-key",
        "redis_url": redis_url,
        "redis_prefix": prefix,
        "token_encryption_key": Fernet.generate_key().decode(),
    }
    return Settings(_env_file=None, **{**values, **overrides})


def store_for(settings: Settings, redis: aioredis.Redis) -> RedisTokenStore:
    key, lock = token_keys(settings)
    return RedisTokenStore(redis, key, lock, encryption_key=settings.token_encryption_key)


class Browser:
    """The operator: reads the consent address ``qbo-connect`` printed, approves it at the
    stand-in (as company ``realm``), and pastes where Intuit sent the browser (``edit``
    may tamper with it first)."""

    def __init__(
        self,
        env: QBOEnv,
        capsys: pytest.CaptureFixture[str],
        *,
        realm: str = REALM,
        edit: Callable[[str], str] = lambda url: url,
    ) -> None:
        self.env, self.capsys, self.realm, self.edit = env, capsys, realm, edit
        self.consent: str | None = None

    async def paste(self) -> str:
        out = self.capsys.readouterr().out
        [url] = [w for w in out.split() if w.startswith(DEFAULT_AUTH_URL)]
        self.consent = url
        stand_in = url.replace(DEFAULT_AUTH_URL, self.env.base_url + "/connect/oauth2")
        async with self.env.session.get(
            stand_in + "&" + urlencode({"realm": self.realm}), allow_redirects=False
        ) as resp:
            assert resp.status == 302
            location = resp.headers["Location"]
        return self.edit(location) + "\n"


async def connect(settings: Settings, redis_url: str, browser: Browser, **kw: Any) -> int:
    return await connect_quickbooks(
        settings, port=0, redis=aioredis.Redis.from_url(redis_url), read_line=browser.paste, **kw
    )


def token_calls(env: QBOEnv) -> int:
    return env.sandbox.stats.by_kind["token"]


async def test_https_redirect_and_a_pasted_address_connect(
    env: QBOEnv,
    redis_url: str,
    redis_prefix: str,
    redis_client: aioredis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = settings_for(env, redis_url, redis_prefix, qbo_redirect_uri=HTTPS_REDIRECT)
    browser = Browser(env, capsys)
    assert await connect(settings, redis_url, browser) == 0  # not local: pasted, no server
    out = capsys.readouterr().out
    assert f"QuickBooks company {REALM} connected" in out
    assert browser.consent is not None
    query = parse_qs(urlsplit(browser.consent).query)
    assert query["redirect_uri"] == [HTTPS_REDIRECT]
    record = await store_for(settings, redis_client).load()
    assert record is not None and record.realm_id == REALM
    # the stored tokens work
    client = env.new_client(auth=env.new_auth(store_for(settings, redis_client)))
    assert (await client.company_info()).company_name == "Sandbox MSP LLC"


async def test_another_company_is_refused_before_anything_is_stored(
    env: QBOEnv,
    redis_url: str,
    redis_prefix: str,
    redis_client: aioredis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = settings_for(env, redis_url, redis_prefix)
    store = store_for(settings, redis_client)
    working = connected_record(env.sandbox)
    await store.save(working)
    before = token_calls(env)
    browser = Browser(env, capsys, realm=OTHER_REALM)
    assert await connect(settings, redis_url, browser, paste=True) == 1
    out = capsys.readouterr().out
    assert f"you connected QuickBooks company {OTHER_REALM}, but QBO_REALM_ID is {REALM}" in out
    assert "nothing was stored" in out and "connected;" not in out
    assert token_calls(env) == before  # the code was never even exchanged
    kept = await store.load()
    assert kept is not None and kept.realm_id == REALM
    assert kept.refresh_token.get_secret_value() == working.refresh_token.get_secret_value()
    # nothing under the other company's key either
    assert (
        await store_for(
            settings_for(env, redis_url, redis_prefix, qbo_realm_id=OTHER_REALM), redis_client
        ).load()
        is None
    )
    # the working connection still works
    client = env.new_client(auth=env.new_auth(store))
    assert (await client.company_info()).company_name == "Sandbox MSP LLC"


def _with(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for k, v in changes.items():
        if v is None:
            query.pop(k, None)
        else:
            query[k] = v
    return parts._replace(query=urlencode(query)).geturl()


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda u: _with(u, state="forged-state"), "state does not match"),
        (lambda u: _with(u, code=None, error="access_denied"), "consent refused: access_denied"),
        (lambda u: _with(u, code=None), "lacks the code or the realmId"),
        (lambda u: _with(u, realmId=None), "lacks the code or the realmId"),
        (lambda u: _with(u, realmId="not-a-realm"), "not a QuickBooks company id"),
        (lambda u: "", "nothing was pasted"),
    ],
    ids=["forged-state", "refused", "no-code", "no-realm", "bad-realm", "empty"],
)
async def test_a_bad_paste_is_refused_and_stores_nothing(
    env: QBOEnv,
    redis_url: str,
    redis_prefix: str,
    redis_client: aioredis.Redis,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[str], str],
    says: str,
) -> None:
    settings = settings_for(env, redis_url, redis_prefix, qbo_redirect_uri=HTTPS_REDIRECT)
    before = token_calls(env)
    assert await connect(settings, redis_url, Browser(env, capsys, edit=edit)) == 1
    out = capsys.readouterr().out
    assert "QuickBooks was not connected" in out and says in out
    assert token_calls(env) == before
    assert await store_for(settings, redis_client).load() is None


def test_a_query_string_alone_may_be_pasted() -> None:
    assert read_redirect("  ?code=AB11x&state=s1&realmId=123\n", "s1") == ("AB11x", "123")
    assert read_redirect("code=AB11x&state=s1&realmId=123", "s1") == ("AB11x", "123")
    with pytest.raises(ConnectError):
        read_redirect("https://h/cb?code=AB11x&state=s2&realmId=123", "s1")


async def test_local_server_refuses_another_company_too(env: QBOEnv) -> None:
    working = connected_record(env.sandbox)
    store = MemoryTokenStore(working)
    announced: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(
        run_connect(
            env.session,
            client_id=env.sandbox.client_id,
            client_secret=SecretStr(env.sandbox.client_secret),
            store=store,
            redirect_uri="http://127.0.0.1:0/callback",
            expected_realm=REALM,
            token_url=env.token_url,
            auth_url=env.base_url + "/connect/oauth2",
            wait_seconds=20,
            announce=announced.put_nowait,
        )
    )
    url = await asyncio.wait_for(announced.get(), 10)
    async with env.session.get(url + "&" + urlencode({"realm": OTHER_REALM})) as resp:
        assert resp.status == 200  # the browser's page; the terminal says the rest
    with pytest.raises(WrongCompany) as info:
        await asyncio.wait_for(task, 10)
    assert (info.value.connected, info.value.expected) == (OTHER_REALM, REALM)
    assert store.rec is working


async def test_paste_flow_at_the_library_level(env: QBOEnv) -> None:
    store = MemoryTokenStore()
    seen: list[str] = []

    async def paste() -> str:
        async with env.session.get(seen[0], allow_redirects=False) as resp:
            return resp.headers["Location"]

    result = await run_connect(
        env.session,
        client_id=env.sandbox.client_id,
        client_secret=SecretStr(env.sandbox.client_secret),
        store=store,
        redirect_uri=HTTPS_REDIRECT,
        expected_realm=REALM,
        token_url=env.token_url,
        auth_url=env.base_url + "/connect/oauth2",
        paste=paste,
        announce=seen.append,
    )
    assert result.realm_id == REALM and isinstance(store.rec, TokenRecord)


def test_redirect_uri_setting_must_be_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_settings import REQUIRED

    for k, v in {**REQUIRED, "QBO_REDIRECT_URI": "finance.example.com/cb"}.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SettingsError) as info:
        load_settings(_env_file=None)
    assert any(line.startswith("QBO_REDIRECT_URI:") for line in info.value.lines)
