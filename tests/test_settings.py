"""Settings: names, defaults, and clear one-line-per-setting errors without secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot.runtime.settings import Settings, SettingsError, load_settings
from tests.conftest import ROOT

REQUIRED = {
    "SLACK_BOT_TOKEN": "xoxb-test-secret-token",
    "SLACK_SIGNING_SECRET": "signing-secret-value",
    "FAILED_PAYMENTS_CHANNEL": "C0FAILED",
    "ALERT_CHANNEL": "C0ALERTS",
    "FINANCE_USERS": "U01JANE, U02OMAR",
    "QBO_CLIENT_ID": "client-id",
    "QBO_CLIENT_SECRET": "client-secret-value",
    "QBO_REALM_ID": "9130350000000001",
    "CB_BASE_URL": "http://127.0.0.1:9/",
    "CB_API_KEY": "cb-api-key-value",
}
SECRETS = [
    "xoxb-test-secret-token",
    "signing-secret-value",
    "client-secret-value",
    "cb-api-key-value",
]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(os.environ):
        if name.startswith(("SLACK_", "QBO_", "CB_", "ALERT_", "FINANCE_", "REDIS_", "TOKEN_")):
            monkeypatch.delenv(name)
    for k, v in REQUIRED.items():
        monkeypatch.setenv(k, v)
    return monkeypatch


def test_defaults_and_parsing(env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert s.finance_users == ["U01JANE", "U02OMAR"]
    assert s.alert_threshold == Decimal("0.10") and isinstance(s.alert_threshold, Decimal)
    assert (s.alert_window_days, s.alert_min_payments, s.poll_interval_seconds) == (7, 20, 300)
    assert s.digest_after == 10 and s.port == 3000
    assert s.redis_url == "redis://localhost:6379/0" and s.redis_prefix == "fp:"
    assert s.slack_api_url == "https://slack.com/api/"
    assert not s.socket_mode
    assert s.qbo_api_base == "https://quickbooks.api.intuit.com"
    env.setenv("QBO_ENVIRONMENT", "sandbox")
    env.setenv("SLACK_APP_TOKEN", "xapp-1")
    s = load_settings()
    assert s.qbo_api_base == "https://sandbox-quickbooks.api.intuit.com" and s.socket_mode
    assert "xoxb-test-secret-token" not in repr(s)


def test_reads_an_env_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.delenv("ALERT_CHANNEL")
    (tmp_path / ".env").write_text("ALERT_CHANNEL=C0FROMFILE\nDIGEST_AFTER=25\n")
    s = load_settings()
    assert s.alert_channel == "C0FROMFILE" and s.digest_after == 25


def test_malformed_settings_name_the_variable_not_the_value(env: pytest.MonkeyPatch) -> None:
    env.setenv("ALERT_THRESHOLD", "lots")
    env.setenv("PORT", "99999")
    env.setenv("FINANCE_USERS", "jane@example.com")
    env.setenv("REDIS_URL", "localhost:6379")
    env.setenv("QBO_ENVIRONMENT", "staging")
    env.setenv("TOKEN_ENCRYPTION_KEY", "not-a-fernet-key-secret")
    with pytest.raises(SettingsError) as info:
        load_settings()
    text = "\n".join(info.value.lines)
    for var in (
        "ALERT_THRESHOLD",
        "PORT",
        "FINANCE_USERS",
        "REDIS_URL",
        "QBO_ENVIRONMENT",
        "TOKEN_ENCRYPTION_KEY",
    ):
        assert any(line.startswith(var + ":") for line in info.value.lines), var
    assert len(info.value.lines) == 6
    for value in ("lots", "jane@example.com", "not-a-fernet-key-secret", "staging", *SECRETS):
        assert value not in text


def test_someone_must_be_allowed_to_act(env: pytest.MonkeyPatch) -> None:
    env.delenv("FINANCE_USERS")
    with pytest.raises(SettingsError, match="FINANCE_USERS or FINANCE_USERGROUP"):
        load_settings()
    env.setenv("FINANCE_USERGROUP", "S0FINANCE")
    assert load_settings().finance_usergroup == "S0FINANCE"


def test_settings_class_declares_every_public_name() -> None:
    names = {n.upper() for n in Settings.model_fields}
    for var in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "PORT",
        "SLACK_API_URL",
        "FAILED_PAYMENTS_CHANNEL",
        "ALERT_CHANNEL",
        "ALERT_THRESHOLD",
        "ALERT_WINDOW_DAYS",
        "ALERT_MIN_PAYMENTS",
        "POLL_INTERVAL_SECONDS",
        "DIGEST_AFTER",
        "FINANCE_USERS",
        "FINANCE_USERGROUP",
        "QBO_CLIENT_ID",
        "QBO_CLIENT_SECRET",
        "QBO_REALM_ID",
        "QBO_REFRESH_TOKEN",
        "QBO_ENVIRONMENT",
        "QBO_BASE_URL",
        "QBO_TOKEN_URL",
        "QBO_DEPOSIT_ACCOUNT_ID",
        "CB_BASE_URL",
        "CB_API_KEY",
        "CB_PORTAL_URL",
        "REDIS_URL",
        "REDIS_PREFIX",
    ):
        assert var in names


def _run_app(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    prefixes = ("SLACK_", "QBO_", "CB_", "ALERT_", "FINANCE_", "REDIS_", "TOKEN_")
    base = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_app_with_an_empty_environment_names_every_missing_setting(tmp_path: Path) -> None:
    proc = _run_app([], {}, tmp_path)
    assert proc.returncode != 0
    out = proc.stderr
    assert "Traceback" not in out
    for var in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "FAILED_PAYMENTS_CHANNEL",
        "ALERT_CHANNEL",
        "QBO_CLIENT_ID",
        "QBO_CLIENT_SECRET",
        "QBO_REALM_ID",
    ):
        assert f"{var}: is not set" in out, var
    # the ConnectBooster contract is optional now: either it or the gateway (issue 15)
    assert "CB_BASE_URL/CB_API_KEY or GATEWAY_SECURITY_KEY: no source of payments" in out


def test_app_with_unreachable_redis_names_redis_url(tmp_path: Path) -> None:
    from tests.redis_server import free_port

    env = {
        **REQUIRED,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "TOKEN_ENCRYPTION_KEY": "x9eKwBC8b0YoVqP5bS5Yt1Yp3f9u8mWc3V2kQm4rL0E=",
    }
    proc = _run_app(["run"], env, tmp_path)
    assert proc.returncode != 0
    assert "REDIS_URL" in proc.stderr and "Traceback" not in proc.stderr
    for secret in SECRETS:
        assert secret not in proc.stderr + proc.stdout


def test_app_refuses_to_keep_tokens_without_an_encryption_key(tmp_path: Path) -> None:
    proc = _run_app(["run"], {**REQUIRED, "QBO_REFRESH_TOKEN": "RT1-refresh-secret"}, tmp_path)
    assert proc.returncode != 0
    assert "TOKEN_ENCRYPTION_KEY is not set" in proc.stderr
    assert "RT1-refresh-secret" not in proc.stderr + proc.stdout


def test_an_empty_value_means_unset(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``NAME=`` in a .env (as a template leaves it) or in the environment is "not set": no
    Socket Mode with an empty app token, no empty QBO URL or encryption key stopping the
    start, and an empty required setting reported missing."""
    (tmp_path / ".env").write_text(
        "SLACK_APP_TOKEN=\nQBO_BASE_URL=\nQBO_TOKEN_URL=\nTOKEN_ENCRYPTION_KEY=\n"
        "QBO_REDIRECT_URI=\nFINANCE_USERGROUP=\nPORT=\nLOG_FORMAT=\n"
    )
    env.setenv("CB_PORTAL_URL", "")
    s = load_settings()
    assert not s.socket_mode and s.slack_app_token is None
    assert s.qbo_base_url is None and s.qbo_api_base == "https://quickbooks.api.intuit.com"
    assert s.qbo_token_url is None and s.token_encryption_key is None
    assert s.qbo_redirect_uri is None and s.cb_portal_url is None
    assert s.finance_usergroup is None and s.port == 3000 and s.log_format == "plain"
    env.setenv("SLACK_BOT_TOKEN", "")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert info.value.lines == [
        "SLACK_BOT_TOKEN: is not set; expects the bot token (xoxb-…) from the Slack app"
    ]


def test_log_format_and_redirect_uri(env: pytest.MonkeyPatch) -> None:
    env.setenv("LOG_FORMAT", "JSON")
    env.setenv("QBO_REDIRECT_URI", "https://finance.example.com/qbo/callback")
    s = load_settings()
    assert (
        s.log_format == "json" and s.qbo_redirect_uri == "https://finance.example.com/qbo/callback"
    )
    env.setenv("LOG_FORMAT", "xml")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert [line.split(":")[0] for line in info.value.lines] == ["LOG_FORMAT"]
