"""Remedies on failures found at the gateway, end to end (signed clicks through the Slack
stand-in, real QBO and gateway stand-ins, real Redis): Recreate writes to QuickBooks only
(the bot cannot reach the portal: the confirm says so), the next reconciliation finds the
bot's receipt and stays quiet; a refund at the gateway while the receipt stands is a card
whose remedy deletes that receipt, re-checked at click time."""

from __future__ import annotations

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
