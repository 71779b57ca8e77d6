"""Plain typed inputs of the alert, digest and stats builders (``bot.slack.blocks.digest``,
``bot.slack.blocks.lists``), and the pure rule for what to check when failures pile up."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from pydantic import AwareDatetime, BaseModel, Field

from bot.formats import window_label as window_label
from bot.models import Cause

K = TypeVar("K")


def tally(items: Iterable[tuple[K, Decimal]]) -> dict[K, tuple[int, Decimal]]:
    """How many items each key has and what their amounts add up to (keys in the order
    first seen)."""
    out: dict[K, tuple[int, Decimal]] = {}
    for key, amount in items:
        count, total = out.get(key, (0, Decimal(0)))
        out[key] = (count + 1, total + amount)
    return out


class CauseCount(BaseModel):
    """Failures of one cause, and what they add up to."""

    cause: Cause
    count: int
    amount: Decimal = Decimal(0)


class CustomerCount(BaseModel):
    """Failures of one customer, and what they add up to."""

    name: str
    count: int
    amount: Decimal = Decimal(0)


class AlertReport(BaseModel):
    """What a failure-rate alert says: the rate against the threshold over the window,
    the breakdown by cause and customer, the trend, and what to check."""

    rate: Decimal  # a fraction: Decimal("0.125") is 12.5%
    threshold: Decimal  # a fraction
    window_days: int
    payments: int
    failures: int
    by_cause: list[CauseCount] = Field(default_factory=list)
    top_customers: list[CustomerCount] = Field(default_factory=list)
    previous_rate: Decimal | None = None  # the window before this one
    previous_failures: int | None = None
    checks: list[str] = Field(default_factory=list)  # plain words; see ``what_to_check``
    at: AwareDatetime


class StatsReport(BaseModel):
    """What ``/failed-payments stats 7d`` shows."""

    window_days: int
    payments: int
    failures: int
    rate: Decimal
    threshold: Decimal
    by_cause: list[CauseCount] = Field(default_factory=list)
    resolved_by_remedy: dict[str, int] = Field(default_factory=dict)  # remedy/how -> count
    resolved_by_person: dict[str, int] = Field(default_factory=dict)  # Slack user id -> count
    median_time_to_resolve: timedelta | None = None
    open_now: int | None = None
    open_amount: Decimal | None = None


def dominant_cause(by_cause: list[CauseCount]) -> Cause | None:
    """The cause with most failures (``NONE`` ignored), or ``None`` without any."""
    counted = [c for c in by_cause if c.cause != Cause.NONE and c.count > 0]
    if not counted:
        return None
    return max(counted, key=lambda c: (c.count, c.amount)).cause


def what_to_check(
    by_cause: list[CauseCount],
    *,
    auto_apply_credit: bool | None = None,
    auto_apply_payments: bool | None = None,
    sample_sync_error: str | None = None,
) -> list[str]:
    """What a finance lead should look at, given which cause dominates and QBO's
    ``SalesFormsPrefs.AutoApplyCredit`` / ``AutoApplyPayments`` (``None``: unknown)."""
    cause = dominant_cause(by_cause)
    checks: list[str] = []
    if cause == Cause.CREDIT_MEMO:
        if auto_apply_credit:
            checks.append(
                "QuickBooks applies credits automatically (Settings → Account and settings → "
                "Sales → Automation → Automatically apply credits is ON). Turn it off so credit "
                "memos stop landing on invoices clients are paying in the portal."
            )
        else:
            checks.append(
                "Credit memos are being applied to invoices after ConnectBooster's payment run"
                + (
                    " (Automatically apply credits is off, so someone applies them by hand)."
                    if auto_apply_credit is False
                    else "; check QuickBooks' Automatically apply credits setting."
                )
            )
    elif cause == Cause.PAID_MANUALLY:
        if auto_apply_payments:
            checks.append(
                "QuickBooks applies payments automatically (Settings → Account and settings → "
                "Sales → Automation → Automatically apply payments is ON). Turn it off so "
                "other receipts are not matched to invoices paid in the portal."
            )
        else:
            checks.append(
                "Invoices paid in the portal are also being recorded as paid in QuickBooks by "
                "hand; agree that portal payments are left to ConnectBooster."
                + (
                    ""
                    if auto_apply_payments is False
                    else " Also check QuickBooks' Automatically apply payments setting."
                )
            )
    elif cause in (Cause.RECREATED, Cause.DELETED, Cause.VOIDED):
        checks.append(
            "Invoices are being deleted and recreated (or voided) in QuickBooks after they "
            "reached ConnectBooster. Edit invoices instead, or find the tool that recreates them."
        )
    elif cause == Cause.AMOUNT_CHANGED:
        checks.append(
            "Invoices are being edited in QuickBooks after ConnectBooster took payment; "
            "adjust with a credit memo applied after the sync instead."
        )
    elif cause == Cause.ALREADY_IN_QBO:
        checks.append(
            "Payments already exist in QuickBooks with ConnectBooster's reference: something "
            "else (a second sync or a bank rule) records them. Find it and turn it off."
        )
    elif cause == Cause.UNKNOWN:
        checks.append(
            "The cause is unknown for most failures: check ConnectBooster's QuickBooks "
            "connection and sync settings."
        )
    if sample_sync_error and cause in (Cause.UNKNOWN, None):
        checks.append(f"The sync error most of them share: “{sample_sync_error}”")
    return checks


def since(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)
