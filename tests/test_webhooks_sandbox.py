"""The QBO stand-in sends webhooks when its books change (both formats, signed, retried on
Intuit's schedule, duplicated and reordered on demand) and the running bot follows: the card
changes when the books do, without a click. Downtime: a bot that was stopped while the books
changed puts its cards right at start-up, with no webhook at all (the CDC catch-up)."""

from __future__ import annotations

from bot.webhooks.catchup import catch_up
from bot.webhooks.intake import webhook_store
from bot.webhooks.worker import run_worker
from sandbox.qbo.webhooks import INTUIT_RETRY_SCHEDULE
from tests.harness import world
from tests.test_remedies_e2e import eventually, message_text, record, seed
from tests.test_webhooks import OVERRIDES, TOKEN, _cm_facts


async def test_books_panel_change_redraws_the_card_through_stand_in_webhooks(
    redis_url: str, redis_prefix: str
) -> None:
    async with world(redis_url, redis_prefix, "credit-memo", bot_overrides=OVERRIDES) as w:
        rec = (await seed(w, ["credit-memo"]))["credit-memo"]
        pid, zero_id, _memo = _cm_facts(w)
        sender = w.stand_ins.send_webhooks(
            f"{w.bot.url}/qbo/webhooks", TOKEN, fmt="alternate", duplicate=True, reorder=True
        )
        w.services.start_background(run_worker(w.services, block_ms=50), name="qbo-webhooks")
        w.company.delete("Payment", zero_id)
        await w.slack.wait_until(lambda: "is gone" in message_text(w, rec), within=10)
        assert sender.stats.acknowledged >= 2  # sent twice, both answered 200
        assert set(sender.stats.statuses) == {200}
        after = await record(w, pid)
        assert sum("QuickBooks changed" in h.what for h in after.history) == 1  # once


async def test_unacknowledged_deliveries_are_retried_in_order(
    redis_url: str, redis_prefix: str
) -> None:
    async with world(redis_url, redis_prefix, "credit-memo", bot_overrides=OVERRIDES) as w:
        sender = w.stand_ins.send_webhooks(
            f"{w.bot.url}/qbo/webhooks", "not-the-verifier-token", time_scale=0.0005, window=0
        )
        inv = w.company.all("Invoice")[0]
        w.company.update("Invoice", {**inv, "PrivateNote": "first"})
        w.company.update("Invoice", {**w.company.get("Invoice", inv["Id"]), "PrivateNote": "2nd"})
        store = webhook_store(w.services)

        async def retried() -> bool:
            return sender.stats.retries >= 3

        await eventually(retried)
        assert sender.stats.retries >= 3 and sender.stats.acknowledged == 0
        assert set(sender.stats.statuses) == {401}
        assert await store.backlog() == 0  # nothing kept from a refused delivery
        sender.verifier_token = TOKEN  # the operator fixes the token: the retries get through

        async def through() -> bool:
            return len(sender.sent) >= 2

        await eventually(through)
        assert [c.operation for c in sender.sent] == ["Update", "Update"]
        assert sender.sent[0].at <= sender.sent[1].at  # the second waited behind the first
        assert await store.backlog() == 2
    assert INTUIT_RETRY_SCHEDULE[:3] == (10.0, 20.0, 30.0)


async def test_downtime_cards_right_without_any_webhook(redis_url: str, redis_prefix: str) -> None:
    async with world(redis_url, redis_prefix, "credit-memo", bot_overrides=OVERRIDES) as w:
        rec = (await seed(w, ["credit-memo"]))["credit-memo"]
        pid, zero_id, _memo = _cm_facts(w)
        assert await catch_up(w.services, webhook_store(w.services)) is None  # first start
        await w.stop_bot(w.bot)  # the bot is down ...
        w.company.delete("Payment", zero_id)  # ... while the books change; no webhook
        bot = await w.start_bot(**OVERRIDES)
        done = await catch_up(bot.services, webhook_store(bot.services))
        assert done is not None and pid in done.followed
        assert "is gone" in message_text(w, rec)
        after = await record(w, pid)
        assert after.diagnosis is not None and after.diagnosis.cause.value == "unknown"
        # a second start changes nothing more
        again = await catch_up(bot.services, webhook_store(bot.services))
        assert again is not None and not again.followed


async def test_daily_reconciliation_redraws_only_what_changed(
    redis_url: str, redis_prefix: str
) -> None:
    from bot.webhooks.catchup import reconcile, reconcile_if_due

    async with world(redis_url, redis_prefix, "credit-memo", bot_overrides=OVERRIDES) as w:
        rec = (await seed(w, ["credit-memo"]))["credit-memo"]
        pid, zero_id, _memo = _cm_facts(w)
        store = webhook_store(w.services)
        assert await reconcile_if_due(w.services, store) is None  # a first start: noted only
        assert await reconcile_if_due(w.services, store) is None  # not due for a day
        quiet = await reconcile(w.services, store)
        assert quiet.followed == set()  # nothing changed: no card touched
        w.company.delete("Payment", zero_id)  # no webhook for this one
        done = await reconcile(w.services, store)
        assert done.followed == {pid}
        assert "is gone" in message_text(w, rec)
