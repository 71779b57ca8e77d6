"""Bulk fetching of QBO facts over real HTTP against the QBO sandbox: the same facts and the
same diagnoses as the one-by-one approach, from a handful of requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
import redis.asyncio as aioredis
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bench.naive_fetch import naive_fetch
from bot.diagnosis import QBOFacts, diagnose_many, fetch_facts
from bot.models import Cause, RemedyKind
from bot.store.tokens import RedisTokenStore
from cb.models import Application, SyncError, SyncState, SyncStatus
from cb.models import Customer as CBCustomer
from cb.models import Payment as CBPayment
from sandbox.qbo import SandboxCompany
from tests.qbo_fixtures import QBOEnv, connected_record, seed_invoice, start_qbo

NOW = datetime.now(UTC).replace(microsecond=0)
RUN = NOW - timedelta(days=1)
BEFORE = RUN - timedelta(days=2)
AFTER = RUN + timedelta(hours=2)


@pytest.fixture
async def env(redis_client: aioredis.Redis, redis_prefix: str) -> AsyncIterator[QBOEnv]:
    store = RedisTokenStore(
        redis_client,
        f"{redis_prefix}qbo:token",
        f"{redis_prefix}qbo:token:lock",
        encryption_key=SecretStr(Fernet.generate_key().decode()),
    )
    async with start_qbo(store=store) as e:
        await store.save(connected_record(e.sandbox))
        yield e


@dataclass
class Book:
    """What was seeded: CB payments and the cause each should get."""

    payments: list[CBPayment]
    expected: dict[str, Cause]


def _customer(co: SandboxCompany, name: str) -> str:
    return str(co.create("Customer", {"DisplayName": name}, at=BEFORE)["Id"])


def _invoice(co: SandboxCompany, cust: str, amount: str, doc: str) -> dict[str, Any]:
    body = {
        "CustomerRef": {"value": cust},
        "DocNumber": doc,
        "Line": [{"Amount": D(amount), "DetailType": "SalesItemLineDetail"}],
    }
    return co.create("Invoice", body, at=BEFORE)


def _pay(
    co: SandboxCompany,
    cust: str,
    lines: list[tuple[str, str, str]],
    *,
    at: datetime = AFTER,
    **kw: Any,
) -> str:
    body = {
        "CustomerRef": {"value": cust},
        "Line": [{"Amount": D(a), "LinkedTxn": [{"TxnId": i, "TxnType": t}]} for a, t, i in lines],
        **kw,
    }
    if "TotalAmt" not in body:
        body["TotalAmt"] = sum((D(a) for a, t, _ in lines if t == "Invoice"), D(0))
    return str(co.create("Payment", body, at=at)["Id"])


def _cb(n: int, cust: str, name: str, apps: list[tuple[dict[str, Any], str]]) -> CBPayment:
    return CBPayment(
        id=f"pmt_{n}",
        reference=f"CB{10000 + n}",
        customer=CBCustomer(id=f"cus_{cust}", name=name, qb_customer_id=cust),
        amount=sum((D(a) for _, a in apps), D(0)),
        paid_at=RUN,
        applications=[
            Application(invoice_number=inv["DocNumber"], qb_invoice_id=inv["Id"], amount=D(a))
            for inv, a in apps
        ],
        sync=SyncState(
            status=SyncStatus.FAILED,
            attempts=1,
            error=SyncError(code="6000", message="The amount applied exceeds the open balance."),
        ),
        updated_at=AFTER,
    )


def seed(co: SandboxCompany) -> Book:
    a = _customer(co, "Northwind Dental")
    b = _customer(co, "Contoso Clinic")
    payments: list[CBPayment] = []
    expected: dict[str, Cause] = {}

    def add(p: CBPayment, cause: Cause) -> None:
        payments.append(p)
        expected[p.id] = cause

    # paid manually
    inv = _invoice(co, a, "1000.00", "2001")
    _pay(co, a, [("1000.00", "Invoice", inv["Id"])], PaymentRefNum="4417")
    add(_cb(1, a, "Northwind Dental", [(inv, "1000.00")]), Cause.PAID_MANUALLY)
    # credit memo: a $0 payment linking the invoice and the credit memo
    inv = _invoice(co, a, "500.00", "2002")
    memo = co.create("CreditMemo", {"CustomerRef": {"value": a}, "TotalAmt": D("200.00")})
    _pay(
        co,
        a,
        [("200.00", "Invoice", inv["Id"]), ("200.00", "CreditMemo", memo["Id"])],
        TotalAmt=D("0"),
    )
    add(_cb(2, a, "Northwind Dental", [(inv, "500.00")]), Cause.CREDIT_MEMO)
    # deleted and recreated with the same number
    inv = _invoice(co, a, "300.00", "2003")
    co.delete("Invoice", inv["Id"], at=AFTER)
    seed_invoice(co, a, "300.00", doc="2003")
    add(_cb(3, a, "Northwind Dental", [(inv, "300.00")]), Cause.RECREATED)
    # deleted, no replacement
    inv = _invoice(co, a, "77.77", "2004")
    co.delete("Invoice", inv["Id"], at=AFTER)
    add(_cb(4, a, "Northwind Dental", [(inv, "77.77")]), Cause.DELETED)
    # voided
    inv = _invoice(co, a, "120.00", "2005")
    co.void("Invoice", inv["Id"], at=AFTER)
    add(_cb(5, a, "Northwind Dental", [(inv, "120.00")]), Cause.VOIDED)
    # amount lowered after the run
    inv = _invoice(co, a, "640.00", "2006")
    co.update(
        "Invoice",
        {"Id": inv["Id"], "SyncToken": inv["SyncToken"], "TotalAmt": D("600.00")},
        at=AFTER,
    )
    add(_cb(6, a, "Northwind Dental", [(inv, "640.00")]), Cause.AMOUNT_CHANGED)
    # already in QBO: a payment with the CB reference
    inv = _invoice(co, a, "90.00", "2007")
    _pay(co, a, [("90.00", "Invoice", inv["Id"])], PaymentRefNum="CB10007")
    add(_cb(7, a, "Northwind Dental", [(inv, "90.00")]), Cause.ALREADY_IN_QBO)
    # the invoice is fine, the customer was made inactive
    inv = _invoice(co, b, "250.00", "2008")
    cust = co.get("Customer", b) or {}
    co.update("Customer", {"Id": b, "SyncToken": cust["SyncToken"], "Active": False}, at=AFTER)
    add(_cb(8, b, "Contoso Clinic", [(inv, "250.00")]), Cause.INACTIVE_CUSTOMER)
    # mixed: a fine invoice and a credit-memo one
    fine = _invoice(co, a, "40.00", "2009")
    inv = _invoice(co, a, "60.00", "2010")
    memo = co.create("CreditMemo", {"CustomerRef": {"value": a}, "TotalAmt": D("10.00")})
    _pay(
        co,
        a,
        [("10.00", "Invoice", inv["Id"]), ("10.00", "CreditMemo", memo["Id"])],
        TotalAmt=D("0"),
    )
    add(_cb(9, a, "Northwind Dental", [(fine, "40.00"), (inv, "60.00")]), Cause.CREDIT_MEMO)
    # the money typed in by hand as "cb-10010", left unapplied: no invoice links it
    inv = _invoice(co, a, "80.00", "2011")
    _pay(co, a, [], TotalAmt=D("80.00"), PaymentRefNum="cb-10010")
    add(_cb(10, a, "Northwind Dental", [(inv, "80.00")]), Cause.ALREADY_IN_QBO)
    # a hand payment minutes before the run: the portal took the payment on a stale balance
    inv = _invoice(co, a, "60.00", "2012")
    _pay(
        co,
        a,
        [("60.00", "Invoice", inv["Id"])],
        at=RUN - timedelta(minutes=9),
        PaymentRefNum="4420",
    )
    add(_cb(11, a, "Northwind Dental", [(inv, "60.00")]), Cause.PAID_MANUALLY)
    # one payment of $300 money and a $200 credit memo on a $500 invoice
    inv = _invoice(co, a, "500.00", "2013")
    memo = co.create("CreditMemo", {"CustomerRef": {"value": a}, "TotalAmt": D("200.00")})
    _pay(
        co,
        a,
        [("500.00", "Invoice", inv["Id"]), ("200.00", "CreditMemo", memo["Id"])],
        TotalAmt=D("300.00"),
        PaymentRefNum="4421",
    )
    add(_cb(12, a, "Northwind Dental", [(inv, "500.00")]), Cause.PAID_MANUALLY)
    # recreated with the same number, and the new invoice paid by hand
    inv = _invoice(co, a, "300.00", "2014")
    co.delete("Invoice", inv["Id"], at=AFTER)
    new = seed_invoice(co, a, "300.00", doc="2014")
    _pay(co, a, [("300.00", "Invoice", new["Id"])], at=NOW, PaymentRefNum="4422")
    add(_cb(13, a, "Northwind Dental", [(inv, "300.00")]), Cause.RECREATED)
    return Book(payments, expected)


def _shape(f: QBOFacts) -> dict[str, Any]:
    return {
        "invoices": sorted(f.invoices),
        "deleted": f.deleted_invoice_ids,
        "payments": sorted(f.payments),
        "memos": sorted(f.credit_memos),
        "numbers": {k: sorted(i.id or "" for i in v) for k, v in f.replacements_by_number.items()},
        "open": {k: sorted(i.id or "" for i in v) for k, v in f.invoices_by_customer.items()},
        "refs": {k: sorted(p.id or "" for p in v) for k, v in f.existing_by_reference.items()},
        "inactive": f.inactive_customer_ids,
        "customers": {k: (c.active, c.sync_token) for k, c in f.customers.items()},
        "customer_payments": {
            k: sorted(p.id or "" for p in v) for k, v in f.customer_payments.items()
        },
    }


async def test_bulk_facts_diagnose_every_cause(env: QBOEnv) -> None:
    book = seed(env.company)
    result = await diagnose_many(env.client, book.payments, cdc_since=RUN)
    assert {k: d.cause for k, d in result.items()} == book.expected
    recreated = result["pmt_3"].findings[0]
    assert recreated.replacement_invoice_id is not None
    gone = recreated.evidence[0]
    assert gone.deleted and gone.updated_at == AFTER  # the deletion time came from CDC
    cm = result["pmt_2"].findings[0]
    assert cm.credit_memo_id and cm.credit_memo_payment_id and cm.credit_memo_amount == D("200")
    link = result["pmt_1"].findings[0].evidence[0].url or ""
    assert link.startswith("https://app.sandbox.qbo.intuit.com/app/invoice?txnId=")
    books = {k: d.books for k, d in result.items()}
    recorded = {k: b.recorded_total for k, b in books.items() if b is not None}
    assert recorded["pmt_10"] == D("80.00") and books["pmt_10"].reconciled  # type: ignore[union-attr]
    assert result["pmt_10"].remedies[0] is RemedyKind.DISMISS_SYNC
    assert (
        recorded["pmt_11"] == D("60.00") and result["pmt_11"].remedies[0] is RemedyKind.DISMISS_SYNC
    )
    # $300 recorded, the $200 of credit is not: recreate the rest
    assert recorded["pmt_12"] == D("300.00")
    assert result["pmt_12"].remedies[0] is RemedyKind.RECREATE_PAYMENT
    [credit] = result["pmt_12"].findings[0].credit_applications
    assert credit.amount == D("200.00") and credit.payment_money == D("300.00")
    # the replacement was paid by hand: nothing left to record
    assert recorded["pmt_13"] == D("300.00") and books["pmt_13"].reconciled  # type: ignore[union-attr]
    assert recorded["pmt_2"] == 0 and recorded["pmt_3"] == 0


async def test_bulk_equals_naive_with_far_fewer_requests(env: QBOEnv) -> None:
    book = seed(env.company)
    client = env.client

    before = client.stats.requests
    batched = await fetch_facts(client, book.payments, cdc_since=RUN)
    batched_requests = client.stats.requests - before

    before = client.stats.requests
    plain_queries = await fetch_facts(client, book.payments, cdc_since=RUN, use_batch=False)
    query_requests = client.stats.requests - before

    before = client.stats.requests
    naive = await naive_fetch(client, book.payments, cdc_since=RUN)
    naive_requests = client.stats.requests - before

    assert _shape(batched) == _shape(plain_queries) == _shape(naive)
    # three batch rounds and one CDC call, whatever the number of failures
    assert batched_requests == 4
    assert query_requests <= 10  # each round's chunks, one query each, and the CDC call
    assert naive_requests >= 3 * batched_requests


async def test_requests_do_not_grow_with_the_number_of_failures(env: QBOEnv) -> None:
    co = env.company
    a = _customer(co, "Fabrikam")
    payments = []
    for n in range(250):
        inv = _invoice(co, a, "10.00", f"9{n:04d}")
        if n % 2:
            _pay(co, a, [("10.00", "Invoice", inv["Id"])], PaymentRefNum=f"M{n}")
        payments.append(_cb(100 + n, a, "Fabrikam", [(inv, "10.00")]))
    before = env.client.stats.requests
    result = await diagnose_many(env.client, payments, cdc_since=RUN)
    used = env.client.stats.requests - before
    assert used <= 3  # no invoice missing: no CDC; 250 ids fit the batch rounds
    manual = [d for d in result.values() if d.cause is Cause.PAID_MANUALLY]
    assert len(manual) == 125


async def test_empty_batch_asks_nothing(env: QBOEnv) -> None:
    before = env.client.stats.requests
    facts = await fetch_facts(env.client, [])
    assert facts.invoices == {} and env.client.stats.requests == before
