"""``POST /qbo/webhooks`` end to end (issue 17): signed deliveries to the bot's own HTTP app,
the events kept in a real Redis stream, the worker run batch by batch, the QBO stand-in's books
changed by hand, the card read back from the Slack stand-in."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from bot.store.webhooks import WebhookStore
from bot.webhooks.payload import sign
from bot.webhooks.worker import drain
from tests.harness import REALM, World, world
from tests.test_remedies_e2e import message_text, record, seed

TOKEN = "verifier-token-for-tests"
OVERRIDES = {"qbo_webhook_verifier_token": TOKEN}


def cloud_event(
    entity: str, entity_id: str, verb: str = "updated", *, realm: str = REALM, eid: str = ""
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": eid or str(uuid.uuid4()),
        "source": "intuit.dsnBgbseACLLRZNxo2dfc4evmEJdxde58xeeYcZliOU=",
        "type": f"qbo.{entity.lower()}.{verb}.v1",
        "datacontenttype": "application/json",
        "time": datetime.now(UTC).isoformat(),
        "intuitentityid": entity_id,
        "intuitaccountid": realm,
        "data": {},
    }


async def deliver(
    w: World, body: Any, *, signature: str | None = "sign", raw: bytes | None = None
) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if signature == "sign":
        headers["intuit-signature"] = sign(TOKEN, data)
    elif signature is not None:
        headers["intuit-signature"] = signature
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{w.bot.url}/qbo/webhooks", data=data, headers=headers) as r,
    ):
        return r.status, await r.json()


def wstore(w: World) -> WebhookStore:
    return WebhookStore(w.services.store.redis, w.services.store.prefix)


@pytest.fixture
async def cm_world(redis_url: str, redis_prefix: str):  # type: ignore[no-untyped-def]
    async with world(redis_url, redis_prefix, "credit-memo", bot_overrides=OVERRIDES) as w:
        yield w


async def test_forged_or_missing_signature_is_refused_and_nothing_kept(cm_world: World) -> None:
    body = [cloud_event("Invoice", "1")]
    for sig in (None, "", "bm90IGEgc2lnbmF0dXJl", sign("another-token", json.dumps(body).encode())):
        status, answer = await deliver(cm_world, body, signature=sig)
        assert status == 401, sig
        assert "signature" in answer["error"]
    assert await cm_world.services.redis.exists(wstore(cm_world).stream) == 0


async def test_malformed_body_is_400_and_the_app_keeps_serving(cm_world: World) -> None:
    for raw in (b"not json", b"{}", b'[{"specversion": "1.0"}]', b'{"eventNotifications": 3}'):
        status, answer = await deliver(cm_world, None, raw=raw, signature=sign(TOKEN, raw))
        assert status == 400, raw
        assert answer["error"]
    assert await cm_world.services.redis.exists(wstore(cm_world).stream) == 0
    status, answer = await deliver(cm_world, [cloud_event("Invoice", "1")])
    assert (status, answer["kept"]) == (200, 1)
    async with aiohttp.ClientSession() as s, s.get(f"{cm_world.bot.url}/livez") as r:
        assert r.status == 200


async def test_both_formats_kept_other_companies_ignored(cm_world: World) -> None:
    legacy = {
        "eventNotifications": [
            {
                "realmId": REALM,
                "dataChangeEvent": {
                    "entities": [
                        {
                            "name": "Invoice",
                            "id": "7",
                            "operation": "Update",
                            "lastUpdated": "2026-11-03T14:05:00.000Z",
                        }
                    ]
                },
            },
            {
                "realmId": "999",
                "dataChangeEvent": {
                    "entities": [{"name": "Invoice", "id": "7", "operation": "Delete"}]
                },
            },
        ]
    }
    assert (await deliver(cm_world, legacy))[1] == {"ok": True, "kept": 1, "ignored": 1}
    mixed = [cloud_event("Payment", "3", "created"), cloud_event("Invoice", "8", realm="42")]
    assert (await deliver(cm_world, mixed))[1] == {"ok": True, "kept": 1, "ignored": 1}
    assert await wstore(cm_world).backlog() == 2
    assert await drain(cm_world.services) == 2
    assert await wstore(cm_world).backlog() == 0


async def test_replayed_event_is_processed_once(cm_world: World) -> None:
    ev = cloud_event("Invoice", "1", eid="replayed-event-1")
    for _ in range(3):
        assert (await deliver(cm_world, [ev, ev]))[0] == 200
    assert await drain(cm_world.services) == 1
    assert (await deliver(cm_world, [ev]))[0] == 200  # a retry days later
    assert await drain(cm_world.services) == 0


def _cm_facts(w: World) -> tuple[str, str, str]:
    """The credit-memo failure's payment id, its $0 payment and its credit memo."""
    assert w.scenario is not None
    [pid] = [p for p, c in w.scenario.expected.items() if c == "credit-memo"]
    zero = [p for p in w.company.all("Payment") if p["TotalAmt"] == 0 and p.get("Line")]
    memo = [
        lt["TxnId"]
        for ln in zero[0]["Line"]
        for lt in ln["LinkedTxn"]
        if lt["TxnType"] == "CreditMemo"
    ]
    return pid, zero[0]["Id"], memo[0]


async def test_credit_memo_unapplied_by_hand_redraws_the_card(cm_world: World) -> None:
    recs = await seed(cm_world, ["credit-memo"])
    rec = recs["credit-memo"]
    pid, zero_id, _memo = _cm_facts(cm_world)
    assert "Credit memo applied" in message_text(cm_world, rec)
    cm_world.company.delete("Payment", zero_id)  # the bookkeeper unapplies it by hand
    assert (await deliver(cm_world, [cloud_event("Payment", zero_id, "deleted")]))[0] == 200
    assert await drain(cm_world.services) == 1
    shown = message_text(cm_world, rec)
    assert "is gone" in shown
    assert "ConnectBooster's next sync should record the payment" in shown
    after = await record(cm_world, pid)
    assert after.diagnosis is not None and after.diagnosis.cause.value == "unknown"
    assert any("QuickBooks changed" in h.what for h in after.history)


async def test_out_of_order_events_final_state_wins(cm_world: World) -> None:
    recs = await seed(cm_world, ["credit-memo"])
    rec = recs["credit-memo"]
    pid, zero_id, _memo = _cm_facts(cm_world)
    zero = cm_world.company.get("Payment", zero_id)
    assert zero is not None
    cm_world.company.delete("Payment", zero_id)  # unapplied ...
    first = cloud_event("Payment", zero_id, "deleted")
    again = cm_world.company.create("Payment", {k: v for k, v in zero.items() if k != "Id"})
    second = cloud_event("Payment", again["Id"], "created")  # ... and applied again
    # the later change arrives first, the earlier one after it
    assert (await deliver(cm_world, [second]))[0] == 200
    assert await drain(cm_world.services) == 1
    assert (await deliver(cm_world, [first]))[0] == 200
    assert await drain(cm_world.services) == 1
    after = await record(cm_world, pid)
    assert after.diagnosis is not None and after.diagnosis.cause.value == "credit-memo"
    assert "is gone" not in message_text(cm_world, rec)


async def test_recreated_receipt_deleted_by_hand_gets_a_note_in_the_thread(
    cm_world: World,
) -> None:
    from bot.models import (
        FailureStatus,
        RemedyJournal,
        RemedyKind,
        RemedyStep,
        Resolution,
        ResolutionHow,
        StepState,
    )
    from bot.webhooks.index import refresh_index

    rec = (await seed(cm_world, ["credit-memo"]))["credit-memo"]
    await refresh_index(cm_world.services, wstore(cm_world))  # indexed while open
    receipt = next(p for p in cm_world.company.all("Payment") if p["TotalAmt"] > 0)["Id"]
    # the state a Recreate remedy leaves (made here directly: the remedy has its own tests)
    rec.status = FailureStatus.RESOLVED
    rec.resolution = Resolution(how=ResolutionHow.RECREATED, by="U0FINANCE1")
    rec.remedy = RemedyJournal(
        kind=RemedyKind.RECREATE_PAYMENT,
        user="U0FINANCE1",
        steps=[
            RemedyStep(
                name="qbo_create_payment", state=StepState.DONE, result={"qbo_payment_id": receipt}
            )
        ],
    )
    await cm_world.services.store.put_failure(rec)
    cm_world.company.delete("Payment", receipt)
    ev = cloud_event("Payment", receipt, "deleted")
    assert (await deliver(cm_world, [ev]))[0] == 200
    assert await drain(cm_world.services) == 1
    assert rec.slack is not None
    thread = cm_world.slack.thread(rec.slack.channel, rec.slack.ts)
    notes = [m for m in thread if "deleted in QuickBooks by hand" in (m.text or "")]
    assert len(notes) == 1 and f"payment {receipt}" in notes[0].text
    assert (await deliver(cm_world, [cloud_event("Payment", receipt, "deleted")]))[0] == 200
    assert await drain(cm_world.services) == 1
    thread = cm_world.slack.thread(rec.slack.channel, rec.slack.ts)
    assert sum("deleted in QuickBooks by hand" in (m.text or "") for m in thread) == 1


async def test_webhook_port_app_serves_the_webhook_alone(cm_world: World) -> None:
    """A Socket Mode bot's ``WEBHOOK_PORT`` app: the webhook route and nothing else."""
    from handlers.webhooks import webhook_app
    from sandbox.serving import serve

    runner, url = await serve(webhook_app(cm_world.services))
    try:
        body = json.dumps([cloud_event("Invoice", "1")]).encode()
        async with aiohttp.ClientSession() as s:
            headers = {"intuit-signature": sign(TOKEN, body)}
            async with s.post(f"{url}/qbo/webhooks", data=body, headers=headers) as r:
                assert r.status == 200
            async with s.post(f"{url}/qbo/webhooks", data=body) as r:
                assert r.status == 401
            async with s.get(f"{url}/livez") as r:
                assert r.status == 404
    finally:
        await runner.cleanup()
    assert await wstore(cm_world).backlog() == 1


async def test_webhook_port_must_differ_from_port(cm_world: World) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="WEBHOOK_PORT must differ"):
        cm_world.settings(port=3199, webhook_port=3199)
    assert cm_world.settings(port=3199, webhook_port=3198).webhook_port == 3198
