"""The remedy planner, rule by rule, on hand-built books (pure: no I/O).

Every plan that may run leaves QuickBooks recording exactly A for the payment; Dismiss and
Delete only when R = A; Recreate carries A − R to the invoices that need it; Unapply covers
every $0 application and keeps a shared $0 payment balanced; Reactivate is a sparse update.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.models import Cause, FailureRecord, RecordedKind, RemedyKind, RemedyPlan, WriteKind
from bot.remedies.plan import plan_remedy
from bot.remedies.plan_recreate import pick_needed
from bot.slack.ids import KEEP_AS_CREDIT
from cb.models import SyncStatus
from qb.models import Customer as QBCustomer
from qb.models import Invoice
from qb.models import Payment as QBPayment
from tests.plan_fixtures import (
    D,
    books,
    cb_payment,
    credit_memo,
    ctx,
    facts,
    finding,
    invoice,
    need,
    record,
    recorded,
    zero_payment,
)

R = RemedyKind


def _create_body(plan: RemedyPlan) -> dict[str, Any]:
    assert plan.may_run, plan.refusal or plan.pick
    [create] = [w for w in plan.writes if w.kind == WriteKind.QBO_CREATE_PAYMENT]
    assert create.body is not None
    return create.body


# ---- Recreate: A − R ------------------------------------------------------------------


def test_recreate_carries_only_what_the_hand_payment_left() -> None:
    """$1,250 over invoices of $1,000 (paid by hand) and $250 → a $250 payment."""
    p = cb_payment("1250", [("11", "1001", "1000"), ("12", "1002", "250")])
    b = books(
        "1250",
        [need("11", "1001", "1000", "1000", room="0"), need("12", "1002", "250")],
        [recorded("70", "1000", i11="1000")],
    )
    plan = plan_remedy(R.RECREATE_PAYMENT, record(p, b), facts(), ctx())
    body = _create_body(plan)
    assert body["TotalAmt"] == D("250.00")
    assert body["Line"] == [
        {"Amount": D("250.00"), "LinkedTxn": [{"TxnId": "12", "TxnType": "Invoice"}]}
    ]
    assert [w.kind for w in plan.writes] == [WriteKind.CB_DISMISS, WriteKind.QBO_CREATE_PAYMENT]
    assert plan.recorded_before == D("1000.00")
    assert plan.recorded_after == plan.amount == D("1250.00")
    assert plan.writes[1].reads_as == (
        "Create payment CB10234 in QuickBooks: $250.00 to invoice 12 ($250.00), dated 2026-11-03"
    )
    assert plan.writes[0].reads_as == "Dismiss syncing of CB10234 in ConnectBooster"
    assert any("already records $1,000.00" in n for n in plan.notes)


def test_recreate_body_is_exactly_what_quickbooks_gets() -> None:
    p = cb_payment("400", [("11", "1001", "400")])
    b = books("400", [need("11", "1001", "400")])
    inv = invoice("11", "1001", "400", "400")
    body = _create_body(plan_remedy(R.RECREATE_PAYMENT, record(p, b), facts([inv]), ctx()))
    assert body == {
        "CustomerRef": {"value": "58", "name": "Northwind"},
        "TotalAmt": D("400.00"),
        "TxnDate": "2026-11-03",
        "PaymentRefNum": "CB10234",
        "DepositToAccountRef": {"value": "35"},
        "PrivateNote": "Recreated from ConnectBooster payment pmt_1 (CB10234) by the "
        "failed-payments bot at the request of Slack user U0FINANCE. "
        "[fp:pmt_1]",
        "Line": [{"Amount": D("400.00"), "LinkedTxn": [{"TxnId": "11", "TxnType": "Invoice"}]}],
    }


def test_partial_hand_payment_is_no_dismiss_and_recreate_records_the_rest() -> None:
    """A $50 check on a $1,000 invoice: Dismiss would lose $950."""
    p = cb_payment("1000", [("11", "1001", "1000")])
    b = books("1000", [need("11", "1001", "1000", "50")], [recorded("70", "50", i11="50")])
    rec = record(p, b)
    for kind in (R.DISMISS_SYNC, R.DELETE_HISTORY):
        plan = plan_remedy(kind, rec, facts(), ctx())
        assert not plan.may_run and plan.writes == ()
        assert plan.refusal is not None
        assert "$950.00 is recorded nowhere ($950.00 on invoice 1001)" in plan.refusal
        assert "Recreate payment in QuickBooks" in plan.refusal
    body = _create_body(plan_remedy(R.RECREATE_PAYMENT, rec, facts(), ctx()))
    assert body["TotalAmt"] == D("950.00")


def test_hand_payment_covering_invoices_but_not_the_overpayment() -> None:
    p = cb_payment("1100", [("11", "1001", "1000")])
    b = books(
        "1100",
        [need("11", "1001", "1000", "1000", room="0")],
        [recorded("70", "1000", i11="1000")],
        overpaid="100",
    )
    rec = record(p, b)
    dismiss = plan_remedy(R.DISMISS_SYNC, rec, facts(), ctx())
    assert dismiss.refusal is not None and "$100.00 of the client's overpayment" in dismiss.refusal
    plan = plan_remedy(R.RECREATE_PAYMENT, rec, facts(), ctx())
    body = _create_body(plan)
    assert body["TotalAmt"] == D("100.00") and body["Line"] == []
    assert "$100.00 as credit on Northwind (the client's overpayment)" in plan.writes[1].reads_as
    assert plan.recorded_after == D("1100.00")


def test_partial_cb_payment_in_quickbooks_is_no_dismiss() -> None:
    p = cb_payment("1000", [("11", "1001", "1000")])
    b = books(
        "1000",
        [need("11", "1001", "1000", "600")],
        [recorded("71", "600", RecordedKind.SYNCED, "CB-10234", i11="600")],
    )
    rec = record(p, b, cause=Cause.ALREADY_IN_QBO)
    assert not plan_remedy(R.DISMISS_SYNC, rec, facts(), ctx()).may_run
    assert _create_body(plan_remedy(R.RECREATE_PAYMENT, rec, facts(), ctx()))["TotalAmt"] == D(
        "400.00"
    )


def test_reconciled_books_refuse_recreate_and_offer_dismiss_and_delete() -> None:
    p = cb_payment("1000", [("11", "1001", "1000")])
    b = books(
        "1000",
        [need("11", "1001", "1000", "1000", room="0")],
        [recorded("70", "1000", reference="4401", i11="1000")],
    )
    rec = record(p, b)
    recreate = plan_remedy(R.RECREATE_PAYMENT, rec, facts(), ctx())
    assert recreate.refusal is not None and "Dismiss Syncing" in recreate.refusal
    assert "payment 70 (4401, by hand, $1,000.00)" in recreate.refusal
    dismiss = plan_remedy(R.DISMISS_SYNC, rec, facts(), ctx())
    assert dismiss.may_run and [w.step for w in dismiss.writes] == ["cb_dismiss"]
    assert dismiss.recorded_after == dismiss.amount == D("1000.00")
    assert dismiss.writes[0].target_id == "pmt_1" and dismiss.writes[0].body is None
    delete = plan_remedy(R.DELETE_HISTORY, rec, facts(), ctx())
    assert [w.kind for w in delete.writes] == [WriteKind.CB_DISMISS, WriteKind.CB_DELETE]
    assert delete.lines()[-1].startswith("Nothing changes in QuickBooks")


def test_delete_of_a_dismissed_payment_only_deletes() -> None:
    p = cb_payment("1000", [("11", "1001", "1000")], status=SyncStatus.DISMISSED)
    b = books(
        "1000", [need("11", "1001", "1000", "1000", room="0")], [recorded("70", "1000", i11="1000")]
    )
    rec = record(p, b)
    assert [w.step for w in plan_remedy(R.DELETE_HISTORY, rec, facts(), ctx()).writes] == [
        "cb_delete"
    ]
    assert not plan_remedy(R.DISMISS_SYNC, rec, facts(), ctx()).may_run


def test_recorded_twice_is_refused_naming_the_payments() -> None:
    p = cb_payment("1000", [("11", "1001", "1000")])
    b = books(
        "1000",
        [need("11", "1001", "1000", "1000", room="0")],
        [
            recorded("70", "1000", i11="1000"),
            recorded("71", "1000", RecordedKind.SYNCED, "CB10234", i11="0"),
        ],
    )
    rec = record(p, b)
    for kind in (R.RECREATE_PAYMENT, R.DISMISS_SYNC, R.DELETE_HISTORY):
        plan = plan_remedy(kind, rec, facts(), ctx())
        assert plan.refusal is not None and "recorded twice" in plan.refusal
        assert "payment 70" in plan.refusal and "payment 71 (CB10234, synced" in plan.refusal
        assert plan.writes == () and plan.recorded_after == D("2000.00")


@pytest.mark.parametrize(("tz", "day"), [("America/New_York", "2026-12-31"), ("UTC", "2027-01-01")])
def test_txn_date_is_the_local_date_in_the_books_time_zone(tz: str, day: str) -> None:
    """22:30 in New York on 31 December is 03:30 UTC on 1 January."""
    paid = datetime(2026, 12, 31, 22, 30, tzinfo=ZoneInfo("America/New_York"))
    p = cb_payment("250", [("12", "1002", "250")], paid_at=paid)
    b = books("250", [need("12", "1002", "250")])
    plan = plan_remedy(R.RECREATE_PAYMENT, record(p, b), facts(), ctx(tz))
    assert _create_body(plan)["TxnDate"] == day
    assert plan.writes[1].reads_as.endswith(f"dated {day}")


# ---- currency -------------------------------------------------------------------------


def _eur_record(currency: str = "EUR") -> FailureRecord:
    p = cb_payment("1250", [("11", "1001", "1250")], currency=currency)
    return record(p, books("1250", [need("11", "1001", "1250")], currency=currency))


def test_multi_currency_body_carries_currency_and_rate() -> None:
    plan = plan_remedy(
        R.RECREATE_PAYMENT,
        _eur_record(),
        facts(),
        ctx(multi_currency=True, customer_currency="EUR", exchange_rate=D("1.0850")),
    )
    body = _create_body(plan)
    assert body["CurrencyRef"] == {"value": "EUR"} and body["ExchangeRate"] == D("1.0850")
    assert "1,250.00 EUR" in plan.writes[1].reads_as and "$" not in plan.writes[1].reads_as
    assert plan.writes[1].reads_as.endswith("at 1.0850 USD per EUR")


def test_multi_currency_home_currency_rate_is_one() -> None:
    p = cb_payment("10", [("11", "1001", "10")])
    body = _create_body(
        plan_remedy(
            R.RECREATE_PAYMENT,
            record(p, books("10", [need("11", "1001", "10")])),
            facts(),
            ctx(multi_currency=True, customer_currency="USD"),
        )
    )
    assert body["CurrencyRef"] == {"value": "USD"} and body["ExchangeRate"] == Decimal(1)


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        (
            {"multi_currency": True, "customer_currency": "USD", "exchange_rate": D("1.1")},
            "works in USD in QuickBooks but paid in EUR",
        ),
        ({"multi_currency": False}, "works in USD only"),
        ({"multi_currency": True, "customer_currency": "EUR"}, "no exchange rate"),
    ],
)
def test_currency_mismatch_is_refused_and_explained(kw: dict[str, Any], words: str) -> None:
    plan = plan_remedy(R.RECREATE_PAYMENT, _eur_record(), facts(), ctx(**kw))
    assert plan.refusal is not None and words in plan.refusal and plan.writes == ()


def test_single_currency_body_has_no_currency_fields() -> None:
    p = cb_payment("10", [("11", "1001", "10")])
    body = _create_body(
        plan_remedy(
            R.RECREATE_PAYMENT, record(p, books("10", [need("11", "1001", "10")])), facts(), ctx()
        )
    )
    assert "CurrencyRef" not in body and "ExchangeRate" not in body


# ---- where the money goes: targets, picks, credit -------------------------------------


def _deleted_record() -> FailureRecord:
    p = cb_payment("1000", [("11", "1001", "1000")])
    return record(
        p,
        books("1000", [need("11", "1001", "1000", target=None)]),
        [finding("11", "1001", "1000", Cause.DELETED)],
        cause=Cause.DELETED,
    )


def test_a_need_without_target_awaits_a_pick() -> None:
    rec = _deleted_record()
    assert rec.diagnosis is not None and rec.diagnosis.books is not None
    assert pick_needed(rec.diagnosis.books)
    plan = plan_remedy(R.RECREATE_PAYMENT, rec, facts(), ctx())
    assert plan.offered and not plan.may_run and plan.writes == ()
    assert plan.pick is not None and "$1,000.00" in plan.pick and "keep it as credit" in plan.pick


def test_the_picked_invoice_takes_it_within_its_room() -> None:
    rec = _deleted_record()
    open_inv = invoice("21", "1101", "1500", "1200")
    plan = plan_remedy(
        R.RECREATE_PAYMENT, rec, facts(open_invoices=[open_inv]), ctx(), {"target": "21"}
    )
    body = _create_body(plan)
    assert body["Line"] == [
        {"Amount": D("1000.00"), "LinkedTxn": [{"TxnId": "21", "TxnType": "Invoice"}]}
    ]
    assert "to invoice 1101 ($1,000.00)" in plan.writes[1].reads_as


def test_keep_as_credit_only_when_picked() -> None:
    plan = plan_remedy(
        R.RECREATE_PAYMENT, _deleted_record(), facts(), ctx(), {"target": KEEP_AS_CREDIT}
    )
    body = _create_body(plan)
    assert body["TotalAmt"] == D("1000.00") and body["Line"] == []
    assert "(kept as credit, as picked)" in plan.writes[1].reads_as


@pytest.mark.parametrize(
    ("inv", "words"),
    [
        (invoice("21", "1101", "1500", "300"), "has only $300.00 open"),
        (invoice("21", "1101", "1500", "1500", customer="77"), "belongs to another customer"),
        (None, "is not an open invoice"),
    ],
)
def test_a_pick_that_does_not_fit_is_refused(inv: Invoice | None, words: str) -> None:
    f = facts(open_invoices=[inv] if inv is not None else [])
    plan = plan_remedy(R.RECREATE_PAYMENT, _deleted_record(), f, ctx(), {"target": "21"})
    assert plan.refusal is not None and words in plan.refusal


def test_a_target_without_room_for_the_need_is_never_silently_credit() -> None:
    """The replacement was partly paid by hand: the rest waits for a pick, not credit."""
    p = cb_payment("1000", [("11", "1001", "1000")])
    b = books("1000", [need("11", "1001", "1000", target="31", room="400")])
    rec = record(p, b, [finding("11", "1001", "1000", Cause.RECREATED)], cause=Cause.RECREATED)
    plan = plan_remedy(R.RECREATE_PAYMENT, rec, facts(), ctx())
    assert plan.pick is not None and "$600.00" in plan.pick and not plan.may_run
    kept = plan_remedy(R.RECREATE_PAYMENT, rec, facts(), ctx(), {"target": KEEP_AS_CREDIT})
    body = _create_body(kept)
    assert body["TotalAmt"] == D("1000.00")
    assert body["Line"][0]["Amount"] == D("400.00")


def test_a_pick_is_ignored_when_every_need_has_room() -> None:
    p = cb_payment("250", [("12", "1002", "250")])
    rec = record(p, books("250", [need("12", "1002", "250")]))
    plain = plan_remedy(R.RECREATE_PAYMENT, rec, facts(), ctx())
    picked = plan_remedy(R.RECREATE_PAYMENT, rec, facts(), ctx(), {"target": KEEP_AS_CREDIT})
    assert plain.digest() == picked.digest()


# ---- ConnectBooster's state and the customer ------------------------------------------


def test_a_synced_payment_refuses_every_remedy_but_recheck() -> None:
    p = cb_payment("1000", [("11", "1001", "1000")], status=SyncStatus.SYNCED)
    b = books(
        "1000", [need("11", "1001", "1000", "1000", room="0")], [recorded("70", "1000", i11="1000")]
    )
    rec = record(p, b)
    for kind in (
        R.RECREATE_PAYMENT,
        R.DISMISS_SYNC,
        R.DELETE_HISTORY,
        R.UNAPPLY_CREDIT_MEMO,
        R.REACTIVATE_CUSTOMER,
    ):
        plan = plan_remedy(kind, rec, facts(), ctx())
        assert plan.refusal is not None and "synced" in plan.refusal, kind
    recheck = plan_remedy(R.RECHECK, rec, facts(), ctx())
    assert recheck.may_run and recheck.writes == () and recheck.notes


def test_recreate_on_a_dismissed_payment_does_not_dismiss_again() -> None:
    p = cb_payment("250", [("12", "1002", "250")], status=SyncStatus.DISMISSED)
    plan = plan_remedy(
        R.RECREATE_PAYMENT, record(p, books("250", [need("12", "1002", "250")])), facts(), ctx()
    )
    assert [w.step for w in plan.writes] == ["qbo_create_payment"]
    assert "dismissed in ConnectBooster already" in plan.notes[0]


def test_recreate_while_queued_for_resync_is_refused() -> None:
    p = cb_payment("250", [("12", "1002", "250")], status=SyncStatus.PENDING)
    plan = plan_remedy(
        R.RECREATE_PAYMENT, record(p, books("250", [need("12", "1002", "250")])), facts(), ctx()
    )
    assert plan.refusal is not None and "queued" in plan.refusal


def test_recreate_for_an_inactive_or_unknown_customer_is_refused() -> None:
    p = cb_payment("250", [("12", "1002", "250")])
    rec = record(p, books("250", [need("12", "1002", "250")]))
    plan = plan_remedy(R.RECREATE_PAYMENT, rec, facts(inactive=["58"]), ctx())
    assert plan.refusal is not None and "Reactivate customer" in plan.refusal
    p2 = cb_payment("250", [("12", "1002", "250")], qb_customer_id=None)
    plan2 = plan_remedy(
        R.RECREATE_PAYMENT, record(p2, books("250", [need("12", "1002", "250")])), facts(), ctx()
    )
    assert plan2.refusal is not None and "by hand" in plan2.refusal


def test_no_books_no_plan() -> None:
    p = cb_payment("250", [("12", "1002", "250")])
    for kind in (R.RECREATE_PAYMENT, R.DISMISS_SYNC, R.UNAPPLY_CREDIT_MEMO):
        plan = plan_remedy(kind, record(p, None), facts(), ctx())
        assert plan.refusal is not None and "Re-check" in plan.refusal


# ---- Unapply credit memo --------------------------------------------------------------


def _credit_record(
    *, status: SyncStatus = SyncStatus.FAILED, rec_amount: str = "0"
) -> FailureRecord:
    p = cb_payment("1000", [("11", "1001", "1000")], status=status)
    rcd = [recorded("70", rec_amount, i11=rec_amount)] if rec_amount != "0" else []
    b = books("1000", [need("11", "1001", "1000", rec_amount, room="600")], rcd)
    f = finding(
        "11", "1001", "1000", Cause.CREDIT_MEMO, credit_memo_payment_id="40", credit_memo_id="30"
    )
    return record(p, b, [f], cause=Cause.CREDIT_MEMO, remedies=[R.UNAPPLY_CREDIT_MEMO, R.RECHECK])


def test_unapply_removes_every_zero_application_on_the_invoice() -> None:
    """Two $0 credit applications ($150 + $250) on one invoice: both go."""
    inv = invoice("11", "1001", "1000", "600")
    z1 = zero_payment("40", [("Invoice", "11", "150"), ("CreditMemo", "30", "150")])
    z2 = zero_payment("41", [("Invoice", "11", "250"), ("CreditMemo", "31", "250")])
    f = facts([inv], [z1, z2], [credit_memo("30", "CM1", "150"), credit_memo("31", "CM2", "250")])
    plan = plan_remedy(R.UNAPPLY_CREDIT_MEMO, _credit_record(), f, ctx())
    assert plan.may_run, plan.refusal
    assert [(w.step, w.kind) for w in plan.writes] == [
        ("qbo_unapply:40", WriteKind.QBO_DELETE_PAYMENT),
        ("qbo_unapply:41", WriteKind.QBO_DELETE_PAYMENT),
        ("cb_resync", WriteKind.CB_RESYNC),
    ]
    assert plan.writes[0].body == {"Id": "40", "SyncToken": "0"}
    assert plan.writes[0].reads_as == (
        "Delete QuickBooks payment 40 ($0.00), which applies credit memo CM1 ($150.00) to "
        "invoice 1001 ($150.00)"
    )
    assert plan.recorded_after == plan.amount


def test_a_zero_application_made_before_the_run_is_left_alone() -> None:
    inv = invoice("11", "1001", "1000", "600")
    z1 = zero_payment("40", [("Invoice", "11", "400"), ("CreditMemo", "30", "400")])
    z0 = zero_payment(
        "39",
        [("Invoice", "11", "100"), ("CreditMemo", "29", "100")],
        created=datetime(2026, 10, 1, tzinfo=ZoneInfo("UTC")),
    )
    plan = plan_remedy(R.UNAPPLY_CREDIT_MEMO, _credit_record(), facts([inv], [z0, z1]), ctx())
    assert [w.step for w in plan.writes] == ["qbo_unapply:40", "cb_resync"]


def test_a_shared_zero_payment_is_trimmed_and_stays_balanced() -> None:
    """The $0 payment also applies CM2 to invoice 1005: it keeps that pair, balanced."""
    inv = invoice("11", "1001", "1000", "600")
    z = zero_payment(
        "40",
        [
            ("Invoice", "11", "400"),
            ("Invoice", "15", "100"),
            ("CreditMemo", "30", "300"),
            ("CreditMemo", "31", "200"),
        ],
        sync_token="3",
    )
    f = facts(
        [inv, invoice("15", "1005", "500", "400")],
        [z],
        [credit_memo("30", "CM1", "300"), credit_memo("31", "CM2", "200")],
    )
    plan = plan_remedy(R.UNAPPLY_CREDIT_MEMO, _credit_record(), f, ctx())
    assert plan.may_run, plan.refusal
    upd = plan.writes[0]
    assert upd.kind == WriteKind.QBO_UPDATE_PAYMENT and upd.target_id == "40"
    assert upd.body is not None
    assert upd.body["Id"] == "40" and upd.body["SyncToken"] == "3" and upd.body["sparse"] is True
    lines = upd.body["Line"]
    inv_total = sum(ln["Amount"] for ln in lines if ln["LinkedTxn"][0]["TxnType"] == "Invoice")
    cm_total = sum(ln["Amount"] for ln in lines if ln["LinkedTxn"][0]["TxnType"] == "CreditMemo")
    assert inv_total == cm_total == D("100.00")
    assert all(ln["LinkedTxn"][0]["TxnId"] != "11" for ln in lines)
    # the named credit memo (30) gives back first: 300 of it, then 100 of CM2
    assert {ln["LinkedTxn"][0]["TxnId"]: ln["Amount"] for ln in lines} == {
        "15": D("100.00"),
        "31": D("100.00"),
    }
    assert (
        "no longer applies credit memo CM1 ($300.00), credit memo CM2 ($100.00) to "
        "invoice 1001 ($400.00)" in upd.reads_as
    )
    assert upd.reads_as.endswith("it keeps invoice 1005 ($100.00), credit memo CM2 ($100.00)")


@pytest.mark.parametrize(
    ("zero", "words"),
    [
        (
            zero_payment(
                "40",
                [("Invoice", "11", "400"), ("Invoice", "15", "100"), ("CreditMemo", "30", "450")],
            ),
            "does not balance",
        ),
        (
            zero_payment("40", [("Invoice", "11", "400"), ("CreditMemo", "30", "400")], total="5"),
            "not a $0 credit memo application",
        ),
    ],
)
def test_a_zero_payment_that_cannot_stay_balanced_is_refused(zero: QBPayment, words: str) -> None:
    f = facts([invoice("11", "1001", "1000", "600")], [zero])
    plan = plan_remedy(R.UNAPPLY_CREDIT_MEMO, _credit_record(), f, ctx())
    assert plan.refusal is not None and words in plan.refusal and plan.writes == ()


def test_unapply_refused_when_dismissed_synced_partly_recorded_or_gone() -> None:
    inv = invoice("11", "1001", "1000", "600")
    z = zero_payment("40", [("Invoice", "11", "400"), ("CreditMemo", "30", "400")])
    f = facts([inv], [z])
    dismissed = plan_remedy(
        R.UNAPPLY_CREDIT_MEMO, _credit_record(status=SyncStatus.DISMISSED), f, ctx()
    )
    assert dismissed.refusal is not None and "dismissed" in dismissed.refusal
    partly = plan_remedy(R.UNAPPLY_CREDIT_MEMO, _credit_record(rec_amount="100"), f, ctx())
    assert partly.refusal is not None and "record it twice" in partly.refusal
    gone = plan_remedy(R.UNAPPLY_CREDIT_MEMO, _credit_record(), facts([inv]), ctx())
    assert gone.refusal is not None and "payment 40" in gone.refusal


def test_unapply_refused_when_the_invoice_would_still_be_short() -> None:
    inv = invoice("11", "1001", "1000", "500")  # 100 more went elsewhere
    z = zero_payment("40", [("Invoice", "11", "400"), ("CreditMemo", "30", "400")])
    plan = plan_remedy(R.UNAPPLY_CREDIT_MEMO, _credit_record(), facts([inv], [z]), ctx())
    assert plan.refusal is not None and "only $900.00 open" in plan.refusal


# ---- Reactivate customer --------------------------------------------------------------


def _inactive_record() -> FailureRecord:
    p = cb_payment("1000", [("11", "1001", "1000")])
    return record(
        p,
        books("1000", [need("11", "1001", "1000")]),
        [finding("11", "1001", "1000")],
        cause=Cause.INACTIVE_CUSTOMER,
        remedies=[R.REACTIVATE_CUSTOMER, R.RECHECK],
    )


def test_reactivate_is_a_sparse_update_then_a_resync() -> None:
    cust = QBCustomer(id="58", sync_token="4", display_name="Northwind Ltd", active=False)
    plan = plan_remedy(R.REACTIVATE_CUSTOMER, _inactive_record(), facts(customers=[cust]), ctx())
    assert plan.may_run, plan.refusal
    w = plan.writes[0]
    assert (w.step, w.kind, w.target_id) == (
        "qbo_reactivate_customer",
        WriteKind.QBO_UPDATE_CUSTOMER,
        "58",
    )
    assert w.body == {"Id": "58", "SyncToken": "4", "sparse": True, "Active": True}
    assert w.reads_as == "Reactivate customer Northwind Ltd in QuickBooks (customer 58)"
    assert plan.writes[1].kind == WriteKind.CB_RESYNC
    assert plan.recorded_after == plan.amount


def test_reactivate_without_the_customer_or_when_active_is_refused() -> None:
    plan = plan_remedy(R.REACTIVATE_CUSTOMER, _inactive_record(), facts(), ctx())
    assert plan.refusal is not None and "could not be read" in plan.refusal
    active = QBCustomer(id="58", sync_token="4", active=True)
    plan = plan_remedy(R.REACTIVATE_CUSTOMER, _inactive_record(), facts(customers=[active]), ctx())
    assert plan.refusal is not None and "active in QuickBooks already" in plan.refusal


# ---- the digest -----------------------------------------------------------------------


def _plan(**kw: Any) -> RemedyPlan:
    p = cb_payment("1250", [("11", "1001", "1000"), ("12", "1002", "250")])
    b = books(
        "1250",
        [need("11", "1001", "1000", "1000", room="0"), need("12", "1002", "250")],
        [recorded("70", "1000", i11="1000")],
    )
    return plan_remedy(R.RECREATE_PAYMENT, record(p, b), facts(), ctx(**kw))


def test_digest_is_stable_whoever_clicks_and_through_storage() -> None:
    plan = _plan()
    assert plan.digest() == _plan().digest()
    assert plan.digest() == _plan(user="U0OTHER").digest() == _plan(user="").digest()
    stored = RemedyPlan.model_validate_json(plan.model_dump_json())
    assert stored.digest() == plan.digest()
    assert len(plan.digest()) == 16


def test_digest_changes_with_any_body_change() -> None:
    plan = _plan()
    base = plan.digest()
    create = plan.writes[1]
    assert create.body is not None
    changes: list[dict[str, Any]] = [
        {"TotalAmt": D("250.01")},
        {"TxnDate": "2026-11-04"},
        {"PaymentRefNum": "CB10235"},
        {"DepositToAccountRef": {"value": "36"}},
        {"Line": [{"Amount": D("249.00"), "LinkedTxn": [{"TxnId": "12", "TxnType": "Invoice"}]}]},
        {"Line": [{"Amount": D("250.00"), "LinkedTxn": [{"TxnId": "13", "TxnType": "Invoice"}]}]},
        {"PrivateNote": create.body["PrivateNote"].replace("pmt_1]", "pmt_2]")},
        {"CurrencyRef": {"value": "USD"}},
    ]
    for change in changes:
        changed = create.model_copy(update={"body": {**create.body, **change}})
        other = plan.model_copy(update={"writes": (plan.writes[0], changed)})
        assert other.digest() != base, change
    swapped = plan.model_copy(update={"writes": (plan.writes[1], plan.writes[0])})
    assert swapped.digest() != base
    assert _plan(tz="America/Los_Angeles").digest() == base  # same day there
    assert _plan(deposit_account_id="36").digest() != base


def test_lines_are_the_writes_then_the_notes() -> None:
    plan = _plan()
    assert plan.lines() == [w.reads_as for w in plan.writes] + list(plan.notes)
