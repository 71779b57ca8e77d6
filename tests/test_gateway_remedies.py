"""Remedies on failures found at the gateway, end to end (signed clicks through the Slack
stand-in, real QBO and gateway stand-ins, real Redis): Recreate writes to QuickBooks only
(the bot cannot reach the portal: the confirm says so), the next reconciliation finds the
bot's receipt and stays quiet; a refund at the gateway while the receipt stands is a card
whose remedy deletes that receipt, re-checked at click time."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from bot.models import Cause, FailureStatus, RemedyKind
from bot.poll import poll_once
from sandbox.gateway import transaction_id_for
from tests.harness import FAILED_CHANNEL, FINANCE_USER, World, world
from tests.test_gateway_mode import PATTERN, gateway_settings
from tests.test_remedies_e2e import click, until_status

FAST: dict[str, Any] = {"post_interval": 0, "check_alerts": False}


def by_cause(w: World, cause: str) -> str:
    [pid] = [p for p, c in w.scenario.expected.items() if c == cause]
    return f"gw-{transaction_id_for(pid)}"


async def test_recreate_on_a_gateway_failure_writes_to_quickbooks_only(
    redis_url: str, redis_prefix: str
) -> None:
    async with world(redis_url, redis_prefix, "all-causes", bots=0) as w:
        w.slack.rate_limit_enabled = False
        s = (await w.start_bot(**gateway_settings(w, gateway_invoice_pattern=PATTERN))).services
        await poll_once(s, **FAST)
        pid = by_cause(w, "recreated")
        rec = await s.store.get_failure(pid)
        assert rec is not None and rec.diagnosis is not None
        assert rec.diagnosis.cause is Cause.RECREATED
        plan = rec.plans[RemedyKind.RECREATE_PAYMENT]
        assert [wr.kind.value for wr in plan.writes] == ["qbo_create_payment"]
        assert any("ConnectBooster portal" in n for n in plan.notes)

        await click(w, rec, RemedyKind.RECREATE_PAYMENT)
        done = await until_status(w, pid, FailureStatus.RESOLVED)
        assert done.resolution is not None and done.resolution.how == "recreated"
        assert done.remedy is not None
        assert [st.name for st in done.remedy.steps] == ["qbo_create_payment"]
        [created] = [
            p for p in w.company.all("Payment") if f"[fp:{pid}]" in (p.get("PrivateNote") or "")
        ]
        assert created["TotalAmt"] == rec.payment.amount
        assert FINANCE_USER in created["PrivateNote"]

        again = await poll_once(s, **FAST)  # the bot's receipt is found: healthy, quiet
        assert pid not in again.new and pid not in again.updated
        assert pid.removeprefix("gw-") not in await s.store.watched_sales()
        top = [m for m in w.slack.all_messages(FAILED_CHANNEL) if m.thread_ts in (None, m.ts)]
        assert len(top) == 9  # nothing posted again


def synced_payments(w: World, n: int) -> list[Any]:
    """``n`` healthy portal payments (synced, one invoice), oldest first."""
    ok = [
        p
        for p in w.cb.payments.values()
        if p.sync.status.value == "synced"
        and len(p.applications) == 1
        and p.applications[0].amount > 100
    ]
    return sorted(ok, key=lambda p: p.paid_at)[:n]


async def test_a_refund_at_the_gateway_while_the_receipt_stands_is_a_card_and_its_remedy(
    redis_url: str, redis_prefix: str
) -> None:
    async with world(redis_url, redis_prefix, "all-causes", bots=0) as w:
        w.slack.rate_limit_enabled = False
        gw = w.stand_ins.gateway
        assert gw is not None
        s = (await w.start_bot(**gateway_settings(w, gateway_invoice_pattern=PATTERN))).services
        full, part, edited = synced_payments(w, 3)
        at = w.scenario.now - timedelta(minutes=5)
        gw.reverse(full.id, "refund", at)
        gw.reverse(part.id, "refund", at, Decimal("100.00"))
        gw.reverse(edited.id, "void", at)
        report = await poll_once(s, **FAST)
        refunded = {f"gw-{transaction_id_for(p.id)}" for p in (full, part, edited)}
        assert refunded <= set(report.new)
        recs = {r.payment_id: r for r in await s.store.get_failures(sorted(refunded))}
        r_full = recs[f"gw-{transaction_id_for(full.id)}"]
        r_part = recs[f"gw-{transaction_id_for(part.id)}"]
        r_edit = recs[f"gw-{transaction_id_for(edited.id)}"]
        for r in recs.values():
            assert r.diagnosis is not None and r.diagnosis.cause is Cause.REFUNDED
        assert r_full.payment.reference == full.reference and r_full.payment.amount == 0
        assert r_full.diagnosis.certainty.value == "certain"
        plan = r_full.plans[RemedyKind.DELETE_RECEIPT]
        receipt_id = full.sync.qb_payment_id
        assert [(wr.kind.value, wr.target_id) for wr in plan.writes] == [
            ("qbo_delete_payment", receipt_id)
        ]
        assert plan.recorded_after == 0 == plan.amount  # the books equation: A is $0 now
        # a partial refund: the card says how much, no one-click write
        assert r_part.diagnosis.certainty.value == "likely"
        assert RemedyKind.DELETE_RECEIPT not in r_part.diagnosis.remedies
        assert r_part.payment.amount == part.amount - Decimal("100.00")

        await click(w, r_full, RemedyKind.DELETE_RECEIPT)
        done = await until_status(w, r_full.payment_id, FailureStatus.RESOLVED)
        assert w.company.get("Payment", str(receipt_id)) is None
        assert done.resolution is not None and done.resolution.how == "receipt-deleted"
        assert done.resolution.by == FINANCE_USER
        assert done.remedy is not None
        [step] = done.remedy.steps
        assert step.name == "qbo_delete_receipt" and step.request_id

        # re-checked at click time: the receipt changed after the card was drawn → not written
        edited_id = str(edited.sync.qb_payment_id)
        before = w.company.get("Payment", edited_id)
        assert before is not None
        w.company.update("Payment", {**before, "PrivateNote": "edited by hand"})
        seen = len(w.slack.ephemeral(FINANCE_USER))
        await click(w, r_edit, RemedyKind.DELETE_RECEIPT)
        await w.slack.wait_until(lambda: len(w.slack.ephemeral(FINANCE_USER)) > seen)
        assert "nothing was written" in w.slack.ephemeral(FINANCE_USER)[-1].text
        assert w.company.get("Payment", edited_id) is not None  # nothing deleted
        fresh = await s.store.get_failure(r_edit.payment_id)
        assert fresh is not None and fresh.status is FailureStatus.OPEN

        later = await poll_once(s, **FAST)  # the fully refunded sale is now right: quiet
        assert r_full.payment_id not in later.new + later.updated
        watched = await s.store.watched_sales()
        assert r_full.payment_id.removeprefix("gw-") not in watched


PORTAL = "https://acme.connectbooster.example/portal"


async def test_without_the_contract_dismiss_becomes_the_portal_link_and_done_in_the_portal(
    redis_url: str, redis_prefix: str
) -> None:
    async with world(redis_url, redis_prefix, "all-causes", bots=0) as w:
        w.slack.rate_limit_enabled = False
        settings = gateway_settings(w, gateway_invoice_pattern=PATTERN, cb_portal_url=PORTAL)
        s = (await w.start_bot(**settings)).services
        await poll_once(s, **FAST)
        pid = by_cause(w, "paid-manually")
        rec = await s.store.get_failure(pid)
        assert rec is not None and rec.slack is not None
        msg = w.slack.message(FAILED_CHANNEL, rec.slack.ts)
        elements = [e for b in msg.blocks if b["type"] == "actions" for e in b["elements"]]
        link = next(e for e in elements if e["action_id"] == "fp_open_portal")
        assert link["url"] == PORTAL and link["text"]["text"] == "Open in ConnectBooster"
        done_button = next(e for e in elements if e["action_id"] == "fp_portal_done")
        assert "cannot see the portal" in done_button["confirm"]["text"]["text"]
        assert not any(e["action_id"] in ("fp_dismiss_sync", "fp_delete_history") for e in elements)
        assert "is not offered" not in str(msg.blocks)  # the buttons say it, not a refusal line

        resp = await w.slack.click(  # the link's click only needs an ack
            w.bot.events_url,
            message_ts=rec.slack.ts,
            channel=rec.slack.channel,
            action_id="fp_open_portal",
            user_id=FINANCE_USER,
        )
        assert resp.status == 200
        outsider = await w.slack.click(
            w.bot.events_url,
            message_ts=rec.slack.ts,
            channel=rec.slack.channel,
            action_id="fp_portal_done",
            user_id="U0OUTSIDER",
        )
        assert outsider.status == 200
        still = await s.store.get_failure(pid)
        assert still is not None and still.status is FailureStatus.OPEN

        await w.slack.click(
            w.bot.events_url,
            message_ts=rec.slack.ts,
            channel=rec.slack.channel,
            action_id="fp_portal_done",
            user_id=FINANCE_USER,
        )
        done = await until_status(w, pid, FailureStatus.RESOLVED, remedy=False)
        assert done.resolution is not None and done.resolution.how == "portal"
        assert done.resolution.by == FINANCE_USER
        text = str(w.slack.message(FAILED_CHANNEL, rec.slack.ts).blocks)
        assert "Dismissed in the ConnectBooster portal" in text and f"<@{FINANCE_USER}>" in text
        assert "the bot cannot see the portal" in text
        audit = await s.store.audit_entries(20)
        assert any(a.action == "portal_done" and a.user == FINANCE_USER for a in audit)
        assert any(a.action == "portal_done" and a.result == "refused" for a in audit)

        again = await poll_once(s, **FAST)  # still no receipt, but a person dealt with it
        assert pid not in again.new + again.updated
        kept = await s.store.get_failure(pid)
        assert kept is not None and kept.status is FailureStatus.RESOLVED


async def test_recheck_reads_the_gateway_and_quickbooks_again(
    redis_url: str, redis_prefix: str
) -> None:
    async with world(redis_url, redis_prefix, "all-causes", bots=0) as w:
        w.slack.rate_limit_enabled = False
        gw = w.stand_ins.gateway
        assert gw is not None
        s = (await w.start_bot(**gateway_settings(w, gateway_invoice_pattern=PATTERN))).services
        [part] = synced_payments(w, 1)
        gw.reverse(part.id, "refund", w.scenario.now - timedelta(minutes=5), Decimal("10.00"))
        await poll_once(s, **FAST)
        pid = f"gw-{transaction_id_for(part.id)}"
        rec = await s.store.get_failure(pid)
        assert rec is not None and rec.status is FailureStatus.OPEN
        # still standing: Re-check changes nothing
        await click(w, rec, RemedyKind.RECHECK)
        await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER)))
        same = await s.store.get_failure(pid)
        assert same is not None and same.status is FailureStatus.OPEN
        # a person deletes the receipt (and records the $10 less by hand elsewhere): resolved
        w.company.delete("Payment", str(part.sync.qb_payment_id))
        await click(w, rec, RemedyKind.RECHECK)
        done = await until_status(w, pid, FailureStatus.RESOLVED, remedy=False)
        assert done.resolution is not None
