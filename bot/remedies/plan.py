"""A remedy as a plan: the exact writes, planned (pure) from fresh facts, before anything is
written.

Every remedy is two steps, like a plan and an apply:

1. **Plan** (``plan_remedy``, pure): from the failure record (payment, diagnosis and its
   ``Books``), the QuickBooks facts and the ``PlanContext``, the ordered writes — each QuickBooks
   body exactly as it will be sent (lines, amounts, ``TotalAmt``, ``TxnDate`` in the books'
   time zone, currency) and each ConnectBooster call — or a ``refusal`` saying why this remedy
   must not run on these facts. A plan that may run leaves QuickBooks recording exactly the
   payment's amount A for it (``recorded_after == amount``), never more.
2. **Show**: the confirm dialog and the modal are drawn from ``RemedyPlan.lines()``, so what the
   user reads is what will be sent, line for line; the button carries ``RemedyPlan.digest()``.
3. **Re-check at click time** (``fresh_plan``): re-read ConnectBooster and QuickBooks, diagnose
   and plan again; the runner writes only when the new plan's digest equals the one shown.
4. **Write** (the runner, step by step through the journal): each step's ``requestid`` is
   derived from the plan's digest, so a changed plan is a new plan with new requestids, never a
   replay of an old body.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.diagnosis.facts import QBOFacts
from bot.models import FailureRecord, RemedyKind, RemedyPlan


@dataclass(frozen=True)
class PlanContext:
    """What a plan needs besides the record and the facts (read fresh by ``fresh_plan``)."""

    books_tz: ZoneInfo  # BOOKS_TIMEZONE: TxnDate is the local date of the payment there
    deposit_account_id: str | None  # Undeposited Funds (or QBO_DEPOSIT_ACCOUNT_ID)
    home_currency: str = "USD"
    multi_currency: bool = False
    customer_currency: str | None = None  # the QuickBooks customer's currency
    exchange_rate: Decimal | None = None  # home per foreign unit, when the currencies differ
    user: str = ""  # the Slack user the plan is for (named in the private note)


def plan_remedy(
    kind: RemedyKind,
    rec: FailureRecord,
    facts: QBOFacts,
    ctx: PlanContext,
    params: dict[str, Any] | None = None,
) -> RemedyPlan:
    """The plan of remedy ``kind`` on the failure (pure; see the module docstring).
    ``params`` carries the user's choices (``{"target": invoice id or KEEP_AS_CREDIT}``)."""
    raise NotImplementedError
