"""The books equation as a property (hypothesis, pure): over generated books and payments,
every plan the bot would offer leaves QuickBooks recording exactly A, never more.

Generated: one to three invoices, the portal payment applying all or part of each (and
sometimes more than it applies: the client's overpayment), and around the payment run on each
invoice: hand payments (full or partial, after the run or minutes before it, with a check
number or a spelling of the payment's own reference), $0 credit applications and payments
mixing money and credit; plus another open invoice of the customer a person could pick.

For each: ``diagnose`` (which fills the ``Books`` through ``account``), then every remedy of
the diagnosis planned with every choice a person could make (no pick, keep as credit, the
other invoice). Asserted for every plan that may run: ``recorded_after == A``; Dismiss and
Delete only when R = A; a created payment's ``TotalAmt`` is A − R, its lines never exceed an
invoice's open balance, and its credit is the client's overpayment unless "keep as credit"
was picked; and, applied to the facts, ``account`` then finds exactly A recorded.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.diagnosis import diagnose
from bot.diagnosis.books import account
from bot.diagnosis.facts import QBOFacts
from bot.models import Books, FailureRecord, RemedyKind, RemedyPlan, WriteKind
from bot.remedies.plan import PlanContext, plan_remedy
from bot.slack.ids import KEEP_AS_CREDIT
from cb.models import Application, Customer, Payment, SyncError, SyncState, SyncStatus
from qb.models import CreditMemo, Invoice, LinkedTxn, MetaData, PaymentLine, Ref
from qb.models import Payment as QBPayment

PAID_AT = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)
CUST = "58"
OTHER = "900"  # the customer's other open invoice
CTX = PlanContext(books_tz=ZoneInfo("America/New_York"), deposit_account_id="35", user="U1")
CENT = Decimal("0.01")
REFS = ["4401", "CB-10234", "cb 10234", "CB10234"]

cents = st.integers(min_value=1, max_value=200_000).map(lambda c: Decimal(c) / 100)


@st.composite
def events(draw: st.DrawFn) -> list[dict[str, Any]]:
    """What happened to one invoice around the run: kind, share of the balance, timing."""
    out = []
    for _ in range(draw(st.integers(0, 2))):
        out.append(
            {
                "kind": draw(st.sampled_from(["hand", "hand", "zero", "mixed"])),
                "share": draw(
                    st.sampled_from([Decimal(1), Decimal("0.5"), Decimal("0.05"), Decimal("0.3")])
                ),
                "minutes": draw(st.sampled_from([20, 90, -10, -300])),
                "ref": draw(st.sampled_from(REFS)),
            }
        )
    return out


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Payment, QBOFacts]:
    n = draw(st.integers(1, 3))
    totals = [draw(cents) for _ in range(n)]
    applied = [draw(st.sampled_from([t, (t / 2).quantize(CENT), t])) for t in totals]
    over = draw(st.sampled_from([Decimal(0), Decimal(0), Decimal("100.00"), Decimal("0.01")]))
    payment = Payment(
        id="pmt_p",
        reference="CB10234",
        amount=sum(applied, Decimal(0)) + over,
        customer=Customer(id="cus_1", name="Northwind", qb_customer_id=CUST),
        paid_at=PAID_AT,
        applications=[
            Application(qb_invoice_id=str(10 + i), invoice_number=str(1001 + i), amount=a)
            for i, a in enumerate(applied)
        ],
        sync=SyncState(status=SyncStatus.FAILED, error=SyncError(code="6000")),
        updated_at=PAID_AT,
    )
    balances = list(totals)
    payments: list[QBPayment] = []
    memos: list[CreditMemo] = []
    for i in range(n):
        for ev in draw(events()):
            amount = (balances[i] * ev["share"]).quantize(CENT)
            if amount <= 0:
                continue
            balances[i] -= amount
            payments.append(_qbo_payment(len(payments), str(10 + i), amount, ev, memos))
    invoices = [
        Invoice(
            id=str(10 + i),
            sync_token="0",
            doc_number=str(1001 + i),
            total_amt=t,
            balance=b,
            customer_ref=Ref(value=CUST),
        )
        for i, (t, b) in enumerate(zip(totals, balances, strict=True))
    ]
    other_total = draw(cents)
    other = Invoice(
        id=OTHER,
        sync_token="0",
        doc_number="1900",
        total_amt=other_total,
        balance=other_total,
        customer_ref=Ref(value=CUST),
    )
    by_ref = {"CB10234": [p for p in payments if p.payment_ref_num == "CB10234"]}
    facts = QBOFacts(
        invoices={i.id or "": i for i in invoices},
        payments={p.id or "": p for p in payments},
        credit_memos={m.id or "": m for m in memos},
        invoices_by_customer={CUST: [other]},
        existing_by_reference=by_ref,
        customer_payments={CUST: list(payments)},
    )
    return payment, facts


def _qbo_payment(
    n: int, inv: str, amount: Decimal, ev: dict[str, Any], memos: list[CreditMemo]
) -> QBPayment:
    """A hand payment, a $0 credit application or a payment mixing money and credit that
    takes ``amount`` off invoice ``inv``."""
    made = PAID_AT + timedelta(minutes=ev["minutes"])
    lines = [PaymentLine(amount=amount, linked_txn=[LinkedTxn(txn_id=inv, txn_type="Invoice")])]
    total, ref = amount, ev["ref"]
    if ev["kind"] in ("zero", "mixed"):
        credit = amount if ev["kind"] == "zero" else (amount / 2).quantize(CENT)
        memo = CreditMemo(
            id=str(500 + len(memos)),
            doc_number=f"CM{len(memos)}",
            total_amt=credit,
            customer_ref=Ref(value=CUST),
        )
        memos.append(memo)
        lines.append(
            PaymentLine(
                amount=credit, linked_txn=[LinkedTxn(txn_id=memo.id or "", txn_type="CreditMemo")]
            )
        )
        total -= credit
        ref = None if ev["kind"] == "zero" else "4402"
    return QBPayment(
        id=str(100 + n),
        sync_token="0",
        total_amt=total,
        customer_ref=Ref(value=CUST),
        payment_ref_num=ref,
        meta_data=MetaData(create_time=made),
        line=lines,
    )


def _choices(kind: RemedyKind) -> list[dict[str, Any]]:
    if kind == RemedyKind.RECREATE_PAYMENT:
        return [{}, {"target": KEEP_AS_CREDIT}, {"target": OTHER}]
    return [{}]


def _check_create(
    plan: RemedyPlan, books: Books, facts: QBOFacts, params: dict[str, Any], payment: Payment
) -> None:
    [create] = [w for w in plan.writes if w.kind == WriteKind.QBO_CREATE_PAYMENT]
    assert create.body is not None
    total = Decimal(create.body["TotalAmt"])
    assert total == (books.amount - books.recorded_total).quantize(CENT) > 0
    on: dict[str, Decimal] = {}
    for ln in create.body["Line"]:
        inv_id = ln["LinkedTxn"][0]["TxnId"]
        on[inv_id] = on.get(inv_id, Decimal(0)) + Decimal(ln["Amount"])
    for inv_id, amount in on.items():
        inv = facts.find_invoice(inv_id)
        assert inv is not None and amount <= inv.balance, (inv_id, amount)
    credit = total - sum(on.values(), Decimal(0))
    assert credit >= 0
    if params.get("target") != KEEP_AS_CREDIT:
        assert credit <= books.overpaid, (credit, books)
    # applied to the books, the equation holds when they are read again
    made = QBPayment.model_validate(
        {
            **create.body,
            "Id": "999",
            "SyncToken": "0",
            "MetaData": {"CreateTime": PAID_AT + timedelta(hours=2)},
        }
    )
    invoices = {
        i: inv.model_copy(update={"balance": inv.balance - on.get(i, Decimal(0))})
        for i, inv in facts.invoices.items()
    }
    after = replace(
        facts,
        invoices=invoices,
        payments={**facts.payments, "999": made},
        customer_payments={CUST: [*facts.customer_payments.get(CUST, []), made]},
    )
    assert account(payment, after).recorded_total == books.amount


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_every_offered_plan_keeps_the_books_equation(world: tuple[Payment, QBOFacts]) -> None:
    payment, facts = world
    diag = diagnose(payment, facts)
    if diag.books is None:  # until the diagnosis carries them
        diag = diag.model_copy(update={"books": account(payment, facts)})
    books = diag.books
    assert books is not None
    rec = FailureRecord(payment_id=payment.id, payment=payment, diagnosis=diag)
    for kind in diag.remedies:
        for params in _choices(kind):
            plan = plan_remedy(kind, rec, facts, CTX, params)
            assert plan.recorded_before == books.recorded_total.quantize(CENT)
            if not plan.may_run:
                assert plan.writes == ()
                continue
            if kind == RemedyKind.RECHECK:
                assert plan.writes == ()
                continue
            assert plan.recorded_after == payment.amount, (kind, plan)
            if kind in (RemedyKind.DISMISS_SYNC, RemedyKind.DELETE_HISTORY):
                assert books.reconciled, (kind, books)
            if kind == RemedyKind.RECREATE_PAYMENT:
                _check_create(plan, books, facts, params, payment)
