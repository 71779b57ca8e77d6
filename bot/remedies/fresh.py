"""Plans from fresh facts: what a remedy would write *now*.

A remedy is written only as planned from facts read at click time (see
``bot.remedies.plan``): :func:`planning` re-reads the payment in ConnectBooster, fetches its
QuickBooks facts (``bot.diagnosis.fetch_facts``, the same bulk fetch the poller uses) and
diagnoses it again; :meth:`Planning.plan` then plans any remedy on them (pure).
:func:`fresh_plan` does both for one remedy.

- :func:`plan_context` — the ``PlanContext``: the books' time zone (``BOOKS_TIMEZONE``), the
  deposit account (``QBO_DEPOSIT_ACCOUNT_ID`` or the account named Undeposited Funds) and the
  company's currencies (QuickBooks preferences) — both kept in memory a few minutes per
  process and company — the customer's currency from the facts, and for a payment in a
  foreign currency QuickBooks' exchange rate of its date.
- :func:`offered_plans` — the plans a card shows: one per remedy of the diagnosis (Re-check
  writes nothing and has none), planned for no user in particular. A button carries its plan's
  digest; at click time the same plan made again from fresh facts must have the same digest.
- :func:`as_planned` — the payment as plans see it: when ConnectBooster shows it dismissed
  only because the record's own unfinished or failed remedy dismissed it
  (``bot.lifecycle.own_dismissal``: Recreate and Delete dismiss first), plans are made as if
  it were still failing, so the retry continues the same plan instead of taking it for a
  payment dismissed by someone else.
- :func:`cb_moved` — what ConnectBooster shows that forbids any write now (synced, dismissed
  by someone else, queued for another sync, gone), as the status the failure moves to.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from weakref import WeakKeyDictionary

from bot.diagnosis import diagnose, fetch_facts
from bot.diagnosis.facts import QBOFacts
from bot.lifecycle import own_dismissal
from bot.models import (
    FailureRecord,
    FailureStatus,
    RemedyKind,
    RemedyPlan,
    Resolution,
    ResolutionHow,
)
from bot.reconcile.reread import current_payment
from bot.remedies.plan import PlanContext, plan_remedy
from bot.runtime.services import Services
from cb.models import Payment, SyncStatus
from qb import errors as qbe
from qb.client import QBOClient
from qb.models import ExchangeRate
from qb.query import join_where, quote

UNDEPOSITED_FUNDS = "Undeposited Funds"
COMPANY_TTL = 300.0
"""Seconds the company's deposit account and currency preferences are kept in memory."""


@dataclass(frozen=True)
class CompanyBooks:
    """What every plan in one QuickBooks company shares."""

    deposit_account_id: str | None
    home_currency: str
    multi_currency: bool


_COMPANIES: WeakKeyDictionary[QBOClient, tuple[float, CompanyBooks]] = WeakKeyDictionary()
_COMPANY_LOCKS: WeakKeyDictionary[QBOClient, asyncio.Lock] = WeakKeyDictionary()


async def company_books(services: Services) -> CompanyBooks:
    """The deposit account and the currencies of the company (read at most every
    ``COMPANY_TTL`` seconds per process)."""
    qbo = services.qbo
    cached = _COMPANIES.get(qbo)
    if cached is not None and time.monotonic() < cached[0]:
        return cached[1]
    lock = _COMPANY_LOCKS.setdefault(qbo, asyncio.Lock())
    async with lock:
        cached = _COMPANIES.get(qbo)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        deposit = services.settings.qbo_deposit_account_id
        if not deposit:
            account = await qbo.account_by_name(UNDEPOSITED_FUNDS)
            deposit = account.id if account is not None else None
        prefs = (await qbo.preferences()).currency_prefs
        home = prefs.home_currency.value if prefs.home_currency is not None else "USD"
        books = CompanyBooks(
            deposit_account_id=deposit,
            home_currency=home,
            multi_currency=bool(prefs.multi_currency_enabled),
        )
        _COMPANIES[qbo] = (time.monotonic() + COMPANY_TTL, books)
        return books


_RATES: WeakKeyDictionary[QBOClient, dict[tuple[str, date], tuple[float, Decimal | None]]] = (
    WeakKeyDictionary()
)


async def exchange_rate(services: Services, currency: str, day: date) -> Decimal | None:
    """QuickBooks' rate (home currency per unit of ``currency``) on ``day``; ``None`` when it
    gives none (a plan then refuses, explained). Kept in memory like the company's books."""
    rates = _RATES.setdefault(services.qbo, {})
    cached = rates.get((currency, day))
    if cached is not None and time.monotonic() < cached[0]:
        return cached[1]
    where = join_where(
        f"SourceCurrencyCode = {quote(currency)}", f"AsOfDate = {quote(day.isoformat())}"
    )
    try:
        found = await services.qbo.query(ExchangeRate, where)
    except (qbe.NotFoundError, qbe.ValidationError):
        found = []  # QuickBooks keeps no rate for it
    rate = found[0].rate if found else None
    rates[(currency, day)] = (time.monotonic() + COMPANY_TTL, rate)
    return rate


def _customer_currency(rec: FailureRecord, facts: QBOFacts | None) -> str | None:
    cust_id = rec.payment.customer.qb_customer_id
    customer = facts.customers.get(cust_id) if facts is not None and cust_id else None
    ref = customer.currency_ref if customer is not None else None
    return ref.value if ref is not None and ref.value else None


async def plan_context(
    services: Services, rec: FailureRecord, user: str = "", *, facts: QBOFacts | None = None
) -> PlanContext:
    """The ``PlanContext`` of plans on ``rec`` for Slack user ``user`` (``""``: a plan the
    card shows, for no user in particular). In a multi-currency company a payment in another
    currency than the home one carries QuickBooks' rate of the payment's local date."""
    books = await company_books(services)
    tz = services.settings.books_tz
    rate: Decimal | None = None
    currency = rec.payment.currency.upper()
    if books.multi_currency and currency != books.home_currency.upper():
        rate = await exchange_rate(services, currency, rec.payment.paid_at.astimezone(tz).date())
    return PlanContext(
        books_tz=tz,
        deposit_account_id=books.deposit_account_id,
        home_currency=books.home_currency,
        multi_currency=books.multi_currency,
        customer_currency=_customer_currency(rec, facts) if books.multi_currency else None,
        exchange_rate=rate,
        user=user,
    )


def offered_plans(
    rec: FailureRecord, facts: QBOFacts, ctx: PlanContext
) -> dict[RemedyKind, RemedyPlan]:
    """The plans the card shows: one per remedy the diagnosis offers (pure)."""
    plans: dict[RemedyKind, RemedyPlan] = {}
    for kind in rec.diagnosis.remedies if rec.diagnosis else []:
        if kind == RemedyKind.RECHECK:
            continue
        plans[kind] = plan_remedy(kind, rec, facts, replace(ctx, user=""))
    return plans


def as_planned(rec: FailureRecord, payment: Payment) -> Payment:
    """``payment`` as plans see it: still failing when only our own remedy dismissed it."""
    if payment.sync.status == SyncStatus.DISMISSED and own_dismissal(rec):
        sync = payment.sync.model_copy(update={"status": SyncStatus.FAILED})
        return payment.model_copy(update={"sync": sync})
    return payment


@dataclass(frozen=True)
class Moved:
    """ConnectBooster moved the payment on since the message was drawn: nothing may be
    written; the failure moves to ``status`` (with ``resolution`` when resolved)."""

    status: FailureStatus
    what: str  # what happened, for the clicker and the message
    resolution: Resolution | None = None


def cb_moved(rec: FailureRecord, payment: Payment | None, now: datetime) -> Moved | None:
    """What ConnectBooster shows now (``None``: the payment is gone) that forbids a write,
    or ``None`` while the payment is still failing there."""
    if payment is None:
        return Moved(
            FailureStatus.RESOLVED,
            "ConnectBooster no longer has this payment (it was deleted from its history)",
            Resolution(
                how=ResolutionHow.DELETED,
                by=None,
                at=now,
                detail="Deleted from ConnectBooster's history",
            ),
        )
    status = as_planned(rec, payment).sync.status
    if status == SyncStatus.SYNCED:
        qb_id = payment.sync.qb_payment_id
        return Moved(
            FailureStatus.RESOLVED,
            "ConnectBooster has synced it to QuickBooks",
            Resolution(
                how=ResolutionHow.SYNCED,
                by=None,
                at=now,
                detail=f"QuickBooks payment {qb_id}" if qb_id else None,
            ),
        )
    if status == SyncStatus.DISMISSED:
        return Moved(
            FailureStatus.RESOLVED,
            "syncing was dismissed in ConnectBooster",
            Resolution(how=ResolutionHow.DISMISSED, by=None, at=now),
        )
    if status == SyncStatus.PENDING:
        after = FailureStatus.WAITING_SYNC if rec.status == FailureStatus.OPEN else rec.status
        return Moved(after, "ConnectBooster has queued it for another sync")
    return None


@dataclass(frozen=True)
class Planning:
    """A failure as it stands now, ready to plan any remedy on.

    ``record``: the record with the payment as ConnectBooster shows it now, the new diagnosis
    and the plans its card offers (in memory, not saved). ``facts``: what QuickBooks holds.
    ``ctx``: the plan context for the user the plans are for."""

    record: FailureRecord
    facts: QBOFacts
    ctx: PlanContext
    view: FailureRecord  # ``record`` as plans see it (see ``as_planned``)

    def plan(
        self, kind: RemedyKind, params: dict[str, Any] | None = None, *, shown: bool = False
    ) -> RemedyPlan:
        """The plan of ``kind`` (pure). ``shown``: as the card shows it (for no user in
        particular), whose digest is what a button carries."""
        ctx = replace(self.ctx, user="") if shown else self.ctx
        return plan_remedy(kind, self.view, self.facts, ctx, params or None)


async def planning(
    services: Services, rec: FailureRecord, user: str = "", payment: Payment | None = None
) -> Planning:
    """Read ``rec``'s payment again in ConnectBooster (unless ``payment`` is given), fetch its
    QuickBooks facts, diagnose it again and plan the remedies its card offers. Raises
    ``cb.errors.NotFound`` when ConnectBooster no longer has the payment, and any QuickBooks
    or ConnectBooster error that stopped the reading."""
    if payment is None:
        payment = await current_payment(services, rec.payment)
    record = rec.model_copy(deep=True)
    record.payment = payment
    seen = as_planned(rec, payment)
    facts = await fetch_facts(services.qbo, [seen])
    record.diagnosis = diagnose(seen, facts, threshold=services.settings.alert_threshold)
    view = record.model_copy()
    view.payment = seen
    ctx = await plan_context(services, view, user, facts=facts)
    record.plans = offered_plans(view, facts, ctx)
    return Planning(record=record, facts=facts, ctx=ctx, view=view)


async def fresh_plan(
    services: Services,
    payment_id: str,
    kind: RemedyKind,
    user: str,
    params: dict[str, Any] | None = None,
) -> tuple[FailureRecord, RemedyPlan, QBOFacts]:
    """The plan of remedy ``kind`` for ``user`` on the payment as it stands now: the record
    brought up to date (payment, diagnosis, offered plans; not saved), the plan and the facts
    it was made from. Raises ``LookupError`` when the bot has no record of the payment."""
    rec = await services.store.get_failure(payment_id)
    if rec is None:
        raise LookupError(f"no failure record for payment {payment_id}")
    p = await planning(services, rec, user)
    return p.record, p.plan(kind, params), p.facts


async def plans_for(
    services: Services, rec: FailureRecord, facts: QBOFacts
) -> dict[RemedyKind, RemedyPlan]:
    """The plans ``rec``'s card offers, from facts already fetched (the poller's bulk fetch)."""
    ctx = await plan_context(services, rec, facts=facts)
    return offered_plans(rec, facts, ctx)


__all__ = [
    "COMPANY_TTL",
    "UNDEPOSITED_FUNDS",
    "CompanyBooks",
    "Moved",
    "Planning",
    "as_planned",
    "cb_moved",
    "company_books",
    "fresh_plan",
    "offered_plans",
    "plan_context",
    "planning",
    "plans_for",
]
