"""The books equation, as a table over every cause: for a ConnectBooster payment of amount A,
after the bot's remedy QuickBooks records exactly A for it — never more, never less.

Each case builds the books honestly in the stand-ins (``tests/books_world.py``): invoices,
the portal payment, what people did in QuickBooks around the payment run, and
ConnectBooster's own sync failing on it. Then, as the bot does: the payment is read with the
real ``CBClient``, the facts with the real ``QBOClient`` (``fetch_facts``), it is diagnosed
and the remedy planned; every plan the bot would offer keeps the equation; the case's remedy
is applied with the real clients (and ConnectBooster's next sync runs); then the books are
read back: QuickBooks records exactly A for the payment (the test's own count, and
``account`` again), the invoices hold what they should, and a created payment carries A − R.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.diagnosis import fetch_facts
from bot.diagnosis.books import account
from bot.diagnosis.facts import QBOFacts
from bot.models import Diagnosis, RemedyKind
from bot.remedies.plan import PlanContext, plan_remedy
from bot.slack.ids import KEEP_AS_CREDIT
from cb.models import Payment
from tests.books_world import MIN, Desk, apply_plan, desk_at, failure

K = RemedyKind
NOW = datetime.now(UTC).replace(microsecond=0)
RUN = NOW - timedelta(hours=3)
YEAR_END = datetime(2025, 12, 31, 22, 30, tzinfo=ZoneInfo("America/New_York"))


@dataclass
class Case:
    name: str
    build: Callable[[Desk], None]
    kind: RemedyKind
    created: str | None = None  # the recreated payment's TotalAmt (A − R)
    target: str | None = None  # the pick: an invoice label, or KEEP_AS_CREDIT
    balances: dict[str, str] = field(default_factory=dict)  # invoice label -> after
    paid_at: datetime = RUN
    tz: str = "UTC"
    txn_date: str | None = None
    ctx: dict[str, Any] = field(default_factory=dict)
    currency: str | None = None  # the created payment's CurrencyRef


def one(amount: str = "1000", cb: str | None = None) -> Callable[[Desk], None]:
    """A customer, invoice ``a`` of ``amount`` and the portal payment of ``cb`` on it."""

    def build(d: Desk) -> None:
        d.customer()
        d.invoice("a", amount)
        d.cb_payment(cb or amount, [("a", amount)])

    return build


def then(*steps: Callable[[Desk], object]) -> Callable[[Desk], None]:
    def build(d: Desk) -> None:
        for step in steps:
            step(d)
        d.sync()

    return build


def hand(
    label: str,
    lines: list[tuple[str, str]],
    total: str,
    *,
    same: str | None = None,
    ref: str = "4401",
    after: timedelta = 20 * MIN,
) -> Callable[[Desk], str]:
    return lambda d: d.qbo_payment(
        label,
        lines,
        total=total,
        ref=ref,
        after=after,
        same_money=same if same is not None else total,
    )


def two(d: Desk) -> None:
    """Invoices ``a`` ($1,000) and ``b`` ($250), the $1,250 portal payment on both."""
    d.customer()
    d.invoice("a", "1000")
    d.invoice("b", "250")
    d.cb_payment("1250", [("a", "1000"), ("b", "250")])


def credit(d: Desk, *pairs: tuple[str, str, str]) -> None:
    """$0 payments applying credit memos: ``(zero label, invoice label, amount)``."""
    for n, (label, inv, amount) in enumerate(pairs):
        d.credit_memo(f"cm{n}", amount)
        d.qbo_payment(label, [(inv, amount), (f"cm{n}", amount)], total="0", ref=None)


def shared_zero(d: Desk) -> None:
    d.customer()
    d.invoice("a", "1000")
    d.invoice("c", "500")
    d.cb_payment("1000", [("a", "1000")])
    d.credit_memo("cm1", "300")
    d.credit_memo("cm2", "200")
    d.qbo_payment(
        "z", [("a", "400"), ("c", "100"), ("cm1", "300"), ("cm2", "200")], total="0", ref=None
    )


def lost_answer(d: Desk) -> None:
    one()(d)
    d.sync(lose_response=True)


def mixed(d: Desk) -> None:
    d.customer()
    d.invoice("a", "600")
    d.invoice("b", "400")
    d.cb_payment("1000", [("a", "600"), ("b", "400")])
    credit(d, ("z", "a", "100"))
    d.qbo_payment("h", [("b", "400")], total="400", same_money="400")


def euro(d: Desk) -> None:
    d.customer(currency="EUR")
    d.invoice("a", "1000")
    d.cb_payment("1000", [("a", "1000")], currency="EUR")


CASES = [
    Case(
        "paid by hand, whole",
        then(one(), hand("h", [("a", "1000")], "1000")),
        K.DISMISS_SYNC,
        balances={"a": "0"},
    ),
    Case(
        "paid by hand, deleted from the portal history",
        then(one(), hand("h", [("a", "1000")], "1000")),
        K.DELETE_HISTORY,
        balances={"a": "0"},
    ),
    Case(
        "paid by hand, one invoice of two",
        then(two, hand("h", [("a", "1000")], "1000")),
        K.RECREATE_PAYMENT,
        created="250",
        balances={"a": "0", "b": "0"},
    ),
    Case(
        "partial hand payment ($50 check)",
        then(one(), hand("h", [("a", "50")], "50")),
        K.RECREATE_PAYMENT,
        created="950",
        balances={"a": "0"},
    ),
    Case(
        "hand payment covers the invoice, not the overpayment",
        then(one("1000", cb="1100"), hand("h", [("a", "1000")], "1000")),
        K.RECREATE_PAYMENT,
        created="100",
        balances={"a": "0"},
    ),
    Case(
        "hand payment minutes before the run (stale balance)",
        then(one(), hand("h", [("a", "1000")], "1000", after=-10 * MIN)),
        K.DISMISS_SYNC,
        balances={"a": "0"},
    ),
    Case(
        "partial hand payment before the run",
        then(one(), hand("h", [("a", "400")], "400", after=-10 * MIN)),
        K.RECREATE_PAYMENT,
        created="600",
        balances={"a": "0"},
    ),
    Case(
        "reference variant entered by hand (CB-10234)",
        then(one(), hand("h", [("a", "1000")], "1000", ref="CB-10234", same="0")),
        K.DISMISS_SYNC,
        balances={"a": "0"},
    ),
    Case(
        "CB payment in QuickBooks for part of the amount (cb 10234)",
        then(one(), hand("h", [("a", "600")], "600", ref="cb 10234", same="0")),
        K.RECREATE_PAYMENT,
        created="400",
        balances={"a": "0"},
    ),
    Case(
        "already in QuickBooks (the sync's answer was lost)",
        lost_answer,
        K.DISMISS_SYNC,
        balances={"a": "0"},
    ),
    Case(
        "credit memo applied ($0 payment)",
        then(one(), lambda d: credit(d, ("z", "a", "200"))),
        K.UNAPPLY_CREDIT_MEMO,
        balances={"a": "0"},
    ),
    Case(
        "two $0 credit applications on one invoice",
        then(one(), lambda d: credit(d, ("z1", "a", "150"), ("z2", "a", "250"))),
        K.UNAPPLY_CREDIT_MEMO,
        balances={"a": "0"},
    ),
    Case(
        "shared $0 payment trimmed, still balanced",
        then(shared_zero),
        K.UNAPPLY_CREDIT_MEMO,
        balances={"a": "0", "c": "400"},
    ),
    Case(
        "credit mix: $300 money + $200 credit on a $500 invoice",
        then(
            one("500"),
            lambda d: d.credit_memo("cm1", "200"),
            hand("h", [("a", "500"), ("cm1", "200")], "300"),
        ),
        K.RECREATE_PAYMENT,
        created="200",
        target=KEEP_AS_CREDIT,
        balances={"a": "0"},
    ),
    Case(
        "invoice deleted, another invoice picked",
        then(one(), lambda d: d.invoice("o", "1200"), lambda d: d.edit("delete", "a")),
        K.RECREATE_PAYMENT,
        created="1000",
        target="o",
        balances={"o": "200"},
    ),
    Case(
        "invoice deleted and recreated",
        then(one(), lambda d: d.edit("recreate", "a")),
        K.RECREATE_PAYMENT,
        created="1000",
        balances={"a-new": "0"},
    ),
    Case(
        "recreated invoice paid by hand",
        then(
            one(),
            lambda d: d.edit("recreate", "a"),
            hand("h", [("a-new", "1000")], "1000", after=30 * MIN),
        ),
        K.DISMISS_SYNC,
        balances={"a-new": "0"},
    ),
    Case(
        "recreated invoice partly paid by hand",
        then(
            one(),
            lambda d: d.edit("recreate", "a"),
            hand("h", [("a-new", "300")], "300", after=30 * MIN),
        ),
        K.RECREATE_PAYMENT,
        created="700",
        balances={"a-new": "0"},
    ),
    Case(
        "invoice voided, kept as credit",
        then(one(), lambda d: d.edit("void", "a")),
        K.RECREATE_PAYMENT,
        created="1000",
        target=KEEP_AS_CREDIT,
    ),
    Case(
        "invoice lowered to $800, the rest kept as credit",
        then(one(), lambda d: d.edit("lower", "a", "800")),
        K.RECREATE_PAYMENT,
        created="1000",
        target=KEEP_AS_CREDIT,
        balances={"a": "0"},
    ),
    Case(
        "customer made inactive",
        then(one(), lambda d: d.deactivate()),
        K.REACTIVATE_CUSTOMER,
        balances={"a": "0"},
    ),
    Case(
        "mixed: one invoice paid by hand, the other voided, kept as credit",
        then(two, hand("h", [("a", "1000")], "1000"), lambda d: d.edit("void", "b")),
        K.RECREATE_PAYMENT,
        created="250",
        target=KEEP_AS_CREDIT,
        balances={"a": "0"},
    ),
    Case(
        "mixed: credit memo on one invoice, hand payment on the other",
        then(mixed),
        K.RECREATE_PAYMENT,
        created="600",
        target=KEEP_AS_CREDIT,
        balances={"a": "0", "b": "0"},
    ),
    Case(
        "overpayment on a deleted invoice, another picked",
        then(
            one("1000", cb="1100"),
            lambda d: d.invoice("o", "1500"),
            lambda d: d.edit("delete", "a"),
        ),
        K.RECREATE_PAYMENT,
        created="1100",
        target="o",
        balances={"o": "500"},
    ),
    Case(
        "year end, books in New York",
        then(two, hand("h", [("a", "1000")], "1000")),
        K.RECREATE_PAYMENT,
        created="250",
        paid_at=YEAR_END,
        tz="America/New_York",
        txn_date="2025-12-31",
    ),
    Case(
        "year end, books in UTC",
        then(two, hand("h", [("a", "1000")], "1000")),
        K.RECREATE_PAYMENT,
        created="250",
        paid_at=YEAR_END,
        tz="UTC",
        txn_date="2026-01-01",
    ),
    Case(
        "euro customer in a multi-currency company",
        then(euro, hand("h", [("a", "400")], "400")),
        K.RECREATE_PAYMENT,
        created="600",
        currency="EUR",
        ctx={"multi_currency": True, "exchange_rate": Decimal("1.08")},
    ),
]


def _ctx(d: Desk, case: Case) -> PlanContext:
    return PlanContext(
        books_tz=ZoneInfo(case.tz),
        deposit_account_id=str(d.company.undeposited_funds["Id"]),
        user="U0EQUATION",
        **case.ctx,
    )


def _check_offered(payment: Payment, facts: QBOFacts, diag: Diagnosis, ctx: PlanContext) -> None:
    """Every plan the bot would offer keeps the equation; Dismiss/Delete only when R = A."""
    rec = failure(payment, diag)
    books = diag.books
    assert books is not None
    for kind in diag.remedies:
        plan = plan_remedy(kind, rec, facts, ctx)
        if kind in (K.DISMISS_SYNC, K.DELETE_HISTORY) and plan.may_run:
            assert books.reconciled, (kind, books)
        if plan.may_run and kind != K.RECHECK:
            assert plan.recorded_after == payment.amount, (kind, plan)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_books_equation(case: Case) -> None:
    async with desk_at(case.paid_at) as d:
        case.build(d)
        payment, facts, diag = await d.fetch()
        assert payment.sync.status.value == "failed", payment.sync
        if diag.books is None:  # until the diagnosis carries them
            diag = diag.model_copy(update={"books": account(payment, facts)})
        a = payment.amount
        ctx = _ctx(d, case)
        assert case.kind in diag.remedies, (diag.cause, diag.remedies, diag.books)
        _check_offered(payment, facts, diag, ctx)
        params = {"target": d.ids.get(case.target, case.target)} if case.target else {}
        plan = plan_remedy(case.kind, failure(payment, diag), facts, ctx, params)
        assert plan.may_run, (plan.refusal, plan.pick, diag.books)
        assert diag.books is not None
        assert plan.recorded_after == a and plan.recorded_before == diag.books.recorded_total

        created = await apply_plan(d, plan)
        d.cb_sbx.sync_local(d.company, at=NOW)  # ConnectBooster's next run, for every payment

        assert d.recorded_for() == a, d.company.all("Payment")
        if case.kind == K.DELETE_HISTORY:  # gone from ConnectBooster: read QuickBooks only
            after, facts_after = payment, await fetch_facts(d.qbo, [payment])
        else:
            after, facts_after, _ = await d.fetch()
        books_after = account(after, facts_after)
        assert books_after.recorded_total == a and books_after.reconciled, books_after
        for label, balance in case.balances.items():
            assert d.balance(label) == Decimal(balance), label
        if case.created is None:
            assert created == {}
        else:
            assert Decimal(str(created["TotalAmt"])) == Decimal(case.created)
            assert Decimal(case.created) == a - plan.recorded_before
            applied = sum(
                (Decimal(str(ln["Amount"])) for ln in created.get("Line", [])), Decimal(0)
            )
            assert applied <= Decimal(case.created)
        if case.txn_date:
            assert str(created["TxnDate"]) == case.txn_date
        if case.currency:
            assert created["CurrencyRef"]["value"] == case.currency
            assert Decimal(str(created["ExchangeRate"])) == case.ctx["exchange_rate"]
