"""The bot's settings: one pydantic-settings class, read from the environment and an
optional ``.env`` file. The environment variable names are the bot's public contract.

``load_settings()`` turns a validation failure into ``SettingsError`` whose lines name each
variable and what it expects, never a value (a secret could be among them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.commands.parse import STATS_WINDOWS
from bot.runtime.settings_gateway import GatewaySettings, source_lines
from bot.runtime.settings_mail import MailSettings
from bot.runtime.settings_team import TeamSettings
from bot.runtime.settings_webhooks import WebhookSettings

QBO_HOSTS = {
    "production": "https://quickbooks.api.intuit.com",
    "sandbox": "https://sandbox-quickbooks.api.intuit.com",
}
QBO_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"  # noqa: S105
DEFAULT_RETENTION_DAYS = 400
"""Resolved failures are kept this long by default: over a year, for a look back a year on."""


class Settings(TeamSettings, GatewaySettings, MailSettings, WebhookSettings, BaseSettings):
    """Everything the bot reads from its environment."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
        # ``NAME=`` (an empty value, as a .env template leaves it) means "not set": the
        # default applies, a required setting is reported missing, and an empty
        # SLACK_APP_TOKEN does not turn Socket Mode on.
        env_ignore_empty=True,
    )

    # Slack
    slack_bot_token: SecretStr = Field(description="the bot token (xoxb-…) from the Slack app")
    slack_signing_secret: SecretStr = Field(
        description="the signing secret from the Slack app's Basic Information page"
    )
    slack_app_token: SecretStr | None = Field(
        default=None, description="an app-level token (xapp-…); set: Socket Mode, unset: HTTP"
    )
    port: int = Field(default=3000, ge=1, le=65535, description="a TCP port (1-65535)")
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="a TCP port (1-65535) other than PORT, serving /metrics alone",
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/", description="the Slack Web API base URL"
    )
    failed_payments_channel: str = Field(
        description="the Slack channel id the failure messages go to (C…)"
    )
    alert_channel: str = Field(description="the Slack channel id failure-rate alerts go to (C…)")
    alert_threshold: Decimal = Field(
        default=Decimal("0.10"), gt=0, le=1, description="a failure rate between 0 and 1, e.g. 0.10"
    )
    alert_window_days: int = Field(default=7, ge=1, le=365, description="whole days (1-365)")
    alert_min_payments: int = Field(default=20, ge=1, description="a whole number of payments")
    poll_interval_seconds: int = Field(default=300, ge=5, description="seconds between polls (≥5)")
    digest_after: int = Field(default=10, ge=1, description="a whole number of failures")
    finance_users: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated Slack user ids (U…)"
    )
    finance_usergroup: str | None = Field(
        default=None, description="a Slack user group id (S…) whose members may act"
    )

    # QuickBooks Online
    qbo_client_id: str = Field(description="the Intuit app's client id")
    qbo_client_secret: SecretStr = Field(description="the Intuit app's client secret")
    qbo_realm_id: str = Field(description="the QuickBooks company id (realm id, digits)")
    qbo_refresh_token: SecretStr | None = Field(
        default=None,
        description="the first refresh token (later ones are kept in Redis); "
        "or run `python app.py qbo-connect`",
    )
    qbo_environment: Literal["production", "sandbox"] = Field(
        default="production", description="production or sandbox"
    )
    qbo_base_url: str | None = Field(default=None, description="a URL overriding the QBO API host")
    qbo_token_url: str | None = Field(
        default=None, description="a URL overriding Intuit's OAuth token endpoint"
    )
    qbo_deposit_account_id: str | None = Field(
        default=None, description="the QBO account id payments are deposited to"
    )
    qbo_redirect_uri: str | None = Field(
        default=None,
        description="the redirect URI registered with the Intuit app, for qbo-connect "
        "(https://… with production keys; unset: http://localhost:<port>/callback)",
    )
    books_timezone: str | None = Field(
        default=None,
        description="an IANA time zone name, e.g. America/New_York (unset: UTC)",
    )
    qbo_max_in_flight: int = Field(default=10, ge=1, le=10, description="1-10 requests at once")
    qbo_requests_per_minute: int = Field(default=500, ge=1, le=500, description="1-500")

    # ConnectBooster
    cb_base_url: str | None = Field(
        default=None, description="the ConnectBooster API base URL (see docs)"
    )
    cb_api_key: SecretStr | None = Field(default=None, description="the ConnectBooster API key")
    cb_portal_url: str | None = Field(default=None, description="the ConnectBooster portal URL")

    # State
    redis_url: str = Field(
        default="redis://localhost:6379/0", description="a redis:// or rediss:// URL"
    )
    redis_prefix: str = Field(default="fp:", min_length=1, description="a key prefix, e.g. fp:")
    redis_durability_check: Literal["on", "off"] = Field(
        default="on",
        description="on (refuse a Redis that may evict keys or keeps nothing on disk) or off "
        "(CONFIG cannot be read, e.g. a managed Redis: noeviction and persistence ensured "
        "by hand)",
    )
    retention_days: int = Field(
        default=DEFAULT_RETENTION_DAYS,
        ge=1,
        le=36500,
        description="whole days a resolved failure is kept, longer than the longest stats "
        f"window ({max(STATS_WINDOWS)} days) and ALERT_WINDOW_DAYS",
    )
    token_encryption_key: SecretStr | None = Field(
        default=None, description="a Fernet key (32 url-safe base64 bytes) for tokens at rest"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="DEBUG, INFO, WARNING or ERROR"
    )
    log_format: Literal["plain", "json"] = Field(
        default="plain", description="plain (one line of text) or json (one JSON object a line)"
    )

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, v: int, info: ValidationInfo) -> int:
        longest = max(max(STATS_WINDOWS), int(info.data.get("alert_window_days") or 0))
        if v <= longest:
            raise ValueError(
                f"must be longer than the longest window the bot reads ({longest} days: "
                "stats and ALERT_WINDOW_DAYS), or stats would miss resolved failures"
            )
        return v

    @field_validator("finance_users", mode="before")
    @classmethod
    def _split_users(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [u.strip() for u in v.split(",") if u.strip()]
        return v

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_name(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("finance_users")
    @classmethod
    def _user_ids(cls, v: list[str]) -> list[str]:
        bad = [u for u in v if not (u[:1] in ("U", "W") and u[1:].isalnum())]
        if bad:
            raise ValueError(f"{len(bad)} entries are not Slack user ids")
        return v

    @field_validator(
        "slack_api_url",
        "cb_base_url",
        "qbo_base_url",
        "qbo_token_url",
        "cb_portal_url",
        "qbo_redirect_uri",
    )
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, v: str) -> str:
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v

    @field_validator("books_timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        try:
            ZoneInfo(v.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone name") from None
        return v.strip()

    @field_validator("qbo_realm_id")
    @classmethod
    def _realm(cls, v: str) -> str:
        if not v.isdigit():
            raise ValueError("must be digits")
        return v

    @field_validator("token_encryption_key")
    @classmethod
    def _fernet(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            from cryptography.fernet import Fernet

            try:
                Fernet(v.get_secret_value().encode())
            except (ValueError, TypeError):
                raise ValueError("is not a Fernet key") from None
        return v

    @model_validator(mode="after")
    def _someone_may_act(self) -> Settings:
        if not self.finance_users and not self.finance_usergroup:
            raise ValueError("FINANCE_USERS or FINANCE_USERGROUP must name who may act")
        return self

    @model_validator(mode="after")
    def _metrics_apart(self) -> Settings:
        if self.metrics_port is not None and self.metrics_port == self.port:
            raise ValueError(
                "METRICS_PORT must differ from PORT (unset it to serve /metrics on PORT)"
            )
        return self

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def books_tz(self) -> ZoneInfo:
        """The books' time zone (``BOOKS_TIMEZONE``; UTC when unset): a recreated payment's
        ``TxnDate`` is the payment's local date there."""
        return ZoneInfo(self.books_timezone or "UTC")

    @property
    def qbo_api_base(self) -> str:
        return (self.qbo_base_url or QBO_HOSTS[self.qbo_environment]).rstrip("/")

    @property
    def qbo_oauth_token_url(self) -> str:
        return self.qbo_token_url or QBO_TOKEN_URL


class SettingsError(Exception):
    """The settings could not be read; ``lines`` has one line per bad variable."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def describe_errors(err: ValidationError) -> list[str]:
    """One line per bad setting: the variable, what is wrong and what it expects."""
    lines: list[str] = []
    fields = Settings.model_fields
    for e in err.errors(include_input=False, include_url=False):
        loc = e.get("loc") or ()
        name = str(loc[0]) if loc else ""
        field = fields.get(name)
        expects = field.description if field is not None and field.description else ""
        if e.get("type") == "missing":
            what = "is not set"
        else:
            what = str(e.get("msg", "is not valid")).removeprefix("Value error, ")
        var = name.upper() if name else "settings"
        lines.append(f"{var}: {what}" + (f"; expects {expects}" if expects else ""))
    return lines


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; raise ``SettingsError`` naming every missing or malformed one."""
    try:
        return Settings(**overrides)
    except ValidationError as err:
        lines = describe_errors(err)
        if not any("source of payments" in line or "go together" in line for line in lines):
            lines += source_lines(overrides)
        raise SettingsError(lines) from None
