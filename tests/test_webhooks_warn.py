""" "About to fail" on a generated world (issue 17): pending ConnectBooster payments, changes
planted in the QBO stand-in's books (harmful and harmless), webhooks from the stand-in, the
bot's worker; then ConnectBooster's real sync runs and says which payments fail. Every payment
that fails was warned about before the sync; no warning for one that goes through."""

from __future__ import annotations

from decimal import Decimal

from bot.webhooks.intake import webhook_store
from bot.webhooks.worker import drain
from sandbox.cb import CBSandbox
from sandbox.qbo import QBOSandbox
from sandbox.scenarios.about_to_fail import (
    HARMFUL,
    PendingBooks,
    pending_world,
    plant,
    precision_recall,
    run_sync,
)
from sandbox.scenarios.world import World as ScenarioWorld
from tests.harness import FAILED_CHANNEL, world
from tests.test_remedies_e2e import eventually
from tests.test_webhooks import OVERRIDES, TOKEN


async def test_every_payment_about_to_fail_is_warned_before_the_sync(
    redis_url: str, redis_prefix: str
) -> None:
    made: list[PendingBooks] = []

    def populate(qbo: QBOSandbox, cb: CBSandbox) -> ScenarioWorld:
        made.append(pending_world(40, qbo, cb, seed=3))
        return made[0].world

    async with world(redis_url, redis_prefix, populate, bot_overrides=OVERRIDES) as w:
        w.slack.rate_limit_enabled = False
        books = made[0]
        sender = w.stand_ins.send_webhooks(f"{w.bot.url}/qbo/webhooks", TOKEN, fmt="alternate")
        planted = plant(books, seed=5)
        assert set(planted.values()) & set(HARMFUL)

        async def delivered() -> bool:
            return sender.idle()

        await eventually(delivered)
        await drain(w.services)
        store = webhook_store(w.services)
        warned = set()
        for pid in await store.warned_ids():
            state = await store.warning(pid)
            if state and not state.get("cleared"):
                warned.add(pid)
        assert all(books.world.cb.payments[p].sync.status.value == "pending" for p in warned)
        await sender.close()
        failed = {pid for pid, f in run_sync(books).items() if f}  # the sync runs only now
        precision, recall = precision_recall(warned, failed)
        print(
            f"about to fail: {len(failed)} failed, {len(warned)} warned, "
            f"precision {precision:.2f}, recall {recall:.2f}"
        )
        assert failed, "the planted world made some payments fail"
        assert recall == Decimal(1), sorted((planted[p], p) for p in failed - warned)
        assert precision == Decimal(1), sorted((planted[p], p) for p in warned - failed)
        posted = w.slack.messages(FAILED_CHANNEL)
        assert sum("About to fail" in str(m.blocks) for m in posted) == len(warned)
        assert all(
            "Prevent it" in str(m.blocks) for m in posted if "About to fail" in str(m.blocks)
        )
