"""Hand-built books for the planner's tests: a ConnectBooster payment, its ``Books`` and
``Diagnosis``, the QuickBooks facts the plans read, and a ``PlanContext`` — no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.diagnosis.facts import QBOFacts
from bot.models import (
    Books,
    Cause,
    Certainty,
    Diagnosis,
    FailureRecord,
    Finding,
    InvoiceNeed,
    RecordedKind,
    RecordedMoney,
    RemedyKind,
)
from bot.remedies.plan import PlanContext
from cb.models import Application, Customer, Payment, SyncState, SyncStatus
from qb.models import CreditMemo, Invoice, LinkedTxn, MetaData, PaymentLine, Ref
from qb.models import Customer as QBCustomer
from qb.models import Payment as QBPayment

PAID_AT = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)
CUSTOMER_ID = "58"


def D(x: str | int) -> Decimal:
    return Decimal(str(x))


def cb_payment(
    amount: str,
    apps: Sequence[tuple[str, str, str]],
    *,
    status: SyncStatus = SyncStatus.FAILED,
    currency: str = "USD",
    paid_at: datetime = PAID_AT,
    reference: str = "CB10234",
    qb_customer_id: str | None = CUSTOMER_ID,
) -> Payment:
    """A ConnectBooster payment applied to ``(invoice id, number, amount)``."""
    return Payment(
        id="pmt_1",
        reference=reference,
        customer=Customer(id="cus_1", name="Northwind", qb_customer_id=qb_customer_id),
        amount=D(amount),
        currency=currency,
        paid_at=paid_at,
        applications=[
            Application(qb_invoice_id=i, invoice_number=n, amount=D(a)) for i, n, a in apps
        ],
        sync=SyncState(status=status, qb_payment_id="99" if status == SyncStatus.SYNCED else None),
        updated_at=paid_at,
    )


def need(
    invoice_id: str,
    number: str,
    applied: str,
    recorded: str = "0",
    *,
    target: str | None = "same",
    room: str | None = None,
) -> InvoiceNeed:
    """An application's need; ``target="same"`` means its own invoice, room = the need."""
    tgt = invoice_id if target == "same" else target
    left = D(applied) - D(recorded)
    return InvoiceNeed(
        invoice_id=invoice_id,
        invoice_number=number,
        applied=D(applied),
        recorded=D(recorded),
        target_invoice_id=tgt,
        room=D(room) if room is not None else (left if tgt else D(0)),
    )


def recorded(
    qbo_id: str,
    amount: str,
    kind: RecordedKind = RecordedKind.BY_HAND,
    reference: str | None = None,
    **invoices: str,
) -> RecordedMoney:
    return RecordedMoney(
        qbo_payment_id=qbo_id,
        kind=kind,
        amount=D(amount),
        reference=reference,
        invoice_amounts={k.removeprefix("i"): D(v) for k, v in invoices.items()},
    )


def books(
    amount: str,
    needs: Sequence[InvoiceNeed] = (),
    rec: Sequence[RecordedMoney] = (),
    overpaid: str = "0",
    currency: str = "USD",
) -> Books:
    return Books(
        amount=D(amount),
        currency=currency,
        recorded=tuple(rec),
        needs=tuple(needs),
        overpaid=D(overpaid),
    )


def finding(
    invoice_id: str, number: str, applied: str, cause: Cause = Cause.NONE, **kw: Any
) -> Finding:
    return Finding(
        invoice_id=invoice_id,
        invoice_number=number,
        applied=D(applied),
        cause=cause,
        summary="-",
        **kw,
    )


def record(
    payment: Payment,
    bks: Books | None,
    findings: Sequence[Finding] = (),
    cause: Cause = Cause.PAID_MANUALLY,
    remedies: Sequence[RemedyKind] = (RemedyKind.RECREATE_PAYMENT, RemedyKind.RECHECK),
) -> FailureRecord:
    diag = Diagnosis(
        payment_id=payment.id,
        reference=payment.reference,
        cause=cause,
        certainty=Certainty.CERTAIN,
        findings=list(findings),
        remedies=list(remedies),
        summary="-",
        next_step="-",
        books=bks,
    )
    return FailureRecord(payment_id=payment.id, payment=payment, diagnosis=diag)


def invoice(
    id_: str, number: str, total: str, balance: str, customer: str = CUSTOMER_ID
) -> Invoice:
    return Invoice(
        id=id_,
        sync_token="0",
        doc_number=number,
        total_amt=D(total),
        balance=D(balance),
        customer_ref=Ref(value=customer),
    )


def zero_payment(
    id_: str,
    links: Sequence[tuple[str, str, str]],
    *,
    sync_token: str = "0",
    created: datetime | None = None,
    total: str = "0",
) -> QBPayment:
    """A $0 payment with one line per ``(TxnType, TxnId, amount)``."""
    return QBPayment(
        id=id_,
        sync_token=sync_token,
        total_amt=D(total),
        customer_ref=Ref(value=CUSTOMER_ID),
        meta_data=MetaData(create_time=created or datetime(2026, 11, 3, 16, 0, tzinfo=UTC)),
        line=[
            PaymentLine(amount=D(a), linked_txn=[LinkedTxn(txn_type=t, txn_id=i)])
            for t, i, a in links
        ],
    )


def credit_memo(id_: str, number: str, total: str) -> CreditMemo:
    return CreditMemo(
        id=id_,
        doc_number=number,
        total_amt=D(total),
        balance=D(0),
        customer_ref=Ref(value=CUSTOMER_ID),
    )


def facts(
    invoices: Sequence[Invoice] = (),
    payments: Sequence[QBPayment] = (),
    memos: Sequence[CreditMemo] = (),
    open_invoices: Sequence[Invoice] = (),
    customers: Sequence[QBCustomer] = (),
    inactive: Sequence[str] = (),
) -> QBOFacts:
    """QBO facts; ``customers`` go in ``QBOFacts.customers`` when the facts have it."""
    kw: dict[str, Any] = {
        "invoices": {i.id: i for i in invoices if i.id},
        "payments": {p.id: p for p in payments if p.id},
        "credit_memos": {m.id: m for m in memos if m.id},
        "invoices_by_customer": {CUSTOMER_ID: list(open_invoices)} if open_invoices else {},
        "inactive_customer_ids": set(inactive),
    }
    if "customers" in QBOFacts.__dataclass_fields__:
        kw["customers"] = {c.id: c for c in customers if c.id}
        return QBOFacts(**kw)
    out = QBOFacts(**kw)
    object.__setattr__(out, "customers", {c.id: c for c in customers if c.id})
    return out


def ctx(tz: str = "UTC", **kw: Any) -> PlanContext:
    base: dict[str, Any] = {
        "books_tz": ZoneInfo(tz),
        "deposit_account_id": "35",
        "user": "U0FINANCE",
    }
    return PlanContext(**{**base, **kw})
