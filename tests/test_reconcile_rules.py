"""The gateway reconciliation's pure rules, as tables: customer matching (normalised, never
guessed), receipt assignment, invoice allocation (pattern, likely subset, ask) and verdicts."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.reconcile.allocate import GONE_ID, applied_index, balance_then, by_pattern, by_subset
from bot.reconcile.customers import CustomerIndex, CustomerMatch, normalise_name
from bot.reconcile.decide import Rules, reconcile
from bot.reconcile.fetch import BooksView
from bot.reconcile.payments import as_payment
from bot.reconcile.receipts import Sale, assign_receipts
from bot.reconcile.verdicts import Verdict, before_qbo
from gateway.models import Action, Transaction
from qb.models import Customer, Invoice
from qb.models import Payment as QBPayment

T0 = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)
NOW = T0 + timedelta(days=3)
D = Decimal


def sale(tid: str, amount: str, at: datetime = T0, **kw: Any) -> Transaction:
    actions = [
        Action(action_type="sale", amount=D(amount), date=at, username=kw.pop("user", "cb")),
        Action(action_type="settle", amount=D(amount), date=at + timedelta(hours=2)),
        *kw.pop("more", []),
    ]
    return Transaction(
        transaction_id=tid, condition=kw.pop("condition", "complete"), actions=actions, **kw
    )


def customer(cid: str, name: str, email: str = "", **extra: Any) -> Customer:
    body: dict[str, Any] = {"Id": cid, "DisplayName": name, "CompanyName": name, **extra}
    if email:
        body["PrimaryEmailAddr"] = {"Address": email}
    return Customer.model_validate(body)


def receipt(pid: str, ref: str, amount: str, day: date, cust: str, **kw: Any) -> QBPayment:
    return QBPayment.model_validate(
        {
            "Id": pid,
            "PaymentRefNum": ref,
            "TotalAmt": amount,
            "TxnDate": day.isoformat(),
            "CustomerRef": {"value": cust},
            **kw,
        }
    )


def invoice(iid: str, number: str, total: str, balance: str, cust: str, **kw: Any) -> Invoice:
    return Invoice.model_validate(
        {
            "Id": iid,
            "DocNumber": number,
            "TotalAmt": total,
            "Balance": balance,
            "CustomerRef": {"value": cust},
            "TxnDate": "2026-10-20",
            "MetaData": {"CreateTime": "2026-10-20T08:30:00+00:00"},
            **kw,
        }
    )


@pytest.mark.parametrize(
    "typed",
    [
        "Northwind Dental, LLC",
        "NORTHWIND DENTAL INC.",
        "The Northwind  Dental.",
        "northwind dental",
    ],
)
def test_names_are_compared_normalised(typed: str) -> None:
    assert normalise_name(typed) == "northwind dental"


def test_a_customer_is_matched_by_email_then_company_then_name_and_never_guessed() -> None:
    idx = CustomerIndex.build(
        [
            customer("1", "Northwind Dental", "ap@northwind.example"),
            customer("2", "Acme Plumbing LLC"),
            customer("3", "ACME Plumbing, Inc."),
            customer("4", "Dana Reyes CPA", GivenName="Dana", FamilyName="Reyes"),
        ]
    )
    assert idx.match(sale("1", "1", email="AP@Northwind.example ")) == CustomerMatch(
        ("1",), "email"
    )
    assert idx.match(sale("1", "1", company="Northwind Dental, LLC")).one == "1"
    assert idx.match(sale("1", "1", first_name="dana", last_name="REYES")).one == "4"
    ambiguous = idx.match(sale("1", "1", company="Acme Plumbing"))
    assert ambiguous.ambiguous and ambiguous.one is None and set(ambiguous.ids) == {"2", "3"}
    assert idx.match(sale("1", "1", company="Someone Else")).ids == ()


def test_an_ambiguous_payer_is_shown_on_the_card_not_guessed() -> None:
    idx = CustomerIndex.build([customer("2", "Acme Plumbing LLC"), customer("3", "ACME Plumbing")])
    t = sale("77", "250.00", company="Acme Plumbing")
    [r] = reconcile([t], BooksView(customers=idx), NOW, Rules(grace=timedelta(hours=3)))
    assert r.verdict is Verdict.FAILED
    p = as_payment(r, BooksView(customers=idx), NOW)
    assert p.customer.qb_customer_id is None
    assert p.sync.error is not None
    assert "matches several customers (Acme Plumbing LLC, ACME Plumbing): not guessed" in (
        p.sync.error.message
    )


def test_a_monthly_client_keeps_each_receipt_with_its_own_sale() -> None:
    m = CustomerMatch(("7",), "company")
    older = Sale(sale("a", "393.00", T0 - timedelta(days=3)), m)  # failed: no receipt of its own
    newer = Sale(sale("b", "393.00", T0), m)
    pool = [receipt("900", "CB10453", "393.00", T0.date(), "7")]
    assert assign_receipts([older, newer], pool) == {"b": pool[0]}


def test_a_receipt_of_another_customer_or_amount_or_month_is_not_taken() -> None:
    m = CustomerMatch(("7",), "company")
    s = Sale(sale("a", "100.00"), m)
    pool = [
        receipt("1", "CB1", "100.00", T0.date(), "8"),  # another customer
        receipt("2", "CB2", "100.01", T0.date(), "7"),  # another amount
        receipt("3", "CB3", "100.00", T0.date() + timedelta(days=30), "7"),  # a month on
        receipt("4", "4401", "100.00", T0.date(), "7"),  # a check entered by hand
    ]
    assert assign_receipts([s], pool) == {}
    mine = receipt("5", "x", "1.00", T0.date(), "7", PrivateNote="[fp:gw-a] recreated")
    assert assign_receipts([s], [*pool, mine]) == {"a": mine}  # the bot's own receipt


def test_allocation_pattern_then_likely_subset_then_ask() -> None:
    pattern = re.compile(r"(\d{4,})")
    t = sale("1", "1250.00", order_id="1043,1051")
    invs = {
        "1043": [invoice("130", "1043", "1000.00", "1000.00", "58")],
        "1051": [invoice("145", "1051", "400.00", "400.00", "58")],
    }
    got = by_pattern(t, pattern, invs, "58", {"130": D("1000.00"), "145": D("400.00")})
    assert got is not None and got.how == "pattern"
    assert [(p.invoice_id, p.amount) for p in got.parts] == [
        ("130", D("1000.00")),
        ("145", D("250.00")),
    ]
    gone = by_pattern(sale("2", "80.00", order_id="9999"), pattern, invs, "58", {})
    assert gone is not None and [(p.number, p.invoice_id) for p in gone.parts] == [
        ("9999", GONE_ID)
    ]

    a, b, c = (
        invoice(i, f"10{i}", amt, amt, "58")
        for i, amt in (("1", "300.00"), ("2", "450.00"), ("3", "200.00"))
    )
    likely = by_subset(D("500.00"), [(a, D("300.00")), (b, D("450.00")), (c, D("200.00"))])
    assert likely.how == "likely" and {p.invoice_id for p in likely.parts} == {"1", "3"}
    two_ways = by_subset(
        D("650.00"),
        [
            (a, D("300.00")),
            (b, D("450.00")),
            (c, D("200.00")),
            (invoice("4", "104", "350.00", "350.00", "58"), D("350.00")),
        ],
    )
    assert two_ways.how == "ask" and two_ways.parts == ()  # 450+200 and 300+350: not guessed
    assert by_subset(D("1.00"), [(a, D("300.00"))]).how == "ask"


def test_balance_then_adds_back_what_was_applied_after_the_sale() -> None:
    inv = invoice("130", "1043", "1000.00", "0.00", "58")
    check = QBPayment.model_validate(
        {
            "Id": "9",
            "TotalAmt": "1000.00",
            "MetaData": {"CreateTime": (T0 + timedelta(minutes=20)).isoformat()},
            "Line": [{"Amount": "1000.00", "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]}],
        }
    )
    assert balance_then(inv, applied_index([check]), T0) == D("1000.00")
    assert balance_then(inv, applied_index([check]), T0 + timedelta(hours=2)) == D("0.00")


@pytest.mark.parametrize(
    ("t", "verdict"),
    [
        (sale("1", "10.00", user="frontdesk"), Verdict.IGNORED),
        (sale("1", "10.00", condition="failed"), Verdict.IGNORED),
        (sale("1", "10.00", NOW - timedelta(minutes=30)), Verdict.WAITING),
        (sale("1", "10.00", condition="pendingsettlement"), None),
        (sale("1", "10.00"), None),
        (
            sale(
                "1",
                "10.00",
                NOW - timedelta(minutes=30),
                more=[
                    Action(action_type="void", amount=D("10.00"), date=NOW - timedelta(minutes=5))
                ],
                condition="canceled",
            ),
            None,
        ),  # a void is looked at at once: its receipt may stand
    ],
)
def test_what_the_gateway_alone_decides(t: Transaction, verdict: Verdict | None) -> None:
    assert before_qbo(t, NOW, timedelta(hours=3), frozenset({"CB"})) is verdict
