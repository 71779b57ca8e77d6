""" "About to fail" without the ConnectBooster contract (issue 17 in gateway mode): the
gateway's sales inside the transfer grace period, watched by the gateway reconciliation, are
the pending payments. An invoice of one of them paid by hand in the QBO stand-in (a webhook
delivered to the bot, the worker settling it) posts the warning before ConnectBooster's sync
runs and fails; a harmless change (a note on the invoice) warns about nothing. Beside the
contract, the same sale is the contract's pending payment: warned about once, by its id."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.reconcile.pending import pending_from_gateway
from bot.reconcile.run import reconcile_gateway
from bot.webhooks.catchup import reconcile
from bot.webhooks.intake import webhook_store
from bot.webhooks.worker import drain
from cb.models import SyncStatus
from sandbox.cb import CBSandbox
from sandbox.qbo import QBOSandbox
from sandbox.scenarios.about_to_fail import PendingBooks, pending_world, run_sync
from sandbox.scenarios.world import World as ScenarioWorld
from tests.harness import FAILED_CHANNEL, world
from tests.test_gateway_mode import PATTERN, gateway_settings, gw_id
from tests.test_remedies_e2e import eventually
from tests.test_webhooks import OVERRIDES, TOKEN


@pytest.mark.parametrize("contract", [False, True], ids=["gateway-only", "both-sources"])
async def test_a_sale_in_its_grace_period_paid_by_hand_is_warned_before_it_fails(
    redis_url: str, redis_prefix: str, contract: bool
) -> None:
    made: list[PendingBooks] = []

    def populate(qbo: QBOSandbox, cb: CBSandbox) -> ScenarioWorld:
        made.append(pending_world(4, qbo, cb, seed=3))
        return made[0].world

    async with world(redis_url, redis_prefix, populate, bots=0) as w:
        w.slack.rate_limit_enabled = False
        books = made[0]
        settings = gateway_settings(w, gateway_invoice_pattern=PATTERN, **OVERRIDES)
        if contract:
            settings = {k: v for k, v in settings.items() if not k.startswith("cb_")}
        s = (await w.start_bot(**settings)).services
        assert (s.cb is not None) is contract and s.gateway is not None
        assert await pending_from_gateway(s) == []  # nothing watched yet

        rec = await reconcile_gateway(s)  # the sales are watched, waiting for their grace
        assert not rec.flagged
        pending = {p.id: p for p in await pending_from_gateway(s)}
        ids = sorted(books.customers)
        assert set(pending) == {gw_id(pid) for pid in ids}
        assert all(p.sync.status is SyncStatus.PENDING for p in pending.values())
        for pid in ids:  # the invoices the contract shows, found from the gateway
            mine = {a.qb_invoice_id for a in books.world.cb.payments[pid].applications}
            assert {a.qb_invoice_id for a in pending[gw_id(pid)].applications} == mine
        if contract:  # every sale is one of the contract's pending payments: none twice
            assert s.cb is not None
            listed = [p async for p in s.cb.list_payments(sync_status="pending", limit=500)]
            assert {p.id for p in listed} == set(ids)
            assert await pending_from_gateway(s, beside=listed) == []

        harmful, harmless = ids[0], ids[1]
        co = books.world.company
        sender = w.stand_ins.send_webhooks(f"{w.bot.url}/qbo/webhooks", TOKEN, fmt="alternate")
        at = co.clock()
        inv = co.get("Invoice", books.world.cb.payments[harmful].applications[0].qb_invoice_id)
        assert inv is not None
        books.seeder.pay_manually(books.customers[harmful], inv, at)
        other = co.get("Invoice", books.world.cb.payments[harmless].applications[0].qb_invoice_id)
        assert other is not None
        body = {"Id": other["Id"], "SyncToken": other["SyncToken"], "PrivateNote": "checked"}
        co.update("Invoice", body, at=at + timedelta(seconds=1))

        async def delivered() -> bool:
            return sender.idle()

        await eventually(delivered)
        await drain(s)
        await sender.close()
        store = webhook_store(s)
        warned = {pid for pid in await store.warned_ids() if await store.warning(pid)}
        assert warned == {harmful if contract else gw_id(harmful)}
        posted = [m for m in w.slack.messages(FAILED_CHANNEL) if "About to fail" in str(m.blocks)]
        assert len(posted) == 1
        assert ("gateway #" in str(posted[0].blocks)) is not contract

        done = await reconcile(s, store)  # the daily reconciliation reads the same pending
        assert done.warned == warned
        assert (
            len([m for m in w.slack.messages(FAILED_CHANNEL) if "About to" in str(m.blocks)]) == 1
        )

        failed = {pid for pid, f in run_sync(books).items() if f}  # the sync runs only now
        assert failed == {harmful}
