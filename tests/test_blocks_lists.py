"""Builders for /failed-payments replies (list, stats, help, not allowed) and the channel
messages of issue 7 (digest, failure-rate alert, recovery, sync not running)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.alerts.rules import AlertReport, CauseCount, CustomerCount, StatsReport, what_to_check
from bot.models import Cause, FailureStatus, FailureSummary
from bot.slack.blocks import (
    alert_message,
    digest_message,
    help_message,
    list_page,
    not_allowed_message,
    recovered_message,
    stats_message,
    sync_not_running_message,
)
from bot.slack.ids import ActionId, decode_page_value
from sandbox.slack import blocks_json_size, validate_blocks

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def summary(
    i: int, *, customer: str = "Northwind Dental", permalink: bool = True
) -> FailureSummary:
    return FailureSummary(
        payment_id=f"pmt_{i}",
        reference=f"CB{10000 + i}",
        customer=customer,
        amount=Decimal("1250.00") + i,
        cause=Cause.CREDIT_MEMO if i % 2 else Cause.PAID_MANUALLY,
        status=FailureStatus.WAITING_SYNC if i == 3 else FailureStatus.OPEN,
        paid_at=NOW - timedelta(days=i + 1),
        first_seen_at=NOW - timedelta(days=i, hours=2),
        permalink=f"https://sandbox.slack.local/archives/C1/p{i}" if permalink else None,
    )


def texts(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def ok(blocks: list[dict]) -> None:
    assert validate_blocks(blocks) == []
    assert blocks_json_size(blocks) <= 13_000


def nav(blocks: list[dict]) -> dict[str, str]:
    return {
        e["action_id"]: e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]
    }


def test_list_page_rows_totals_and_paging() -> None:
    rows = [summary(i) for i in range(1, 11)]
    text, blocks = list_page(
        rows,
        page=2,
        pages=5,
        total=42,
        total_amount=Decimal("52500.5"),
        filters="cause:credit-memo",
        now=NOW,
        paging_token="tok1",
    )
    ok(blocks)
    dumped = texts(blocks)
    assert (
        "*42 open failures* matching `cause:credit-memo` · *$52,500.50* in all · page 2 of 5"
        in dumped
    )
    first = next(b for b in blocks if b["type"] == "section" and "CB10001" in b["text"]["text"])
    assert first["text"]["text"] == (
        "<https://sandbox.slack.local/archives/C1/p1|*CB10001*> · Northwind Dental · *$1,251.00*\n"
        "Credit memo applied · 1d old"
    )
    assert "Credit memo applied · 3d old · waiting for sync" in dumped
    buttons = nav(blocks)
    assert decode_page_value(buttons[ActionId.LIST_PREV]) == ("tok1", 1)
    assert decode_page_value(buttons[ActionId.LIST_NEXT]) == ("tok1", 3)
    assert text == "42 open failed payments ($52,500.50), page 2 of 5"


def test_list_page_first_and_last_pages_have_one_button() -> None:
    rows = [summary(i) for i in range(1, 4)]
    _, first = list_page(
        rows, page=1, pages=2, total=13, total_amount=Decimal(1), filters="", now=NOW
    )
    assert set(nav(first)) == {ActionId.LIST_NEXT}
    _, last = list_page(
        rows, page=2, pages=2, total=13, total_amount=Decimal(1), filters="", now=NOW
    )
    assert set(nav(last)) == {ActionId.LIST_PREV}
    _, only = list_page(
        rows, page=1, pages=1, total=3, total_amount=Decimal(1), filters="", now=NOW
    )
    assert nav(only) == {}


def test_list_page_empty_names_the_filters() -> None:
    text, blocks = list_page(
        [], page=1, pages=0, total=0, total_amount=Decimal(0), filters="customer:<acme>", now=NOW
    )
    ok(blocks)
    assert "No open failed payments matching `customer:&lt;acme&gt;`" in texts(blocks)
    assert nav(blocks) == {}
    assert "No open failed payments" in text


def test_list_page_long_customer_names_and_escaping() -> None:
    rows = [summary(i, customer="<!here> & " + "Ü" * 3000) for i in range(1, 26)]
    _, blocks = list_page(
        rows,
        page=1,
        pages=1000,
        total=10_000,
        total_amount=Decimal("12345678.9"),
        filters="x" * 5000,
        now=NOW,
    )
    ok(blocks)
    assert len(blocks) <= 50
    assert "<!here>" not in texts(blocks)
    assert "&lt;!here&gt; &amp;" in texts(blocks)


def test_stats_message() -> None:
    report = StatsReport(
        window_days=7,
        payments=412,
        failures=21,
        rate=Decimal(21) / Decimal(412),
        threshold=Decimal("0.10"),
        by_cause=[
            CauseCount(cause=Cause.CREDIT_MEMO, count=12, amount=Decimal("9000")),
            CauseCount(cause=Cause.UNKNOWN, count=9, amount=Decimal("120.5")),
        ],
        resolved_by_remedy={"dismissed": 5, "unapplied": 7},
        resolved_by_person={"U1": 8, "U2": 4},
        median_time_to_resolve=timedelta(hours=3, minutes=20),
        open_now=9,
        open_amount=Decimal("4410"),
    )
    text, blocks = stats_message(report, now=NOW)
    ok(blocks)
    d = texts(blocks)
    assert "Failed payments — last 7 days" in d
    assert "*Failure rate*\\n5.1% (under 10%)" in d
    assert "• Credit memo applied: 12 · $9,000.00\\n• Cause unknown: 9 · $120.50" in d
    assert "• unapplied: 7\\n• dismissed: 5" in d
    assert "• <@U1>: 8\\n• <@U2>: 4" in d
    assert "3 h 20 min" in d
    assert "*Open now*\\n9 · $4,410.00" in d
    assert text == "Last 7 days: 21 of 412 payments failed (5.1%)"
    over = report.model_copy(update={"rate": Decimal("0.125")})
    assert ":rotating_light: over 10%" in texts(stats_message(over)[1])


def test_help_names_the_mistake() -> None:
    text, blocks = help_message("unknown filter `cus:` — did you mean `customer:`?")
    ok(blocks)
    assert (
        blocks[0]["text"]["text"] == ":warning: unknown filter `cus:` — did you mean `customer:`?"
    )
    assert "`stats [7d|30d|90d]`" in texts(blocks)
    assert "`credit-memo`" in texts(blocks)
    assert "did you mean" in text
    _, plain = help_message(None)
    assert ":warning:" not in texts(plain)
    _, evil = help_message("unknown subcommand `<!channel>`")
    assert "<!channel>" not in texts(evil)


def test_not_allowed_names_who_may() -> None:
    text, blocks = not_allowed_message(["U1", "U2"], "S0FINANCE")
    ok(blocks)
    assert (
        "Only <@U1>, <@U2> or members of <!subteam^S0FINANCE> may act on failed payments." in text
    )
    _, one = not_allowed_message(["U1"], None)
    assert "Only <@U1> may act" in texts(one)
    _, nobody = not_allowed_message([], None)
    assert "FINANCE_USERS" in texts(nobody)


def test_digest_message_counts_and_oldest() -> None:
    recs = [summary(i) for i in range(1, 31)]
    text, blocks = digest_message(recs, now=NOW)
    ok(blocks)
    d = texts(blocks)
    assert blocks[0]["text"]["text"] == "30 payments didn't reach QuickBooks"
    total = sum((r.amount for r in recs), Decimal(0))
    assert f"totalling *${total:,.2f}*" in d
    assert "*Credit memo applied*\\n15" in d and "*Paid manually in QuickBooks*\\n15" in d
    oldest = next(b for b in blocks if b.get("text", {}).get("text", "").startswith("*Oldest*"))
    assert oldest["text"]["text"].count("\n•") == 5
    assert "CB10030" in oldest["text"]["text"]  # the oldest payment
    assert "in this thread" in d
    assert text.startswith("30 payments didn't reach QuickBooks")
    # explicit totals win over what the records hold
    _, b2 = digest_message(
        recs[:2],
        total_count=1000,
        total_amount=Decimal("5"),
        counts_by_cause={Cause.RECREATED: 1000},
        oldest=recs[:1],
    )
    assert "1,000 payments didn't reach QuickBooks" in texts(b2)
    assert "*Invoice deleted and recreated*\\n1,000" in texts(b2)


def alert_report(**kw: object) -> AlertReport:
    base: dict[str, object] = dict(
        rate=Decimal("0.15"),
        threshold=Decimal("0.10"),
        window_days=7,
        payments=200,
        failures=30,
        by_cause=[
            CauseCount(cause=Cause.CREDIT_MEMO, count=20, amount=Decimal("20000")),
            CauseCount(cause=Cause.UNKNOWN, count=10, amount=Decimal("500")),
        ],
        top_customers=[CustomerCount(name="Acme <Corp>", count=9, amount=Decimal("9000"))],
        previous_rate=Decimal("0.05"),
        previous_failures=10,
        checks=what_to_check(
            [CauseCount(cause=Cause.CREDIT_MEMO, count=20)], auto_apply_credit=True
        ),
        at=NOW,
    )
    base.update(kw)
    return AlertReport.model_validate(base)


def test_alert_message() -> None:
    text, blocks = alert_message(alert_report())
    ok(blocks)
    d = texts(blocks)
    assert "*30 of 200* payments in the last 7 days failed to sync — *15%*" in d
    assert "threshold of 10%" in d
    assert "up from 5% in the 7 days before (10 failures)" in d
    assert "*Credit memo applied*\\n20 · $20,000.00" in d
    assert "Acme &lt;Corp&gt;: 9 failures, $9,000.00" in d
    assert "Automatically apply credits is ON" in d
    assert text.startswith("Alert: 15% of payments failed")


def test_what_to_check_follows_the_dominant_cause() -> None:
    cm = [CauseCount(cause=Cause.CREDIT_MEMO, count=5)]
    assert "is ON" in what_to_check(cm, auto_apply_credit=True)[0]
    assert "by hand" in what_to_check(cm, auto_apply_credit=False)[0]
    pm = [
        CauseCount(cause=Cause.PAID_MANUALLY, count=5),
        CauseCount(cause=Cause.CREDIT_MEMO, count=2),
    ]
    assert "Automatically apply payments is ON" in what_to_check(pm, auto_apply_payments=True)[0]
    rc = [CauseCount(cause=Cause.RECREATED, count=5)]
    assert "deleted and recreated" in what_to_check(rc)[0]
    un = [CauseCount(cause=Cause.UNKNOWN, count=5)]
    checks = what_to_check(un, sample_sync_error="Stale object")
    assert any("Stale object" in c for c in checks)
    assert what_to_check([]) == []


def test_recovered_and_sync_not_running() -> None:
    _, blocks = recovered_message(
        rate=Decimal("0.07"),
        threshold=Decimal("0.1"),
        window_days=7,
        now=NOW,
        alerted_at=NOW - timedelta(days=2),
    )
    ok(blocks)
    assert "recovered: 7% over the last 7 days, under the 10% threshold" in texts(blocks)
    raised = int((NOW - timedelta(days=2)).timestamp())
    assert f"<!date^{raised}^{{date_short_pretty}} at {{time}}|12:00 UTC, 8 Nov 2026>" in texts(
        blocks
    )
    text2, blocks2 = sync_not_running_message(
        pending=14,
        pending_amount=Decimal("3000"),
        last_change_at=NOW - timedelta(hours=50),
        now=NOW,
    )
    ok(blocks2)
    d = texts(blocks2)
    assert "*14 payments* ($3,000.00) are waiting to sync" in d
    assert "(2d ago)" in d
    assert "Sync Now" in d
    assert "14 payments pending" in text2


def test_list_times_are_slack_date_tokens_with_a_utc_fallback() -> None:
    """Each reader sees "As of" in their own time zone; clients that cannot render the token
    (and notifications) read the UTC time."""
    _, blocks = list_page(
        [summary(1)], page=1, pages=1, total=1, total_amount=Decimal("1251"), filters="", now=NOW
    )
    ok(blocks)
    unix = 1_794_312_000  # 2026-11-10 12:00:00 UTC
    assert f"As of <!date^{unix}^{{date_short_pretty}} at {{time}}|12:00 UTC, 10 Nov 2026>." in (
        texts(blocks)
    )
    _, stats = stats_message(
        StatsReport(
            window_days=7, payments=10, failures=1, rate=Decimal("0.1"), threshold=Decimal("0.1")
        ),
        now=NOW,
    )
    assert f"As of <!date^{unix}^" in texts(stats)
