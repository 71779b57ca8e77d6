"""Table tests of the pure diagnosis: every cause, mixed payments, partial payments,
overpayment, a manual payment before the run, a $0 payment over two invoices, one-cent gaps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal as D

import pytest

from bot.diagnosis import QBOFacts, diagnose
from bot.models import Cause, Certainty, Diagnosis, RemedyKind
from cb.models import Payment as CBPayment
from tests.diagnosis_fixtures import (
    AFTER,
    BEFORE,
    CUST,
    DELETE,
    DISMISS,
    INACTIVE_FAULT,
    REACTIVATE,
    RECHECK,
    RECREATE,
    UNAPPLY,
    cbpay,
    cm,
    facts,
    inv,
    pay,
    url,
)


@dataclass
class Case:
    payment: CBPayment
    facts: QBOFacts
    cause: Cause
    certainty: Certainty
    remedies: list[RemedyKind]
    per_invoice: dict[str, Cause]
    failure_rate: D | None = None
    check: Callable[[Diagnosis], None] = field(default=lambda d: None)
    in_text: list[str] = field(default_factory=list)  # must appear in summary or next step


def _cm_finding_ids(d: Diagnosis) -> None:
    f = d.findings[0]
    assert (f.credit_memo_payment_id, f.credit_memo_id, f.credit_memo_amount) == (
        "900",
        "700",
        D("250.00"),
    )
    types = [e.type for e in f.evidence]
    assert types == ["Invoice", "Payment", "CreditMemo"]
    assert f.evidence[1].url == url("Payment", "900")


def _replacement(expected: str | None, candidates: list[str]) -> Callable[[Diagnosis], None]:
    def check(d: Diagnosis) -> None:
        f = d.findings[0]
        assert f.replacement_invoice_id == expected
        assert f.replacement_candidates == candidates

    return check


def _two_invoice_cm(d: Diagnosis) -> None:
    a, b = d.findings
    assert a.credit_memo_payment_id == b.credit_memo_payment_id == "901"
    assert a.credit_memo_id == b.credit_memo_id == "701"
    assert (a.credit_memo_amount, b.credit_memo_amount) == (D("30.00"), D("20.00"))


def _before_run_not_cause(d: Diagnosis) -> None:
    notes = [e.note or "" for e in d.findings[0].evidence if e.type == "Payment"]
    assert len(notes) == 1 and "before the payment run" in notes[0]


def _mixed(d: Diagnosis) -> None:
    by_id = {f.invoice_id: f for f in d.findings}
    assert by_id["130"].cause is Cause.PAID_MANUALLY
    assert by_id["145"].replacement_invoice_id == "146"
    assert "nothing for invoice 1043" in d.next_step
    assert "$250.00 on the new invoice (id 146)" in d.next_step


def _already(d: Diagnosis) -> None:
    assert d.existing_qbo_payment_id == "555"
    assert d.findings[0].evidence[0].number == "CB10234"


def _unknown_shows_fault(d: Diagnosis) -> None:
    assert d.sync_error_code == "6000"
    assert "6000" in d.summary and "exceeds the open balance" in d.summary


CASES: dict[str, Case] = {
    "paid manually": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts(
            [inv("130", "1043", "1000.00", "0.00", updated=AFTER, links=["300"])],
            [pay("300", "4417", [("1000.00", "Invoice", "130")])],
        ),
        Cause.PAID_MANUALLY,
        Certainty.CERTAIN,
        [DISMISS, DELETE, RECHECK],
        {"130": Cause.PAID_MANUALLY},
        in_text=["Dismiss Syncing", "already paid", "4417"],
    ),
    "credit memo": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts(
            [inv("130", "1043", "1000.00", "750.00", updated=AFTER, links=["900"])],
            [pay("900", None, [("250.00", "Invoice", "130"), ("250.00", "CreditMemo", "700")])],
            [cm("700", "CM-12", "250.00")],
        ),
        Cause.CREDIT_MEMO,
        Certainty.CERTAIN,
        [UNAPPLY, RECHECK],
        {"130": Cause.CREDIT_MEMO},
        check=_cm_finding_ids,
        in_text=["credit memo CM-12", "$250.00", "$750.00", "next sync"],
    ),
    "recreated, same number": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts(
            deleted={"130": AFTER},
            by_number=[inv("131", "1043", "1000.00", created=AFTER + timedelta(minutes=5))],
        ),
        Cause.RECREATED,
        Certainty.CERTAIN,
        [RECREATE, RECHECK],
        {"130": Cause.RECREATED},
        check=_replacement("131", ["131"]),
        in_text=["recreated with the same number", "id 131"],
    ),
    "recreated, two invoices with that number": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts(
            deleted={"130": AFTER},
            by_number=[
                inv("132", "1043", "1000.00", created=AFTER + timedelta(minutes=9)),
                inv("131", "1043", "1000.00", created=AFTER + timedelta(minutes=5)),
            ],
        ),
        Cause.RECREATED,
        Certainty.LIKELY,
        [RECREATE, RECHECK],
        {"130": Cause.RECREATED},
        check=_replacement(None, ["131", "132"]),
    ),
    "recreated, same number but another customer does not count": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts(
            deleted={"130": AFTER},
            by_number=[inv("131", "1043", "1000.00", created=AFTER, customer="99")],
        ),
        Cause.DELETED,
        Certainty.CERTAIN,
        [RECREATE, RECHECK],
        {"130": Cause.DELETED},
    ),
    "recreated, same customer and amount after the deletion": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts(
            deleted={"130": AFTER},
            open_invoices=[
                inv("120", "1030", "1000.00"),  # same amount, but older than the deletion
                inv("150", "1060", "400.00", created=AFTER + timedelta(hours=1)),
                inv("151", "1061", "1000.00", created=AFTER + timedelta(hours=1)),
            ],
        ),
        Cause.RECREATED,
        Certainty.LIKELY,
        [RECREATE, RECHECK],
        {"130": Cause.RECREATED},
        check=_replacement("151", ["151"]),
        in_text=["same customer and amount"],
    ),
    "deleted, no replacement (deletion time unknown)": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts(
            deleted={"130": None},
            open_invoices=[inv("120", "1030", "80.00")],
        ),
        Cause.DELETED,
        Certainty.CERTAIN,
        [RECREATE, RECHECK],
        {"130": Cause.DELETED},
        check=_replacement(None, ["120"]),
        in_text=["no replacement", "credit or on an invoice you pick"],
    ),
    "invoice missing from QBO and from CDC is deleted too": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts(),
        Cause.DELETED,
        Certainty.CERTAIN,
        [RECREATE, RECHECK],
        {"130": Cause.DELETED},
    ),
    "voided": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts([inv("130", "1043", "1000.00", voided=True, updated=AFTER)]),
        Cause.VOIDED,
        Certainty.CERTAIN,
        [RECREATE, RECHECK],
        {"130": Cause.VOIDED},
        in_text=["voided"],
    ),
    "amount changed: paid what it can, rest as credit": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts([inv("130", "1043", "900.00", updated=AFTER)]),
        Cause.AMOUNT_CHANGED,
        Certainty.CERTAIN,
        [RECREATE, RECHECK],
        {"130": Cause.AMOUNT_CHANGED},
        in_text=["$900.00 on invoice 1043", "$100.00 as the customer's credit"],
    ),
    "already in QuickBooks": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts(
            [inv("130", "1043", "1000.00", "0.00", updated=AFTER, links=["555"])],
            [pay("555", "CB10234", [("1000.00", "Invoice", "130")])],
            existing=[pay("555", "CB10234", [("1000.00", "Invoice", "130")])],
        ),
        Cause.ALREADY_IN_QBO,
        Certainty.CERTAIN,
        [DISMISS, RECHECK],
        {"130": Cause.ALREADY_IN_QBO},
        check=_already,
        in_text=["already in QuickBooks as payment 555"],
    ),
    "unknown, isolated": Case(
        cbpay([("1043", "130", "1000.00")], code="6000", message="The period is closed."),
        facts([inv("130", "1043", "1000.00")]),
        Cause.UNKNOWN,
        Certainty.LIKELY,
        [RECREATE, RECHECK],
        {"130": Cause.UNKNOWN},
        failure_rate=D("0.03"),
        in_text=["6000", "The period is closed.", "isolated"],
    ),
    "unknown, rate unknown counts as isolated": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts([inv("130", "1043", "1000.00")]),
        Cause.UNKNOWN,
        Certainty.LIKELY,
        [RECREATE, RECHECK],
        {"130": Cause.UNKNOWN},
        check=_unknown_shows_fault,
    ),
    "unknown, many failing": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts([inv("130", "1043", "1000.00")]),
        Cause.UNKNOWN,
        Certainty.LIKELY,
        [RECHECK, RECREATE],
        {"130": Cause.UNKNOWN},
        failure_rate=D("0.10"),
        in_text=["failure-rate alert", "a setting needs attention", "10.0%"],
    ),
    "inactive customer: its own cause, reactivate then recheck": Case(
        cbpay([("1043", "130", "1000.00")], code="610", message=INACTIVE_FAULT),
        facts([inv("130", "1043", "1000.00")], inactive={CUST}),
        Cause.INACTIVE_CUSTOMER,
        Certainty.CERTAIN,
        [REACTIVATE, RECHECK],
        {"130": Cause.INACTIVE_CUSTOMER},
        failure_rate=D("0.01"),
        in_text=["inactive", "610", "active again"],
    ),
    "inactive customer, the fault does not say so: likely": Case(
        cbpay([("1043", "130", "1000.00")], code="610", message="Object Not Found"),
        facts([inv("130", "1043", "1000.00")], inactive={CUST}),
        Cause.INACTIVE_CUSTOMER,
        Certainty.LIKELY,
        [REACTIVATE, RECHECK],
        {"130": Cause.INACTIVE_CUSTOMER},
    ),
    "mixed: paid manually and recreated; recreated dominates": Case(
        cbpay([("1043", "130", "1000.00"), ("1051", "145", "250.00")]),
        facts(
            [inv("130", "1043", "1000.00", "0.00", updated=AFTER, links=["300"])],
            [pay("300", "4417", [("1000.00", "Invoice", "130")])],
            deleted={"145": AFTER},
            by_number=[inv("146", "1051", "250.00", created=AFTER)],
        ),
        Cause.RECREATED,
        Certainty.CERTAIN,
        [RECREATE, RECHECK],
        {"130": Cause.PAID_MANUALLY, "145": Cause.RECREATED},
        check=_mixed,
    ),
    "mixed: credit memo on one, other fine": Case(
        cbpay([("1043", "130", "1000.00"), ("1051", "145", "250.00")]),
        facts(
            [
                inv("130", "1043", "1000.00", "750.00", updated=AFTER, links=["900"]),
                inv("145", "1051", "250.00"),
            ],
            [pay("900", None, [("250.00", "Invoice", "130"), ("250.00", "CreditMemo", "700")])],
            [cm("700", "CM-12", "250.00")],
        ),
        Cause.CREDIT_MEMO,
        Certainty.CERTAIN,
        [UNAPPLY, RECHECK],
        {"130": Cause.CREDIT_MEMO, "145": Cause.NONE},
        check=_cm_finding_ids,
    ),
    "mixed: credit memo and voided; voided dominates, unapply offered too": Case(
        cbpay([("1043", "130", "1000.00"), ("1051", "145", "250.00")]),
        facts(
            [
                inv("130", "1043", "1000.00", "750.00", updated=AFTER, links=["900"]),
                inv("145", "1051", "250.00", voided=True, updated=AFTER),
            ],
            [pay("900", None, [("250.00", "Invoice", "130"), ("250.00", "CreditMemo", "700")])],
            [cm("700", "CM-12", "250.00")],
        ),
        Cause.VOIDED,
        Certainty.CERTAIN,
        [RECREATE, UNAPPLY, RECHECK],
        {"130": Cause.CREDIT_MEMO, "145": Cause.VOIDED},
    ),
    "paid manually on one invoice, the other still open: record the open part first": Case(
        cbpay([("1043", "130", "1000.00"), ("1051", "145", "250.00")]),
        facts(
            [
                inv("130", "1043", "1000.00", "0.00", updated=AFTER, links=["300"]),
                inv("145", "1051", "250.00"),
            ],
            [pay("300", "4417", [("1000.00", "Invoice", "130")])],
        ),
        Cause.PAID_MANUALLY,
        Certainty.LIKELY,  # $250.00 of the payment is recorded nowhere
        [RECREATE, RECHECK],
        {"130": Cause.PAID_MANUALLY, "145": Cause.NONE},
        in_text=["$250.00", "1051"],
    ),
    "partial CB payment, balance still covers it: no cause on the invoice": Case(
        cbpay([("1043", "130", "400.00")]),
        facts(
            [inv("130", "1043", "1000.00", "700.00", updated=AFTER, links=["300"])],
            [pay("300", "4417", [("300.00", "Invoice", "130")])],
        ),
        Cause.UNKNOWN,
        Certainty.LIKELY,
        [RECREATE, RECHECK],
        {"130": Cause.UNKNOWN},
    ),
    "partial CB payment, manual payment took the balance below it": Case(
        # the $700 check collides with the $400 only for the $100 the balance is short
        cbpay([("1043", "130", "400.00")]),
        facts(
            [inv("130", "1043", "1000.00", "300.00", updated=AFTER, links=["300"])],
            [pay("300", "4417", [("700.00", "Invoice", "130")])],
        ),
        Cause.PAID_MANUALLY,
        Certainty.LIKELY,
        [RECREATE, RECHECK],
        {"130": Cause.PAID_MANUALLY},
        in_text=["$300.00 difference", "$300.00 on invoice 1043"],
    ),
    "partial manual payment: not dismissed, the difference is recorded": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts(
            [inv("130", "1043", "1000.00", "600.00", updated=AFTER, links=["300"])],
            [pay("300", "4417", [("400.00", "Invoice", "130")])],
        ),
        Cause.PAID_MANUALLY,
        Certainty.LIKELY,
        [RECREATE, RECHECK],
        {"130": Cause.PAID_MANUALLY},
        in_text=["$600.00 difference is recorded nowhere", "$600.00 on invoice 1043"],
    ),
    "overpayment: the rest is unapplied credit, not a cause": Case(
        cbpay([("1043", "130", "1000.00")], amount="1200.00"),
        facts(
            [inv("130", "1043", "1000.00", "750.00", updated=AFTER, links=["900"])],
            [pay("900", None, [("250.00", "Invoice", "130"), ("250.00", "CreditMemo", "700")])],
            [cm("700", "CM-12", "250.00")],
        ),
        Cause.CREDIT_MEMO,
        Certainty.CERTAIN,
        [UNAPPLY, RECHECK],
        {"130": Cause.CREDIT_MEMO},
        in_text=["$200.00 of the payment is not applied", "$1,200.00"],
    ),
    "manual payment dated before the run is not the cause": Case(
        cbpay([("1043", "130", "800.00")]),
        facts(
            [inv("130", "1043", "900.00", "700.00", updated=AFTER, links=["300"])],
            [pay("300", "4417", [("200.00", "Invoice", "130")], created=BEFORE)],
        ),
        Cause.AMOUNT_CHANGED,
        Certainty.CERTAIN,
        [RECREATE, RECHECK],
        {"130": Cause.AMOUNT_CHANGED},
        check=_before_run_not_cause,
    ),
    "manual payment dated before the run, invoice untouched since: unknown": Case(
        cbpay([("1043", "130", "800.00")]),
        facts(
            [inv("130", "1043", "1000.00", "700.00", updated=BEFORE, links=["300"])],
            [pay("300", "4417", [("300.00", "Invoice", "130")], created=BEFORE)],
        ),
        Cause.UNKNOWN,
        Certainty.LIKELY,
        [RECREATE, RECHECK],
        {"130": Cause.UNKNOWN},
    ),
    "a $0 payment linking two invoices and one credit memo": Case(
        cbpay([("1043", "130", "100.00"), ("1051", "145", "80.00")]),
        facts(
            [
                inv("130", "1043", "100.00", "70.00", updated=AFTER, links=["901"]),
                inv("145", "1051", "80.00", "60.00", updated=AFTER, links=["901"]),
            ],
            [
                pay(
                    "901",
                    None,
                    [
                        ("30.00", "Invoice", "130"),
                        ("20.00", "Invoice", "145"),
                        ("50.00", "CreditMemo", "701"),
                    ],
                    total="0",
                )
            ],
            [cm("701", "CM-20", "50.00")],
        ),
        Cause.CREDIT_MEMO,
        Certainty.CERTAIN,
        [UNAPPLY, RECHECK],
        {"130": Cause.CREDIT_MEMO, "145": Cause.CREDIT_MEMO},
        check=_two_invoice_cm,
    ),
    "one cent short on the balance is a cause": Case(
        cbpay([("1043", "130", "100.00")]),
        facts([inv("130", "1043", "99.99", updated=AFTER)]),
        Cause.AMOUNT_CHANGED,
        Certainty.CERTAIN,
        [RECREATE, RECHECK],
        {"130": Cause.AMOUNT_CHANGED},
        in_text=["$0.01 less", "$99.99 on invoice 1043", "$0.01 as the customer's credit"],
    ),
    "exact to the cent: 100.0 covers 100.00": Case(
        cbpay([("1043", "130", "100.00")]),
        facts([inv("130", "1043", "100.0")]),
        Cause.UNKNOWN,
        Certainty.LIKELY,
        [RECREATE, RECHECK],
        {"130": Cause.UNKNOWN},
    ),
    "applications one cent short of the amount: the cent is credit": Case(
        cbpay(
            [("1043", "130", "33.33"), ("1044", "131", "33.33"), ("1045", "132", "33.33")],
            amount="100.00",
        ),
        facts(
            [
                inv("130", "1043", "33.33", "0.00", updated=AFTER, links=["300"]),
                inv("131", "1044", "33.33", "0.00", updated=AFTER, links=["300"]),
                inv("132", "1045", "33.33", "0.00", updated=AFTER, links=["300"]),
            ],
            [
                pay(
                    "300",
                    "4417",
                    [
                        ("33.33", "Invoice", "130"),
                        ("33.33", "Invoice", "131"),
                        ("33.33", "Invoice", "132"),
                    ],
                )
            ],
        ),
        Cause.PAID_MANUALLY,
        Certainty.LIKELY,  # the hand payment does not cover the client's $0.01 overpayment
        [RECREATE, RECHECK],
        {"130": Cause.PAID_MANUALLY, "131": Cause.PAID_MANUALLY, "132": Cause.PAID_MANUALLY},
        in_text=["$0.01 of the payment is not applied", "$0.01 of the client's overpayment"],
    ),
    "credit memo and manual payment both needed: larger one, likely": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts(
            [inv("130", "1043", "1000.00", "100.00", updated=AFTER, links=["300", "900"])],
            [
                pay("300", "4417", [("300.00", "Invoice", "130")]),
                pay("900", None, [("600.00", "Invoice", "130"), ("600.00", "CreditMemo", "700")]),
            ],
            [cm("700", "CM-12", "600.00")],
        ),
        Cause.CREDIT_MEMO,
        Certainty.LIKELY,
        [RECREATE, UNAPPLY, RECHECK],  # $300 is recorded by hand: un-applying alone won't do
        {"130": Cause.CREDIT_MEMO},
    ),
    "credit memo alone fixes it even with a manual payment: credit memo wins": Case(
        cbpay([("1043", "130", "300.00")]),
        facts(
            [inv("130", "1043", "1000.00", "200.00", updated=AFTER, links=["300", "900"])],
            [
                pay("300", "4417", [("400.00", "Invoice", "130")]),
                pay("900", None, [("400.00", "Invoice", "130"), ("400.00", "CreditMemo", "700")]),
            ],
            [cm("700", "CM-12", "400.00")],
        ),
        Cause.CREDIT_MEMO,
        Certainty.CERTAIN,
        [UNAPPLY, RECHECK],
        {"130": Cause.CREDIT_MEMO},
    ),
    "another CB payment on the invoice is not a manual payment": Case(
        cbpay([("1043", "130", "1000.00")]),
        facts(
            [inv("130", "1043", "1000.00", "0.00", updated=AFTER, links=["310"])],
            [pay("310", "CB10999", [("1000.00", "Invoice", "130")])],
        ),
        Cause.UNKNOWN,
        Certainty.LIKELY,
        [RECREATE, RECHECK],
        {"130": Cause.UNKNOWN},
        in_text=["CB10999"],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_diagnosis_table(name: str) -> None:
    case = CASES[name]
    d = diagnose(case.payment, case.facts, failure_rate=case.failure_rate)
    assert d.cause is case.cause
    assert d.certainty is case.certainty
    assert d.remedies == case.remedies
    assert d.remedies[-1] is RECHECK or d.remedies[0] is RECHECK
    assert {f.invoice_id: f.cause for f in d.findings} == case.per_invoice
    assert [f.invoice_id for f in d.findings] == [
        a.qb_invoice_id for a in case.payment.applications
    ]
    assert d.payment_id == "pmt_1" and d.reference == "CB10234"
    assert d.summary and d.next_step
    assert d.summary.count(". ") <= 4  # a few plain sentences, not a dump
    text = d.summary + " " + d.next_step + " " + " ".join(f.summary for f in d.findings)
    for needle in case.in_text:
        assert needle in text, (needle, text)
    case.check(d)


@pytest.mark.parametrize("name", list(CASES))
def test_application_order_does_not_change_the_cause(name: str) -> None:
    case = CASES[name]
    reordered = case.payment.model_copy(
        update={"applications": list(reversed(case.payment.applications))}
    )
    a = diagnose(case.payment, case.facts, failure_rate=case.failure_rate)
    b = diagnose(reordered, case.facts, failure_rate=case.failure_rate)
    assert (a.cause, a.certainty, a.remedies) == (b.cause, b.certainty, b.remedies)


def test_evidence_carries_links_amounts_and_times() -> None:
    case = CASES["paid manually"]
    d = diagnose(case.payment, case.facts)
    invoice, payment = d.findings[0].evidence
    assert (invoice.type, invoice.id, invoice.number) == ("Invoice", "130", "1043")
    assert (invoice.amount, invoice.balance) == (D("1000.00"), D("0.00"))
    assert invoice.updated_at == AFTER and invoice.url == url("Invoice", "130")
    assert (payment.type, payment.id, payment.number, payment.amount) == (
        "Payment",
        "300",
        "4417",
        D("1000.00"),
    )
    assert payment.created_at == AFTER and payment.date == AFTER.date().isoformat()


def test_deleted_invoice_evidence_says_when() -> None:
    d = diagnose(*_pf(CASES["recreated, same number"]))
    gone = d.findings[0].evidence[0]
    assert gone.deleted and gone.id == "130" and gone.updated_at == AFTER


def test_manual_payment_without_create_time_uses_its_date() -> None:
    before = pay("300", "4417", [("300.00", "Invoice", "130")], created=BEFORE)
    assert before.meta_data is not None
    before.meta_data = None  # QBO left out MetaData: fall back to TxnDate
    d = diagnose(
        cbpay([("1043", "130", "800.00")]),
        facts([inv("130", "1043", "1000.00", "700.00", updated=BEFORE, links=["300"])], [before]),
    )
    assert d.findings[0].cause is Cause.UNKNOWN
    after = before.model_copy(update={"txn_date": AFTER.date()})
    d = diagnose(
        cbpay([("1043", "130", "800.00")]),
        facts([inv("130", "1043", "1000.00", "700.00", updated=AFTER, links=["300"])], [after]),
    )
    assert d.findings[0].cause is Cause.PAID_MANUALLY


def test_sync_error_is_carried() -> None:
    d = diagnose(*_pf(CASES["credit memo"]))
    assert (d.sync_error_code, d.sync_error_message) == (
        "6000",
        "The amount applied exceeds the open balance.",
    )
    assert d.recommended is UNAPPLY


def _pf(case: Case) -> tuple[CBPayment, QBOFacts]:
    return case.payment, case.facts


def test_high_failure_rate_points_at_the_alert_for_known_causes_too() -> None:
    case = CASES["credit memo"]
    calm = diagnose(case.payment, case.facts, failure_rate=D("0.02"))
    busy = diagnose(case.payment, case.facts, failure_rate=D("0.25"))
    assert "failure-rate alert" not in calm.next_step
    assert "25.0% of payments are failing" in busy.next_step
    assert busy.remedies == calm.remedies == [UNAPPLY, RECHECK]
