"""Who and where the demo happens: its Slack workspace, the users the page can act as, the
channels it shows, and the demo's timings."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PORT = 3000
DEFAULT_REDIS_URL = "redis://localhost:6379/0"
POLL_INTERVAL_SECONDS = 15
"""The demo's poller runs every 15 s (production default: 300 s)."""
SYNC_POLL_DEADLINE = 20.0
"""Seconds "Run ConnectBooster sync" waits for the poller lease before giving up."""
MAX_LEDGER_ROWS = 25

FAILED_CHANNEL = "C0FAILEDPAY"
ALERT_CHANNEL = "C0FINALERTS"
FINANCE_USER = "U0FINANCE1"
OUTSIDER = "U0OUTSIDER"
WORKSPACE = "Brightpath IT"
BOT_NAME = "Failed Payments"


@dataclass(frozen=True)
class DemoUser:
    """A Slack user the page can act as."""

    id: str
    name: str
    role: str
    finance: bool


@dataclass(frozen=True)
class DemoChannel:
    """A channel the page shows."""

    id: str
    name: str
    purpose: str


USERS = (
    DemoUser(FINANCE_USER, "Dana Reyes", "Accounts receivable · may act", True),
    DemoUser(OUTSIDER, "Sam Porter", "Sales · not in finance", False),
)
CHANNELS = (
    DemoChannel(
        FAILED_CHANNEL,
        "failed-payments",
        "One message per ConnectBooster payment QuickBooks rejected.",
    ),
    DemoChannel(
        ALERT_CHANNEL,
        "finance-alerts",
        "Failure-rate and sync-not-running alerts (try --scenario bad-settings).",
    ),
)


def user_by_id(user_id: str) -> DemoUser | None:
    """The demo user ``user_id``, if the page can act as them."""
    return next((u for u in USERS if u.id == user_id), None)
