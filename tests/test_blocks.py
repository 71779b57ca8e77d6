"""The failure card, its confirm dialogs, audit lines, the recreate modal and action values:
structure, Slack's limits (checked by the Slack sandbox's own validator), escaping, money."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import (
    Books,
    Cause,
    Certainty,
    Diagnosis,
    EvidenceObject,
    FailureRecord,
    FailureStatus,
    Finding,
    InvoiceNeed,
    RecordedKind,
    RecordedMoney,
    RemedyJournal,
    RemedyKind,
    Resolution,
)
from bot.slack.blocks import audit_line, failure_message, recreate_modal
from bot.slack.blocks.common import escape, fmt_time, money, slack_date, slack_time, truncate
from bot.slack.ids import (
    ALL_ACTION_IDS,
    KEEP_AS_CREDIT,
    RECREATE_TARGET_ACTION,
    RECREATE_TARGET_BLOCK,
    REMEDY_ACTIONS,
    ActionId,
    BadActionValue,
    ViewId,
    decode_page_value,
    decode_value,
    encode_page_value,
    encode_value,
)
from cb.models import Application, Customer, Payment, SyncError, SyncState, SyncStatus
from qb.models import Invoice, Ref
from sandbox.slack import blocks_json_size, validate_blocks, validate_view

PAID = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)
QBO = "https://app.qbo.intuit.com/app"


# ---- factories ----------------------------------------------------------------------------


def make_payment(
    *,
    customer: str = "Northwind Dental",
    apps: list[tuple[str, str, Decimal]] | None = None,
    status: SyncStatus = SyncStatus.FAILED,
    error: str = "A business validation error has occurred: The amount applied exceeds the "
    "open balance.",
) -> Payment:
    apps = (
        apps
        if apps is not None
        else [("1043", "130", Decimal("1000.00")), ("1051", "145", Decimal("250.00"))]
    )
    return Payment(
        id="pmt_8f2c41",
        reference="CB10234",
        customer=Customer(id="cus_311", name=customer, qb_customer_id="58"),
        amount=sum((a for _, _, a in apps), Decimal("0.00")) or Decimal("1250.00"),
        method="card",
        paid_at=PAID,
        applications=[Application(invoice_number=n, qb_invoice_id=i, amount=a) for n, i, a in apps],
        sync=SyncState(status=status, attempts=3, error=SyncError(code="6000", message=error)),
        updated_at=PAID + timedelta(hours=1),
    )


def credit_memo_finding() -> Finding:
    return Finding(
        invoice_id="130",
        invoice_number="1043",
        applied=Decimal("1000.00"),
        cause=Cause.CREDIT_MEMO,
        summary="Credit memo 1009 ($200.00) was applied to it after the payment run.",
        evidence=[
            EvidenceObject(
                type="CreditMemo",
                id="77",
                number="1009",
                amount=Decimal("200.00"),
                url=f"{QBO}/creditmemo?txnId=77",
            ),
            EvidenceObject(
                type="Payment",
                id="812",
                amount=Decimal("0"),
                url=f"{QBO}/recvpayment?txnId=812",
                note="a $0 payment that applies the credit memo",
            ),
        ],
        credit_memo_payment_id="812",
        credit_memo_id="77",
        credit_memo_amount=Decimal("200.00"),
    )


def fine_finding() -> Finding:
    return Finding(
        invoice_id="145",
        invoice_number="1051",
        applied=Decimal("250.00"),
        cause=Cause.NONE,
        summary="Open balance matches.",
        evidence=[
            EvidenceObject(type="Invoice", id="145", number="1051", url=f"{QBO}/invoice?txnId=145")
        ],
    )


def make_record(
    *,
    cause: Cause = Cause.CREDIT_MEMO,
    findings: list[Finding] | None = None,
    remedies: list[RemedyKind] | None = None,
    payment: Payment | None = None,
    status: FailureStatus = FailureStatus.OPEN,
    **kw: Any,
) -> FailureRecord:
    diag = Diagnosis(
        payment_id="pmt_8f2c41",
        reference="CB10234",
        cause=cause,
        certainty=Certainty.CERTAIN,
        findings=findings if findings is not None else [credit_memo_finding(), fine_finding()],
        remedies=remedies
        if remedies is not None
        else [RemedyKind.UNAPPLY_CREDIT_MEMO, RemedyKind.DISMISS_SYNC, RemedyKind.DELETE_HISTORY],
        summary="A credit memo was applied to invoice 1043 after the client paid it.",
        next_step="Un-apply credit memo 1009 from invoice 1043; the payment then syncs on the "
        "next run.",
        sync_error_code="6000",
        sync_error_message="The amount applied exceeds the open balance.",
        diagnosed_at=PAID + timedelta(hours=2),
    )
    return FailureRecord(
        payment_id="pmt_8f2c41",
        payment=payment or make_payment(),
        diagnosis=diag,
        status=status,
        **kw,
    )


# ---- helpers --------------------------------------------------------------------------------


def all_texts(blocks: list[dict]) -> list[str]:
    out: list[str] = []

    def walk(o: Any) -> None:
        if isinstance(o, dict):
            if isinstance(o.get("text"), str):
                out.append(o["text"])
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(blocks)
    return out


def buttons(blocks: list[dict]) -> list[dict]:
    """The remedy buttons (the team's row, ``fp_team:<id>``, is tested in test_team_blocks)."""
    return [
        e
        for b in blocks
        if b["type"] == "actions" and not str(b.get("block_id", "")).startswith("fp_team:")
        for e in b["elements"]
    ]


def assert_within_limits(blocks: list[dict]) -> None:
    assert validate_blocks(blocks) == []
    assert len(blocks) <= 50
    assert blocks_json_size(blocks) <= 13_000


# ---- the card -------------------------------------------------------------------------------


def test_card_shows_payment_invoices_evidence_next_step_and_error() -> None:
    text, blocks = failure_message(make_record())
    assert_within_limits(blocks)
    assert blocks[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "Payment CB10234 didn't reach QuickBooks",
            "emoji": True,
        },
    }
    joined = "\n".join(all_texts(blocks))
    assert "*Customer*\nNorthwind Dental" in joined
    assert "*Amount*\n$1,250.00" in joined
    paid = int(PAID.timestamp())
    token = f"<!date^{paid}^{{date_short_pretty}} at {{time}}|14:05 UTC, 3 Nov 2026>"
    assert f"*Paid*\n{token}" in joined
    assert "*Method*\ncard" in joined
    assert "*Invoice 1043* · $1,000.00 applied" in joined
    assert "Credit memo applied* (certain)" in joined
    assert f"<{QBO}/creditmemo?txnId=77|Credit memo 1009>" in joined
    assert "*Next step:* Un-apply credit memo 1009" in joined
    ctx = [b for b in blocks if b["type"] == "context"]
    assert any(
        "QuickBooks said (6000): The amount applied exceeds" in e["text"]
        for b in ctx
        for e in b["elements"]
    )
    assert "CB10234" in text and "$1,250.00" in text and "Credit memo applied" in text


def test_buttons_follow_remedies_recommended_primary_delete_danger() -> None:
    rec = make_record(remedy_attempts=2)
    btns = buttons(failure_message(rec)[1])
    assert [b["action_id"] for b in btns] == [
        ActionId.UNAPPLY_CREDIT_MEMO,
        ActionId.DISMISS_SYNC,
        ActionId.DELETE_HISTORY,
        ActionId.RECHECK,
    ]
    assert [b["text"]["text"] for b in btns] == [
        "Unapply Credit Memo",
        "Dismiss Syncing",
        "Delete",
        "Re-check",
    ]
    assert btns[0]["style"] == "primary"
    assert btns[2]["style"] == "danger"
    assert "style" not in btns[1] and "style" not in btns[3]
    assert "confirm" not in btns[3]  # Re-check changes nothing
    for b in btns:
        v = decode_value(b["value"])
        assert v.payment_id == "pmt_8f2c41" and v.attempt == 2
    assert buttons(failure_message(rec, show_buttons=False)[1]) == []


def test_unapply_confirm_says_exactly_what_changes() -> None:
    btn = buttons(failure_message(make_record())[1])[0]
    text = btn["confirm"]["text"]["text"]
    assert text.startswith(
        "Delete the $0 payment 812 that applies credit memo 1009 ($200.00) to invoice 1043?"
    )
    assert "resyncs CB10234" in text
    assert len(text) <= 300


def test_delete_confirm_dismisses_first_unless_already_dismissed() -> None:
    rec = make_record(remedies=[RemedyKind.DELETE_HISTORY])
    btn = buttons(failure_message(rec)[1])[0]
    assert btn["style"] == "danger"  # danger wins even when recommended
    assert btn["confirm"]["style"] == "danger"
    assert "first dismisses syncing of payment CB10234" in btn["confirm"]["text"]["text"]
    dismissed = make_record(
        remedies=[RemedyKind.DELETE_HISTORY], payment=make_payment(status=SyncStatus.DISMISSED)
    )
    text = buttons(failure_message(dismissed)[1])[0]["confirm"]["text"]["text"]
    assert "first dismisses" not in text
    assert text.startswith("Delete payment CB10234 ($1,250.00 from Northwind Dental)")


def test_recreate_confirm_names_customer_amount_reference_targets() -> None:
    recreated = Finding(
        invoice_id="130",
        invoice_number="1043",
        applied=Decimal("1000.00"),
        cause=Cause.RECREATED,
        summary="Invoice 1043 was deleted; invoice 1043-R replaces it.",
        evidence=[EvidenceObject(type="Invoice", id="201", number="1043-R")],
        replacement_invoice_id="201",
    )
    rec = make_record(
        cause=Cause.RECREATED,
        findings=[recreated, fine_finding()],
        remedies=[RemedyKind.RECREATE_PAYMENT, RemedyKind.DISMISS_SYNC],
    )
    btn = buttons(failure_message(rec)[1])[0]
    assert btn["action_id"] == ActionId.RECREATE_PAYMENT
    assert btn["text"]["text"] == "Recreate payment in QuickBooks"
    text = btn["confirm"]["text"]["text"]
    assert "from Northwind Dental for $1,250.00, reference CB10234" in text
    assert "invoice 1043-R ($1,000.00), invoice 1051 ($250.00)" in text
    assert text.endswith("then dismiss syncing in ConnectBooster.")

    missing = recreated.model_copy(update={"replacement_invoice_id": None, "evidence": []})
    rec2 = make_record(
        cause=Cause.RECREATED, findings=[missing], remedies=[RemedyKind.RECREATE_PAYMENT]
    )
    text2 = buttons(failure_message(rec2)[1])[0]["confirm"]["text"]["text"]
    assert "you pick the invoice for 1 deleted invoice (or keep it as credit) next" in text2

    unapplied = make_record(
        cause=Cause.UNKNOWN,
        findings=[],
        remedies=[RemedyKind.RECREATE_PAYMENT],
        payment=make_payment(apps=[]),
    )
    text3 = buttons(failure_message(unapplied)[1])[0]["confirm"]["text"]["text"]
    assert "kept as credit on the customer" in text3


def test_resolved_shows_who_how_when_and_no_buttons() -> None:
    rec = make_record(
        status=FailureStatus.RESOLVED,
        resolution=Resolution(
            how="dismissed", by="U123", at=datetime(2026, 11, 4, 10, 42, tzinfo=UTC)
        ),
    )
    text, blocks = failure_message(rec)
    assert buttons(blocks) == []
    at = int(datetime(2026, 11, 4, 10, 42, tzinfo=UTC).timestamp())
    assert blocks[1]["text"]["text"] == (
        ":white_check_mark: Syncing dismissed by <@U123> at "
        f"<!date^{at}^{{date_short_pretty}} at {{time}}|10:42 UTC, 4 Nov 2026>"
    )
    # the notification text spells the time out in UTC (no token there)
    assert "Syncing dismissed by <@U123> at 10:42 UTC, 4 Nov 2026" in text
    synced = make_record(
        status=FailureStatus.RESOLVED,
        resolution=Resolution(how="synced", at=datetime(2026, 11, 4, 11, 0, tzinfo=UTC)),
    )
    assert (
        "Synced to QuickBooks by ConnectBooster's sync"
        in failure_message(synced)[1][1]["text"]["text"]
    )


def test_waiting_sync_offers_only_recheck() -> None:
    at = datetime(2026, 11, 4, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    rec = make_record(
        status=FailureStatus.WAITING_SYNC,
        remedy=RemedyJournal(
            kind=RemedyKind.UNAPPLY_CREDIT_MEMO, user="U777", started_at=at, finished_at=at
        ),
    )
    _, blocks = failure_message(rec)
    assert [b["action_id"] for b in buttons(blocks)] == [ActionId.RECHECK]
    assert blocks[1]["text"]["text"] == (
        f":arrows_counterclockwise: Credit memo un-applied by <@U777> at {slack_time(at)}; "
        "waiting for ConnectBooster's next sync"
    )
    assert "|14:30 UTC, 4 Nov 2026>" in blocks[1]["text"]["text"]


def test_in_progress_shows_who_and_no_buttons() -> None:
    rec = make_record(
        status=FailureStatus.IN_PROGRESS,
        remedy=RemedyJournal(kind=RemedyKind.DISMISS_SYNC, user="U9", started_at=PAID),
    )
    _, blocks = failure_message(rec)
    assert buttons(blocks) == []
    assert "<@U9> is dismissing syncing" in blocks[1]["text"]["text"]


def test_notice_is_shown_escaped() -> None:
    _, blocks = failure_message(
        make_record(),
        notice="QuickBooks refused: <Fault> & stale object. Press Re-check, then try again.",
    )
    assert blocks[1]["text"]["text"] == (
        ":warning: QuickBooks refused: &lt;Fault&gt; &amp; stale object. "
        "Press Re-check, then try again."
    )
    assert len(buttons(blocks)) == 4  # still actionable


def test_failed_remedy_is_reported_when_rerendered() -> None:
    rec = make_record(
        remedy=RemedyJournal(
            kind=RemedyKind.DISMISS_SYNC,
            user="U5",
            outcome="failed",
            error="ConnectBooster said 409",
            started_at=PAID,
        )
    )
    _, blocks = failure_message(rec)
    assert blocks[1]["text"]["text"].startswith(":warning: *Dismiss Syncing* by <@U5> failed at")
    assert "409" in blocks[1]["text"]["text"]


def test_user_data_is_escaped_for_mrkdwn() -> None:
    evil = "<!channel> Tom & Jerry's <https://evil.example|click>"
    ev = EvidenceObject(
        type="Invoice", id="1", number="<b>", url=f"{QBO}/invoice?txnId=1", note="a > b"
    )
    f = credit_memo_finding().model_copy(update={"summary": "x < y & z", "evidence": [ev]})
    rec = make_record(findings=[f], payment=make_payment(customer=evil))
    text, blocks = failure_message(rec)
    dumped = json.dumps(blocks)
    assert "<!channel>" not in dumped and "<https://evil" not in dumped
    assert "&lt;!channel&gt; Tom &amp; Jerry's &lt;https://evil.example|click&gt;" in dumped
    assert "x &lt; y &amp; z" in dumped
    assert f"<{QBO}/invoice?txnId=1|Invoice &lt;b&gt;>" in dumped
    assert "a &gt; b" in dumped
    assert "<!channel>" not in text
    for b in buttons(blocks):
        if "confirm" in b:
            assert "<!channel>" not in b["confirm"]["text"]["text"]
    assert_within_limits(blocks)


def many_invoices(n: int, *, summary_len: int = 120) -> FailureRecord:
    findings = []
    apps = []
    for i in range(n):
        num = f"{2000 + i}"
        apps.append((num, str(500 + i), Decimal("123.45")))
        findings.append(
            Finding(
                invoice_id=str(500 + i),
                invoice_number=num,
                applied=Decimal("123.45"),
                cause=Cause.PAID_MANUALLY if i % 2 else Cause.NONE,
                certainty=Certainty.LIKELY,
                summary=("Invoice was paid in QuickBooks by hand before the sync. " * 5)[
                    :summary_len
                ],
                evidence=[
                    EvidenceObject(
                        type="Payment",
                        id=str(9000 + i * 10 + k),
                        number=f"CHK{i}{k}",
                        amount=Decimal("123.45"),
                        url=f"{QBO}/recvpayment?txnId={9000 + i * 10 + k}",
                        note="recorded by hand",
                    )
                    for k in range(3)
                ],
            )
        )
    return make_record(
        cause=Cause.PAID_MANUALLY,
        findings=findings,
        remedies=[RemedyKind.DISMISS_SYNC, RemedyKind.DELETE_HISTORY, RemedyKind.RECREATE_PAYMENT],
        payment=make_payment(apps=apps, error="E" * 5000),
    )


@pytest.mark.parametrize("n", [31, 35, 60, 200])
def test_card_with_many_invoices_stays_within_limits(n: int) -> None:
    rec = many_invoices(n)
    text, blocks = failure_message(rec, notice="N" * 4000)
    assert_within_limits(blocks)
    for t in all_texts(blocks):
        assert len(t) <= 3000
    joined = "\n".join(all_texts(blocks))
    shown = joined.count("*Invoice ")  # one per invoice rendered
    more = [t for t in all_texts(blocks) if t.startswith("… and ")]
    assert len(more) <= 1
    hidden = int(more[0].split()[2]) if more else 0
    assert shown + hidden == n, "a truncated card must say how many invoices it hides"
    if n >= 60:
        assert hidden > 0
    assert shown >= min(n, 30)  # the compact form keeps most invoices visible
    # every button survives truncation
    assert len(buttons(blocks)) == 4
    assert len(text) <= 3000


def test_card_with_few_invoices_is_not_truncated() -> None:
    _, blocks = failure_message(many_invoices(5))
    assert not any(t.startswith("… and ") for t in all_texts(blocks))
    joined = "\n".join(all_texts(blocks))
    assert joined.count("*Invoice ") == 5
    assert joined.count("recorded by hand") == 15  # full form: every evidence line


def test_card_without_diagnosis_offers_recheck() -> None:
    rec = FailureRecord(payment_id="pmt_8f2c41", payment=make_payment())
    _, blocks = failure_message(rec)
    assert_within_limits(blocks)
    assert [b["action_id"] for b in buttons(blocks)] == [ActionId.RECHECK]
    assert "*Invoice 1043* · $1,000.00 applied" in "\n".join(all_texts(blocks))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    customer=st.text(min_size=1, max_size=400),
    summary=st.text(min_size=1, max_size=2500),
    n=st.integers(min_value=0, max_value=45),
)
def test_card_within_limits_for_any_data(customer: str, summary: str, n: int) -> None:
    rec = many_invoices(n)
    rec.payment.customer.name = customer
    assert rec.diagnosis is not None
    rec.diagnosis.summary = summary
    rec.diagnosis.next_step = summary
    for f in rec.diagnosis.findings:
        f.summary = summary
    _, blocks = failure_message(rec, notice=summary)
    assert_within_limits(blocks)


# ---- the books on the card -----------------------------------------------------------------


def by_hand(amount: str, *, certain: bool = False, pid: str = "9001") -> RecordedMoney:
    return RecordedMoney(
        qbo_payment_id=pid,
        kind=RecordedKind.BY_HAND,
        amount=Decimal(amount),
        invoice_amounts={"130": Decimal(amount)},
        reference="CHK-77",
        certain=certain,
    )


def needs(recorded_1043: str = "1000.00", *, target: str | None = "145") -> tuple[InvoiceNeed, ...]:
    return (
        InvoiceNeed(
            invoice_id="130",
            invoice_number="1043",
            applied=Decimal("1000.00"),
            recorded=Decimal(recorded_1043),
            target_invoice_id="130",
            room=Decimal("1000.00") - Decimal(recorded_1043),
        ),
        InvoiceNeed(
            invoice_id="145",
            invoice_number="1051",
            applied=Decimal("250.00"),
            target_invoice_id=target,
            room=Decimal("250.00") if target else Decimal(0),
        ),
    )


def books_card(books: Books | None) -> str:
    rec = make_record(cause=Cause.PAID_MANUALLY, remedies=[RemedyKind.RECREATE_PAYMENT])
    assert rec.diagnosis is not None
    rec.diagnosis.books = books
    rec.diagnosis.findings[0].evidence.append(
        EvidenceObject(
            type="Payment", id="9001", number="CHK-77", url=f"{QBO}/recvpayment?txnId=9001"
        )
    )
    _, blocks = failure_message(rec)
    assert_within_limits(blocks)
    return "\n".join(all_texts(blocks))


def test_books_partly_recorded_say_how_much_is_missing_and_where() -> None:
    shown = books_card(
        Books(amount=Decimal("1250.00"), recorded=(by_hand("1000.00"),), needs=needs())
    )
    assert (
        "*In QuickBooks:* $1,000.00 of the $1,250.00 is recorded (likely, differs by "
        "$250.00); *$250.00 is recorded nowhere*."
    ) in shown
    assert (
        f"• <{QBO}/recvpayment?txnId=9001|Payment CHK-77> (entered by hand, likely the same "
        "money): $1,000.00 on invoice 1043 ($1,000.00)"
    ) in shown
    assert "• Invoice 1051: $250.00 of $250.00 unrecorded\n" in shown  # on its own invoice
    assert "Invoice 1043:" not in shown  # fully recorded: not listed as missing


def test_books_reconciled_are_certain_and_list_no_needs() -> None:
    shown = books_card(
        Books(
            amount=Decimal("1250.00"),
            recorded=(by_hand("1250.00", certain=True),),
            needs=needs("1000.00"),
        )
    )
    assert "*In QuickBooks:* all $1,250.00 is recorded (certain)." in shown
    assert "unrecorded" not in shown
    judged = books_card(Books(amount=Decimal("1250.00"), recorded=(by_hand("1250.00"),)))
    assert "all $1,250.00 is recorded (likely)." in judged


def test_books_recorded_twice_and_nothing_recorded() -> None:
    twice = books_card(
        Books(
            amount=Decimal("1250.00"),
            recorded=(
                by_hand("1250.00", certain=True),
                by_hand("500.00", certain=True, pid="9002"),
            ),
        )
    )
    assert (
        "$1,750.00 is recorded for this $1,250.00 payment: *$500.00 more than was paid* "
        "(likely, differs by $500.00)"
    ) in twice
    none = books_card(
        Books(amount=Decimal("1250.00"), needs=needs("0", target=None), overpaid=Decimal("0"))
    )
    assert "*In QuickBooks:* none of the $1,250.00 is recorded yet." in none
    assert "• Invoice 1043: $1,000.00 of $1,000.00 unrecorded\n" in none
    assert "• Invoice 1051: $250.00 of $250.00 unrecorded — you pick the invoice it goes to" in (
        none
    )


def test_books_show_their_currency_room_and_overpayment() -> None:
    short_room = (
        InvoiceNeed(
            invoice_id="145",
            invoice_number="1051",
            applied=Decimal("250.00"),
            target_invoice_id="145",
            room=Decimal("100.00"),
        ),
    )
    shown = books_card(
        Books(amount=Decimal("300.00"), currency="EUR", needs=short_room, overpaid=Decimal("50.00"))
    )
    assert "none of the 300.00 EUR is recorded yet" in shown
    assert "250.00 EUR of 250.00 EUR unrecorded (invoice 1051, only 100.00 EUR open)" in shown
    elsewhere = (
        InvoiceNeed(
            invoice_id="130",
            invoice_number="1043",
            applied=Decimal("300.00"),
            target_invoice_id="145",
            room=Decimal("300.00"),
        ),
    )
    moved = books_card(Books(amount=Decimal("300.00"), needs=elsewhere))
    assert "• Invoice 1043: $300.00 of $300.00 unrecorded → invoice 1051\n" in moved
    assert "50.00 EUR paid over the invoices (the client's overpayment)" in shown


def test_no_books_no_books_section() -> None:
    assert "In QuickBooks:" not in books_card(None)


def test_books_with_many_payments_and_invoices_stay_within_limits() -> None:
    many = tuple(by_hand("1.00", pid=str(9100 + i)) for i in range(40))
    lots = tuple(
        InvoiceNeed(invoice_id=str(i), invoice_number="<&>" * 20, applied=Decimal("30.00"))
        for i in range(40)
    )
    shown = books_card(Books(amount=Decimal("1250.00"), recorded=many, needs=lots))
    assert "• … and 34 more payments" in shown  # six payments shown
    rows = shown.count("unrecorded — you pick")
    assert 0 < rows <= 6
    assert f"• … and {40 - rows} more invoices" in shown  # every invoice shown or counted
    assert "<&>" not in shown


# ---- formatting helpers --------------------------------------------------------------------


def test_money_formatting() -> None:
    assert money(Decimal("1250")) == "$1,250.00"
    assert money(Decimal("1234567.891")) == "$1,234,567.89"
    assert money(Decimal("0.005")) == "$0.01"
    assert money(Decimal("-5.5")) == "-$5.50"
    assert money(Decimal("99.9"), "eur") == "99.90 EUR"
    with pytest.raises(TypeError):
        money(12.5)  # type: ignore[arg-type]


def test_times_carry_zone_and_naive_is_refused() -> None:
    at = datetime(2026, 11, 4, 5, 42, tzinfo=timezone(timedelta(hours=-5)))
    assert fmt_time(at) == "10:42 UTC, 4 Nov 2026"
    with pytest.raises(ValueError):
        fmt_time(datetime(2026, 11, 4, 10, 42))


def test_escape_and_truncate_do_not_split_entities() -> None:
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"
    cut = truncate(escape("x" * 8 + "&&&&"), 12)
    assert cut.endswith("…") and len(cut) <= 12
    assert "&am…" not in cut and "&amp" not in cut.replace("&amp;", "")
    assert truncate("a & " + "b" * 50, 10) == "a & bbbbb…"  # a bare & is not an entity


def test_slack_date_tokens_show_each_reader_their_own_time() -> None:
    at = datetime(2026, 11, 4, 5, 42, tzinfo=timezone(timedelta(hours=-5)))
    unix = 1_793_788_920  # 2026-11-04 10:42:00 UTC
    assert slack_time(at) == (
        f"<!date^{unix}^{{date_short_pretty}} at {{time}}|10:42 UTC, 4 Nov 2026>"
    )
    assert slack_date(at) == f"<!date^{unix}^{{date_short_pretty}}|4 Nov 2026>"
    with pytest.raises(ValueError):
        slack_time(datetime(2026, 11, 4, 10, 42))


def test_audit_line() -> None:
    at = datetime(2026, 11, 4, 10, 42, tzinfo=UTC)
    line = audit_line("U123", RemedyKind.DISMISS_SYNC, "ok", at)
    assert line == (
        ":white_check_mark: <@U123> ran *Dismiss Syncing*: ok at "
        f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|10:42 UTC, 4 Nov 2026>"
    )
    failed = audit_line(
        "U1", "unapply_credit_memo", "failed", at, detail="QBO said <stale> & retry"
    )
    assert failed.startswith(":warning: <@U1> ran *Unapply Credit Memo*: failed")
    assert failed.endswith("— QBO said &lt;stale&gt; &amp; retry")
    odd = audit_line(None, "resync <x>", "refused", at)
    assert odd.startswith(":no_entry: someone outside Slack ran *resync &lt;x&gt;*")


# ---- recreate modal -------------------------------------------------------------------------


def invoice(i: int, *, doc: str | None = None, balance: str = "100.00") -> Invoice:
    return Invoice(
        id=str(i),
        doc_number=doc or str(3000 + i),
        txn_date=datetime(2026, 10, 1, tzinfo=UTC).date() + timedelta(days=i % 60),
        total_amt=Decimal(balance),
        balance=Decimal(balance),
        customer_ref=Ref(value="58"),
    )


def test_recreate_modal_structure() -> None:
    f = credit_memo_finding().model_copy(update={"replacement_candidates": ["7"]})
    rec = make_record(findings=[f])
    view = recreate_modal(rec, [invoice(i) for i in range(1, 10)], context_id="ctx:abc")
    assert validate_view(view) == []
    assert view["callback_id"] == ViewId.RECREATE_PICK == "fp_recreate_pick"
    assert view["private_metadata"] == "ctx:abc"
    inp = next(b for b in view["blocks"] if b["type"] == "input")
    assert inp["block_id"] == RECREATE_TARGET_BLOCK
    sel = inp["element"]
    assert sel["type"] == "static_select" and sel["action_id"] == RECREATE_TARGET_ACTION
    values = [o["value"] for o in sel["options"]]
    assert values[0] == "7"  # the suggested replacement first
    assert sel["initial_option"]["value"] == "7"
    assert values[-1] == KEEP_AS_CREDIT
    assert sel["options"][-1]["text"]["text"] == "Keep as credit on the customer"
    assert sel["options"][0]["text"]["text"] == "Invoice 3007 · $100.00 open · 2026-10-08"
    assert "$1,250.00 from Northwind Dental" in view["blocks"][0]["text"]["text"]


def test_recreate_modal_caps_options_and_long_names() -> None:
    cands = [invoice(i, doc="D" * 200) for i in range(1, 151)]
    view = recreate_modal(
        make_record(payment=make_payment(customer="<&>" * 300)), cands, context_id="c"
    )
    assert validate_view(view) == []
    sel = next(b for b in view["blocks"] if b["type"] == "input")["element"]
    assert len(sel["options"]) == 100
    assert sel["options"][-1]["value"] == KEEP_AS_CREDIT
    assert "Showing 99 of 150 open invoices" in json.dumps(view)
    assert "<&>" not in view["blocks"][0]["text"]["text"]


def test_recreate_modal_without_candidates_offers_credit_only() -> None:
    view = recreate_modal(make_record(), [], context_id="c")
    assert validate_view(view) == []
    sel = next(b for b in view["blocks"] if b["type"] == "input")["element"]
    assert [o["value"] for o in sel["options"]] == [KEEP_AS_CREDIT]


# ---- action ids and values ------------------------------------------------------------------


def test_action_ids_cover_every_remedy() -> None:
    assert set(REMEDY_ACTIONS) == set(RemedyKind)
    assert set(REMEDY_ACTIONS.values()) <= ALL_ACTION_IDS
    assert {"fp_list_next", "fp_list_prev"} <= ALL_ACTION_IDS
    assert all(len(a) <= 255 for a in ALL_ACTION_IDS)


def test_value_round_trip_and_extras() -> None:
    v = decode_value(encode_value("pmt_1", attempt=3, invoice="201"))
    assert (v.payment_id, v.attempt, v.extra) == ("pmt_1", 3, {"invoice": "201"})
    assert decode_value(encode_value("pmt_2")).attempt is None
    with pytest.raises(ValueError):
        encode_value("pmt_1", blob="x" * 2100)
    with pytest.raises(ValueError):
        encode_value("")


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        "",
        "pmt_1|2",
        "[1,2]",
        '{"a": 1}',
        '{"p": ""}',
        '{"p": 5}',
        '{"p":"x","a":"2"}',
        '{"p":"x","a":true}',
        '{"p":"x","x":[1]}',
        "{" * 3000,
        '{"p":"' + "x" * 300 + '"}',
    ],
)
def test_garbage_values_raise_bad_action_value(garbage: str | None) -> None:
    with pytest.raises(BadActionValue):
        decode_value(garbage)


def test_page_values() -> None:
    assert decode_page_value(encode_page_value("tok", 3)) == ("tok", 3)
    for bad in ["", "3", '{"t":"x","pg":0}', '{"t":1,"pg":2}', encode_value("pmt")]:
        with pytest.raises(BadActionValue):
            decode_page_value(bad)
