"""The "about to fail" warning's pure builder: within Slack's limits whatever the data, the
evidence shown, and the preventing remedy saying which choice keeps the books right."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from bot.models import Cause, Certainty, Diagnosis, EvidenceObject, Finding, RemedyKind
from bot.models.books import Books, RecordedKind, RecordedMoney
from bot.slack.blocks.warning import cleared_message, prevention, warning_message
from cb.models import Application, Customer, Payment, SyncState, SyncStatus
from sandbox.slack.validation import validate_blocks

AT = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)


def payment(name: str = "Northwind Dental", n: int = 1) -> Payment:
    return Payment(
        id="pmt_1",
        reference="CB10234",
        customer=Customer(id="cus_1", name=name, qb_customer_id="58"),
        amount=Decimal("1250.00"),
        currency="USD",
        method="card",
        paid_at=AT,
        applications=[
            Application(
                invoice_number=f"{1043 + i}", qb_invoice_id=f"{130 + i}", amount=Decimal(1250) / n
            )
            for i in range(n)
        ],
        sync=SyncState(status=SyncStatus.PENDING),
        updated_at=AT,
    )


def diagnosis(cause: Cause, recorded: str | None = None, n: int = 1, note: str = "") -> Diagnosis:
    findings = [
        Finding(
            invoice_id=f"{130 + i}",
            invoice_number=f"{1043 + i}",
            applied=Decimal("1250.00"),
            cause=cause,
            certainty=Certainty.CERTAIN,
            summary="Invoice paid by hand after the payment run." + note,
            evidence=[
                EvidenceObject(
                    type="Payment",
                    id="77",
                    number="4401",
                    amount=Decimal("1250.00"),
                    url="https://qbo.example/app/recvpayment?txnId=77",
                    note=note or None,
                )
            ],
        )
        for i in range(n)
    ]
    books = Books(
        amount=Decimal("1250.00"),
        recorded=(
            (
                RecordedMoney(
                    qbo_payment_id="77", kind=RecordedKind.BY_HAND, amount=Decimal(recorded)
                ),
            )
            if recorded
            else ()
        ),
    )
    return Diagnosis(
        payment_id="pmt_1",
        reference="CB10234",
        cause=cause,
        certainty=Certainty.CERTAIN,
        findings=findings,
        remedies=[RemedyKind.DISMISS_SYNC],
        summary="QuickBooks would reject CB10234 because invoice 1043 was paid by hand." + note,
        next_step="Dismiss syncing.",
        books=books,
    )


def test_hand_payment_of_exactly_the_amount_both_choices_keep_the_books_right() -> None:
    said = prevention(payment(), diagnosis(Cause.PAID_MANUALLY, "1250.00"))
    assert "delete the hand entry (QuickBooks payment 77)" in said
    assert "also keeps the books right" in said


def test_hand_payment_of_another_amount_only_removal_keeps_the_books_right() -> None:
    said = prevention(payment(), diagnosis(Cause.PAID_MANUALLY, "1000.00"))
    assert "would *not* keep the books right" in said
    assert "$1,000.00" in said and "$1,250.00" in said


def test_each_cause_has_its_preventing_remedy() -> None:
    assert "unapply the credit memo" in prevention(payment(), diagnosis(Cause.CREDIT_MEMO))
    assert "restore the invoice" in prevention(payment(), diagnosis(Cause.VOIDED))
    assert "restore the invoice" in prevention(payment(), diagnosis(Cause.DELETED))
    assert "amount back" in prevention(payment(), diagnosis(Cause.AMOUNT_CHANGED))
    assert "active again" in prevention(payment(), diagnosis(Cause.INACTIVE_CUSTOMER))


def test_warning_shows_evidence_and_fits_slack_whatever_the_data() -> None:
    text, blocks = warning_message(payment(), diagnosis(Cause.PAID_MANUALLY, "1250.00"), AT)
    assert validate_blocks(blocks) == []
    shown = str(blocks)
    assert "About to fail: CB10234" in shown and "Payment 4401" in shown and "Prevent it" in shown
    assert "CB10234" in text
    huge = "<b>&" + "x" * 5000
    text, blocks = warning_message(
        payment(name=huge, n=40), diagnosis(Cause.PAID_MANUALLY, "1.00", n=40, note=huge), AT
    )
    assert validate_blocks(blocks) == []
    assert "<b>" not in str(blocks)
    _, cleared = cleared_message(payment(name=huge), AT)
    assert validate_blocks(cleared) == []
