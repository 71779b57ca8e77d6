"""Gateway mode end to end: the bot without the ConnectBooster contract, finding failed
transfers from the gateway stand-in and QuickBooks (both over real HTTP, state in a real
Redis), on the all-causes world — compared with what the contract shows.

Differences from contract mode, by design (asserted below):

- ``already-in-qbo`` (ConnectBooster lost QuickBooks' answer and retried): the ``CB…`` receipt
  *is* in QuickBooks, so the gateway reconciliation sees a healthy payment. The books are
  right; only ConnectBooster's own sync state is stale, which the gateway cannot show.
- ``inactive-customer`` is ``likely`` rather than ``certain``: certainty came from QuickBooks'
  own rejection text, which only ConnectBooster's sync attempt receives.
- the old failure already dismissed in the portal is a "paid manually" card again: the bot
  cannot see the portal, so it stays until someone records it was dismissed there.
- without ``GATEWAY_INVOICE_PATTERN`` the gateway does not say which invoices a sale paid:
  the causes that remove or change the invoice (deleted, recreated, voided, amount changed)
  are found as failures with cause ``unknown`` (likely) and Recreate asks which invoices.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from bot.diagnosis import diagnose, fetch_facts
from bot.errors import describe_error, log_reason
from bot.models import Cause, Certainty, Diagnosis
from bot.poll import poll_once
from bot.runtime.services import Services
from cb.models import SyncStatus
from gateway import AuthenticationFailed, GatewayClient, MalformedResponse, RateLimited
from sandbox.gateway import transaction_id_for
from tests.harness import FAILED_CHANNEL, World, world

FAST: dict[str, Any] = {"post_interval": 0, "check_alerts": False}
PATTERN = r"(\d{4,})"


def gateway_settings(w: World, **more: Any) -> dict[str, Any]:
    gw = w.stand_ins.gateway
    assert gw is not None
    return {
        "cb_base_url": None,
        "cb_api_key": None,
        "gateway_url": f"{w.stand_ins.gateway_url}/api/query.php",
        "gateway_security_key": gw.security_key,
        **more,
    }


def gw_id(payment_id: str) -> str:
    return f"gw-{transaction_id_for(payment_id)}"


async def contract_view(w: World, s: Services) -> dict[str, Diagnosis]:
    """What contract mode finds: ConnectBooster's failed payments, diagnosed."""
    failed = [p for p in w.cb.payments.values() if p.sync.status == SyncStatus.FAILED]
    facts = await fetch_facts(s.qbo, failed)
    return {p.id: diagnose(p, facts) for p in failed}


async def open_records(s: Services) -> dict[str, Any]:
    return {r.payment_id: r for r in await s.store.get_failures(await s.store.open_ids())}


async def test_gateway_mode_finds_every_contract_failure_with_its_cause(
    redis_url: str, redis_prefix: str
) -> None:
    async with world(redis_url, redis_prefix, "all-causes", bots=0) as w:
        w.slack.rate_limit_enabled = False
        bot = await w.start_bot(**gateway_settings(w, gateway_invoice_pattern=PATTERN))
        s = bot.services
        assert s.cb is None and s.gateway is not None
        contract = await contract_view(w, s)
        assert len(contract) == 9

        report = await poll_once(s, **FAST)
        found = await open_records(s)

        differs: dict[str, tuple[str, str]] = {}
        for pid, d in contract.items():
            if d.cause is Cause.ALREADY_IN_QBO:
                assert gw_id(pid) not in found  # the receipt is in QuickBooks: healthy
                continue
            rec = found.pop(gw_id(pid))
            assert rec.diagnosis is not None
            assert rec.diagnosis.cause is d.cause, pid
            if rec.diagnosis.certainty is not d.certainty:
                differs[d.cause.value] = (d.certainty.value, rec.diagnosis.certainty.value)
        assert differs == {"inactive-customer": ("certain", "likely")}
        # the only other card: the old failure dismissed in the portal, paid by hand
        [(extra_id, extra)] = found.items()
        dismissed = [p for p in w.cb.payments.values() if p.sync.status == SyncStatus.DISMISSED]
        assert [gw_id(p.id) for p in dismissed] == [extra_id]
        assert extra.diagnosis.cause is Cause.PAID_MANUALLY
        # no healthy payment flagged: every card is a payment ConnectBooster could not sync
        synced = {gw_id(p.id) for p in w.cb.payments.values() if p.sync.status == SyncStatus.SYNCED}
        assert not synced & set(report.new)
        assert len(report.new) == 9
        # the same cards, with the gateway's evidence line
        texts = [str(m.blocks) for m in w.slack.all_messages(FAILED_CHANNEL)]
        assert len(texts) == 9
        assert all("no ConnectBooster receipt in QuickBooks" in t for t in texts)
        assert all("The gateway shows: transaction" in t for t in texts)
        assert not any("QuickBooks rejected" in t or "QuickBooks said" in t for t in texts)

        again = await poll_once(s, **FAST)  # nothing posted twice; the watch keeps them open
        assert again.new == [] and len(w.slack.all_messages(FAILED_CHANNEL)) == 9
        assert len(await s.store.watched_sales()) >= 9


async def test_without_the_invoice_pattern_every_failure_is_still_found(
    redis_url: str, redis_prefix: str
) -> None:
    async with world(redis_url, redis_prefix, "all-causes", bots=0) as w:
        w.slack.rate_limit_enabled = False
        assert w.stand_ins.gateway is not None
        w.stand_ins.gateway.order_style = "none"  # the gateway says nothing of invoices
        s = (await w.start_bot(**gateway_settings(w))).services
        contract = await contract_view(w, s)
        await poll_once(s, **FAST)
        found = await open_records(s)
        for pid, d in contract.items():
            if d.cause is Cause.ALREADY_IN_QBO:
                continue
            rec = found[gw_id(pid)]
            if d.cause in (Cause.PAID_MANUALLY, Cause.CREDIT_MEMO, Cause.INACTIVE_CUSTOMER):
                assert rec.diagnosis.cause is d.cause  # the open balances then still add up
            else:
                assert rec.diagnosis.cause is Cause.UNKNOWN, d.cause
                assert rec.diagnosis.certainty is Certainty.LIKELY
                assert "Recreate asks" in (rec.diagnosis.sync_error_message or "")
        assert len(found) == 9  # 8 of the contract's + the dismissed one; nothing healthy


@pytest.mark.parametrize("bad", ["auth", "malformed", "storm"])
async def test_bad_gateway_answers_lose_nothing_and_flag_nothing(
    redis_url: str, redis_prefix: str, bad: str
) -> None:
    async with world(redis_url, redis_prefix, "all-causes", bots=0) as w:
        w.slack.rate_limit_enabled = False
        gw = w.stand_ins.gateway
        assert gw is not None
        s = (await w.start_bot(**gateway_settings(w, gateway_invoice_pattern=PATTERN))).services
        sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        assert s.gateway is not None
        s.gateway = GatewayClient(
            s.sessions[-1],
            url=s.gateway.url,
            security_key=SecretStr(gw.security_key),
            sleep=sleep,
            rng=random.Random(3),
        )
        expected: type[Exception]
        if bad == "auth":
            gw.inject("error:Authentication Failed")
            expected, words = AuthenticationFailed, "refused the bot's security key"
        elif bad == "malformed":
            gw.inject("malformed")
            expected, words = MalformedResponse, "could not be read"
        else:
            gw.inject(*["429"] * 40)
            expected, words = RateLimited, "did not answer"
        with pytest.raises(expected) as err:
            await poll_once(s, **FAST)
        line = log_reason(err.value)
        assert line.startswith("Gateway: ") and gw.security_key not in line
        assert words in describe_error(err.value)  # what a person reads
        if bad == "storm":
            assert len(sleeps) == 4 and min(sleeps) >= 0.5  # backed off, never at once
        # nothing flagged, nothing posted, the cursor did not move
        assert await s.store.open_ids() == []
        assert w.slack.all_messages(FAILED_CHANNEL) == []
        assert await s.store.gateway_cursor() is None
        gw.clear_injected()  # the gateway answers again: everything is found, once
        report = await poll_once(s, **FAST)
        assert len(report.new) == 9


async def test_beside_the_contract_the_gateway_adds_only_what_the_contract_cannot_show(
    redis_url: str, redis_prefix: str
) -> None:
    async with world(redis_url, redis_prefix, "all-causes", bots=0) as w:
        w.slack.rate_limit_enabled = False
        gw = w.stand_ins.gateway
        assert gw is not None
        both = {k: v for k, v in gateway_settings(w).items() if not k.startswith("cb_")}
        s = (await w.start_bot(**both, gateway_invoice_pattern=PATTERN)).services
        assert s.cb is not None and s.gateway is not None
        synced = sorted(
            (p for p in w.cb.payments.values() if p.sync.status == SyncStatus.SYNCED),
            key=lambda p: p.paid_at,
        )[0]
        gw.reverse(synced.id, "void", w.scenario.now - timedelta(minutes=3))
        report = await poll_once(s, **FAST)
        # the contract's nine failures under their own ids, plus the refund: nothing twice
        assert set(report.new) == w.scenario.failed_ids | {gw_id(synced.id)}
        refund = await s.store.get_failure(gw_id(synced.id))
        assert refund is not None and refund.diagnosis is not None
        assert refund.diagnosis.cause is Cause.REFUNDED
        again = await poll_once(s, **FAST)
        assert again.new == [] and gw_id(synced.id) in await s.store.open_ids()
