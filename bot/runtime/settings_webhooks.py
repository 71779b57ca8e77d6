"""Settings of QuickBooks webhooks (issue 17): the verifier token that signs Intuit's
deliveries, the port a Socket Mode bot serves them on, and the daily reconciliation.

A mixin of :class:`bot.runtime.settings.Settings`: the names are environment variables.
Webhooks are off while ``QBO_WEBHOOK_VERIFIER_TOKEN`` is unset (``POST /qbo/webhooks``
answers 404 then, and no worker runs).
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings


class WebhookSettings(BaseSettings):
    """QuickBooks webhooks: ``POST /qbo/webhooks``, its worker and its catch-up."""

    qbo_webhook_verifier_token: SecretStr | None = Field(
        default=None,
        description="the Verifier Token of the Intuit app's webhooks page (unset: webhooks off)",
    )
    webhook_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="a TCP port (1-65535) serving POST /qbo/webhooks alone, for a Socket Mode "
        "bot (HTTP mode serves it on PORT)",
    )
    webhook_reconcile_hours: int = Field(
        default=24,
        ge=1,
        le=168,
        description="hours between reconciliation passes over every open failure and pending "
        "payment (1-168)",
    )

    @model_validator(mode="after")
    def _webhook_port_apart(self) -> Self:
        taken = {getattr(self, "port", None), getattr(self, "metrics_port", None)}
        if self.webhook_port is not None and self.webhook_port in taken:
            raise ValueError("WEBHOOK_PORT must differ from PORT and METRICS_PORT")
        return self
