"""Builders for the pure diagnosis tables (``tests/test_diagnosis.py``, ``tests/test_books.py``):
QBO invoices, payments, credit memos and customers, ConnectBooster payments and ``QBOFacts``,
as QuickBooks and ConnectBooster would hold them around one payment run (``RUN``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

from bot.diagnosis import QBOFacts
from bot.models import RemedyKind
from cb.models import Application, SyncError, SyncState, SyncStatus
from cb.models import Customer as CBCustomer
from cb.models import Payment as CBPayment
from qb.models import CreditMemo, Customer, Invoice, LinkedTxn, MetaData, PaymentLine, Ref
from qb.models import Payment as QBPayment

RUN = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)  # the ConnectBooster payment run
BEFORE = RUN - timedelta(days=2)
AFTER = RUN + timedelta(hours=3)
CUST = "58"

R = RemedyKind
DISMISS, DELETE, UNAPPLY, RECREATE, RECHECK, REACTIVATE = (
    R.DISMISS_SYNC,
    R.DELETE_HISTORY,
    R.UNAPPLY_CREDIT_MEMO,
    R.RECREATE_PAYMENT,
    R.RECHECK,
    R.REACTIVATE_CUSTOMER,
)
INACTIVE_FAULT = (
    "Object Not Found : Something you're trying to use has been made inactive. Check the "
    "fields with accounts, customers, items, vendors or employees."
)


def url(kind: str, ident: str) -> str:
    return f"https://app.sandbox.qbo.intuit.com/app/{kind.lower()}?txnId={ident}"


def inv(
    ident: str,
    number: str,
    total: str,
    balance: str | None = None,
    *,
    created: datetime = BEFORE,
    updated: datetime | None = None,
    customer: str = CUST,
    voided: bool = False,
    links: list[str] | None = None,
) -> Invoice:
    return Invoice(
        id=ident,
        doc_number=number,
        txn_date=created.date(),
        total_amt=D("0") if voided else D(total),
        balance=D("0") if voided else D(balance if balance is not None else total),
        customer_ref=Ref(value=customer),
        private_note="Voided" if voided else None,
        linked_txn=[LinkedTxn(txn_id=p, txn_type="Payment") for p in links or []],
        meta_data=MetaData(create_time=created, last_updated_time=updated or created),
    )


def pay(
    ident: str,
    ref: str | None,
    lines: list[tuple[str, str, str]],
    *,
    created: datetime = AFTER,
    total: str | None = None,
    txn_date: date | None = None,
    customer: str = CUST,
    note: str | None = None,
) -> QBPayment:
    """lines: (amount, txn type, txn id). ``TotalAmt`` is QBO's: the money, i.e. the invoice
    lines less the credit-memo lines, unless ``total`` says more (the rest is unapplied)."""
    applied = sum((D(a) if t == "Invoice" else -D(a) for a, t, _ in lines), D(0))
    total_amt = D(total) if total is not None else applied
    return QBPayment(
        id=ident,
        payment_ref_num=ref,
        txn_date=txn_date or created.date(),
        total_amt=total_amt,
        unapplied_amt=max(total_amt - applied, D(0)),
        customer_ref=Ref(value=customer),
        private_note=note,
        line=[
            PaymentLine(amount=D(a), linked_txn=[LinkedTxn(txn_id=i, txn_type=t)])
            for a, t, i in lines
        ],
        meta_data=MetaData(create_time=created, last_updated_time=created),
    )


def customer(ident: str = CUST, *, active: bool = True, currency: str | None = None) -> Customer:
    """A QBO customer as the fetch reads it (``SyncToken``, ``Active``, ``CurrencyRef``)."""
    return Customer(
        id=ident,
        sync_token="3",
        display_name="Northwind Dental",
        active=active,
        currency_ref=Ref(value=currency) if currency else None,
    )


def cm(ident: str, number: str, total: str, remaining: str = "0") -> CreditMemo:
    return CreditMemo(
        id=ident,
        doc_number=number,
        total_amt=D(total),
        balance=D(remaining),
        remaining_credit=D(remaining),
        customer_ref=Ref(value=CUST),
        meta_data=MetaData(create_time=AFTER, last_updated_time=AFTER),
    )


def cbpay(
    apps: list[tuple[str, str, str]],
    amount: str | None = None,
    *,
    code: str = "6000",
    message: str = "The amount applied exceeds the open balance.",
) -> CBPayment:
    """apps: (invoice number, qb invoice id, amount)."""
    total = D(amount) if amount else sum((D(a) for _, _, a in apps), D(0))
    return CBPayment(
        id="pmt_1",
        reference="CB10234",
        customer=CBCustomer(id="cus_311", name="Northwind Dental", qb_customer_id=CUST),
        amount=total,
        paid_at=RUN,
        applications=[
            Application(invoice_number=n, qb_invoice_id=i, amount=D(a)) for n, i, a in apps
        ],
        sync=SyncState(
            status=SyncStatus.FAILED,
            attempts=3,
            last_attempt_at=RUN + timedelta(hours=1),
            error=SyncError(code=code, message=message),
        ),
        updated_at=RUN + timedelta(hours=1),
    )


def facts(
    invoices: list[Invoice] = (),  # type: ignore[assignment]
    payments: list[QBPayment] = (),  # type: ignore[assignment]
    memos: list[CreditMemo] = (),  # type: ignore[assignment]
    *,
    deleted: dict[str, datetime | None] | None = None,
    by_number: list[Invoice] = (),  # type: ignore[assignment]
    open_invoices: list[Invoice] = (),  # type: ignore[assignment]
    existing: list[QBPayment] = (),  # type: ignore[assignment]
    inactive: set[str] | None = None,
    customer_payments: list[QBPayment] = (),  # type: ignore[assignment]
    customers: list[Customer] = (),  # type: ignore[assignment]
) -> QBOFacts:
    """The facts a bulk fetch would hold; ``payments`` are those the invoices link,
    ``customer_payments`` the customer's payments in its window (``CUST``'s unless they name
    another customer)."""
    numbers: dict[str, list[Invoice]] = {}
    for i in by_number:
        numbers.setdefault(i.doc_number or "", []).append(i)
    refs: dict[str, list[QBPayment]] = {}
    for p in existing:
        refs.setdefault(p.payment_ref_num or "", []).append(p)
    return QBOFacts(
        invoices={i.id or "": i for i in invoices},
        deleted_invoice_ids=dict(deleted or {}),
        payments={p.id or "": p for p in payments},
        credit_memos={c.id or "": c for c in memos},
        replacements_by_number=numbers,
        invoices_by_customer={CUST: list(open_invoices)} if open_invoices else {},
        existing_by_reference=refs,
        inactive_customer_ids=set(inactive or ())
        | {c.id for c in customers if c.id and not c.active},
        web_url=url,
        customers={c.id or "": c for c in customers},
        customer_payments=_by_customer(customer_payments),
    )


def _by_customer(rows: list[QBPayment]) -> dict[str, list[QBPayment]]:
    out: dict[str, list[QBPayment]] = {}
    for p in rows:
        out.setdefault(p.customer_ref.value if p.customer_ref else CUST, []).append(p)
    return out
