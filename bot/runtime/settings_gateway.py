"""Issue 15's settings: the payment gateway as a source of failures, beside (or instead of)
the ConnectBooster contract.

:class:`GatewaySettings` is a mixin of ``bot.runtime.settings.Settings``. The names are the
issue's, so operators' files stay valid. The bot starts with the ConnectBooster contract
(``CB_BASE_URL`` + ``CB_API_KEY``), the gateway (``GATEWAY_SECURITY_KEY``), or both;
:meth:`GatewaySettings._a_source` refuses neither.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.client import BNG_QUERY_URL

DEFAULT_GRACE_MINUTES = 180


NO_SOURCE = (
    "no source of payments: set CB_BASE_URL and CB_API_KEY (the ConnectBooster contract), "
    "or GATEWAY_SECURITY_KEY (the payment gateway), or both"
)


def source_problem(cb_base_url: Any, cb_api_key: Any, gateway_key: Any) -> str | None:
    """Why these settings name no source of payments (``None``: they do)."""
    if bool(cb_base_url) != bool(cb_api_key):
        return "CB_BASE_URL and CB_API_KEY go together: set both, or neither"
    if not cb_base_url and gateway_key is None:
        return NO_SOURCE
    return None


class _Sources(BaseSettings):
    """The three source settings alone, read like the rest (environment, ``.env``)."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", case_sensitive=False, env_ignore_empty=True
    )
    cb_base_url: str | None = None
    cb_api_key: str | None = None
    gateway_security_key: str | None = None


def source_lines(overrides: dict[str, Any]) -> list[str]:
    """The settings error line when no source is set, read on its own: a settings error
    elsewhere stops the model before its source check, and the operator should hear of every
    problem at once."""
    try:
        src = _Sources(**{k: v for k, v in overrides.items() if k in _Sources.model_fields})
    except ValidationError:
        return []
    problem = source_problem(src.cb_base_url, src.cb_api_key, src.gateway_security_key)
    return [] if problem is None else [f"CB_BASE_URL/CB_API_KEY or GATEWAY_SECURITY_KEY: {problem}"]


class GatewaySettings(BaseSettings):
    """The gateway reconciliation's settings (see the module docstring)."""

    gateway_url: str = Field(
        default=BNG_QUERY_URL,
        description="the gateway's Query API URL (https://…/api/query.php; default BNG's)",
    )
    gateway_security_key: SecretStr | None = Field(
        default=None,
        description="a gateway security key with API permission that can see "
        "ConnectBooster's transactions (set: gateway reconciliation on)",
    )
    gateway_cb_usernames: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated gateway user names that mark ConnectBooster's "
        "transactions (unset: every sale counts)",
    )
    gateway_invoice_pattern: str | None = Field(
        default=None,
        description="a regular expression whose first group finds invoice numbers in "
        "order_id / order_description, e.g. (\\d{4,})",
    )
    transfer_grace_minutes: int = Field(
        default=DEFAULT_GRACE_MINUTES,
        ge=0,
        le=7 * 24 * 60,
        description="minutes (0-10080) a sale may take to reach QuickBooks before it is "
        "a failed transfer",
    )

    @field_validator("gateway_cb_usernames", mode="before")
    @classmethod
    def _split_names(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [u.strip() for u in v.split(",") if u.strip()]
        return v

    @field_validator("gateway_url")
    @classmethod
    def _gateway_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @field_validator("gateway_invoice_pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        try:
            compiled = re.compile(v)
        except re.error as exc:
            raise ValueError(f"is not a regular expression ({exc.msg})") from None
        if compiled.groups < 1:
            raise ValueError("needs a group, e.g. (\\d+): its first group is the number")
        return v

    @model_validator(mode="after")
    def _a_source(self) -> GatewaySettings:
        problem = source_problem(
            getattr(self, "cb_base_url", None),
            getattr(self, "cb_api_key", None),
            self.gateway_security_key,
        )
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def contract_on(self) -> bool:
        """The ConnectBooster contract is a source (``CB_BASE_URL`` and ``CB_API_KEY``)."""
        return bool(getattr(self, "cb_base_url", None) and getattr(self, "cb_api_key", None))

    @property
    def gateway_on(self) -> bool:
        """The gateway is a source (``GATEWAY_SECURITY_KEY``)."""
        return self.gateway_security_key is not None

    @property
    def invoice_regex(self) -> re.Pattern[str] | None:
        return re.compile(self.gateway_invoice_pattern) if self.gateway_invoice_pattern else None
