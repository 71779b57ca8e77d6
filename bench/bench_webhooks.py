"""QuickBooks webhooks under load (issue 17), in one process on loopback.

    python -m bench.bench_webhooks [--events 1000] [--seconds 60] [--edits 50]

The QBO, ConnectBooster and Slack stand-ins (the ``all-causes`` world: its failures diagnosed
and posted first, as the poller does) and the bot built by ``app.py``'s builders in HTTP mode
on a real Redis, its webhook worker running.

1. **Intake**: ``--events`` signed CloudEvents deliveries (one event each, about 5 % of them
   sent twice, as Intuit repeats) spread evenly over ``--seconds``, on entities of the books
   (invoices, payments, customers). Latency is from sending the request to having the bot's
   whole answer. Then the stream is drained and the worker's counters read: every event id
   processed once, the repeats counted as repeats.
2. **Change to card**: ``--edits`` edits of an open failure's invoice in the QBO stand-in
   (a cent line added: its balance, which the card shows, changes), one after another; the
   stand-in sends its webhook; the time is from the edit to the card's new version in the
   Slack stand-in (Slack's rate limits off in the stand-in).

Targets: every webhook answered 200, p99 under 100 ms; each event processed once; change to
redrawn card p99 under 5 s. QuickBooks' 40 batch calls a minute are scaled up as in the other
benchmarks (``bench.common.scale_qbo_batch_limit``): the seeding diagnoses in bulk, and an
"about to fail" assessment reads in batches (a re-diagnosis uses plain queries).
Everything shares the process (and the machine), so the figures
are an upper bound. Writes ``.bench-results/webhooks-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
from cryptography.fernet import Fernet

from bench.common import cleanup, scale_qbo_batch_limit, stats, write_result

TOKEN = "bench-verifier-token"
REALM = "9341453000000001"
TARGET_ACK_P99_MS = 100.0
TARGET_CARD_P99_S = 5.0


def _settings(s: Any, redis_url: str, prefix: str) -> Any:
    from bot.runtime.settings import Settings

    return Settings(
        _env_file=None,
        slack_bot_token="xoxb-bench",
        slack_signing_secret="bench-signing-secret",
        slack_api_url=f"{s.slack_url}/api/",
        failed_payments_channel="C0FAILED",
        alert_channel="C0ALERTS",
        finance_users=["U0FINANCE1"],
        qbo_client_id=s.qbo.client_id,
        qbo_client_secret=s.qbo.client_secret,
        qbo_realm_id=REALM,
        qbo_refresh_token=s.qbo.issue_refresh_token(REALM),
        qbo_environment="sandbox",
        qbo_base_url=s.qbo_url,
        qbo_token_url=f"{s.qbo_url}/oauth2/v1/tokens/bearer",
        cb_base_url=s.cb_url,
        cb_api_key="cb-bench",
        redis_url=redis_url,
        redis_prefix=prefix,
        redis_durability_check="off",
        token_encryption_key=Fernet.generate_key().decode(),
        qbo_webhook_verifier_token=TOKEN,
    )


async def _seed(services: Any, s: Any) -> list[Any]:
    """The world's failures diagnosed, planned, posted and stored, as the poller does."""
    from bot.models import FailureRecord
    from bot.poll.intake import Intake
    from bot.slack.messages import post_failure

    payments = [s.cb.payments[pid] for pid in s.world.expected]
    diagnosed = await Intake(services, None).diagnose(payments)
    out = []
    for p in payments:
        rec = FailureRecord(payment_id=p.id, payment=p, diagnosis=diagnosed.get(p.id))
        rec.plans = await diagnosed.plans(services, None, p) or {}
        rec.slack = await post_failure(services, rec)
        await services.store.put_failure(rec)
        out.append(rec)
    return out


def _event(entity: str, entity_id: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "intuit.bench",
        "type": f"qbo.{entity.lower()}.updated.v1",
        "datacontenttype": "application/json",
        "time": datetime.now(UTC).isoformat(),
        "intuitentityid": entity_id,
        "intuitaccountid": REALM,
        "data": {},
    }


async def _intake(url: str, s: Any, n: int, seconds: float) -> tuple[list[float], list[int], int]:
    from bot.webhooks.payload import sign

    rng = random.Random(17)
    pool = [("Invoice", i["Id"]) for i in s.company.all("Invoice")]
    pool += [("Payment", p["Id"]) for p in s.company.all("Payment")]
    pool += [("Customer", c["Id"]) for c in s.company.all("Customer")]
    bodies = []
    for _ in range(n):
        body = json.dumps([_event(*rng.choice(pool))]).encode()
        bodies.append(body)
        if rng.random() < 0.05:
            bodies.append(body)  # a repeat, as Intuit sends
    latencies: list[float] = []
    statuses: list[int] = []
    gap = seconds / len(bodies)
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def one(session: aiohttp.ClientSession, i: int, body: bytes) -> None:
        await asyncio.sleep(max(0.0, start + i * gap - loop.time()))
        headers = {"content-type": "application/json", "intuit-signature": sign(TOKEN, body)}
        t0 = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as resp:
            await resp.read()
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses.append(resp.status)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session, i, b) for i, b in enumerate(bodies)))
    return latencies, statuses, len(bodies) - n


async def _edits(s: Any, records: list[Any], n: int) -> list[float]:
    """Milliseconds from an edit in the books to the card's next version, one edit at a time."""
    loop = asyncio.get_running_loop()
    out: list[float] = []

    def editable(r: Any) -> bool:  # an invoice to edit, of an active customer
        inv = s.company.get("Invoice", r.payment.applications[0].qb_invoice_id)
        cust = s.company.get("Customer", r.payment.customer.qb_customer_id)
        return inv is not None and bool(cust and cust.get("Active", True))

    open_recs = [r for r in records if r.slack is not None and r.payment.applications]
    shown_balance = {"credit-memo", "paid-manually", "amount-changed"}  # cards that show it
    open_recs = [
        r for r in open_recs if editable(r) and r.diagnosis and r.diagnosis.cause in shown_balance
    ]
    for i in range(n):
        rec = open_recs[i % len(open_recs)]
        msg = s.slack.message(rec.slack.channel, rec.slack.ts)
        before = len(msg.versions)
        inv = s.company.get("Invoice", rec.payment.applications[0].qb_invoice_id)
        t0 = loop.time()
        cent = {"Amount": Decimal("0.01"), "DetailType": "SalesItemLineDetail"}
        body = {"Id": inv["Id"], "SyncToken": inv["SyncToken"], "Line": [*inv["Line"], cent]}
        s.company.update("Invoice", body)  # a cent more: the balance, so the card, changes
        while len(msg.versions) == before:
            if loop.time() - t0 > 30:
                raise RuntimeError(f"edit {i}: the card was not redrawn in 30 s")
            await asyncio.sleep(0.005)
        out.append((loop.time() - t0) * 1000)
    return out


async def _drained(store: Any, within: float = 120.0) -> None:
    """Wait (polling) until the worker has taken every entry from the stream."""
    t0 = time.perf_counter()
    while await store.backlog() > 0:
        if time.perf_counter() - t0 > within:
            raise RuntimeError("the webhook stream was not drained")
        await asyncio.sleep(0.05)


async def run(events: int, seconds: float, edits: int) -> dict[str, Any]:
    import app as app_module
    from bot.webhooks.intake import webhook_store
    from bot.webhooks.metrics import webhook_metrics
    from bot.webhooks.worker import run_worker
    from sandbox.serving import serve
    from sandbox.stand_ins import start_stand_ins

    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"bench-wh-{uuid.uuid4().hex[:8]}:"
    s = await start_stand_ins(
        cb_api_key="cb-bench",
        signing_secret="bench-signing-secret",
        bot_token="xoxb-bench",
        realm_id=REALM,
        scenario="all-causes",
    )
    s.slack.rate_limit_enabled = False
    services = await app_module.build_services(_settings(s, redis_url, prefix), instance="bench")
    scale_qbo_batch_limit(services)  # QuickBooks' 40 batch calls a minute, scaled as the others
    runner = None
    try:
        records = await _seed(services, s)
        bolt = app_module.build_bolt_app(services)
        runner, url = await serve(app_module.build_web_app(bolt, services))
        services.start_background(run_worker(services, block_ms=100), name="qbo-webhooks")
        lat, statuses, repeats = await _intake(f"{url}/qbo/webhooks", s, events, seconds)
        store = webhook_store(services)
        print(f"intake done: {len(lat)} answered; draining", flush=True)
        await _drained(store)
        print("drained; editing the books", flush=True)
        counters = webhook_metrics(services.metrics).events
        processed = int(counters.labels("processed")._value.get())
        seen_repeats = int(counters.labels("repeat")._value.get())
        sender = s.send_webhooks(f"{url}/qbo/webhooks", TOKEN)
        card = await _edits(s, records, edits)
        ack = stats(lat)
        card_stats = stats(card)
        result = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared",
            "events": events,
            "deliveries": len(lat),
            "repeats_sent": repeats,
            "seconds": seconds,
            "all_200": set(statuses) == {200},
            "ack_ms": ack,
            "processed": processed,
            "repeats_seen": seen_repeats,
            "processed_once": processed == events,
            "edits": edits,
            "change_to_card_ms": card_stats,
            "webhook_deliveries_from_stand_in": sender.stats.acknowledged,
            "target_ack_p99_ms": TARGET_ACK_P99_MS,
            "target_card_p99_s": TARGET_CARD_P99_S,
        }
        result["met"] = bool(
            result["all_200"]
            and ack["p99"] < TARGET_ACK_P99_MS
            and result["processed_once"]
            and card_stats["p99"] < TARGET_CARD_P99_S * 1000
        )
        return result
    finally:
        if s.webhooks is not None:
            await s.webhooks.close()
        if runner is not None:
            await runner.cleanup()
        await services.drain()
        await services.aclose()
        await s.close()
        await cleanup(redis_url, prefix)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--edits", type=int, default=50)
    args = ap.parse_args()
    result = asyncio.run(run(args.events, args.seconds, args.edits))
    path = write_result("webhooks", result)
    a, c = result["ack_ms"], result["change_to_card_ms"]
    print(f"webhooks: {result['deliveries']} deliveries over {result['seconds']} s")
    print(f"  all answered 200: {result['all_200']}")
    print(f"  ack ms p50 {a['p50']} p99 {a['p99']} max {a['max']} (target p99 < 100)")
    print(f"  processed {result['processed']} of {result['events']} events once")
    print(f"  repeats dropped: {result['repeats_seen']} (sent {result['repeats_sent']})")
    print(f"  change to card ms p50 {c['p50']} p99 {c['p99']} max {c['max']} (target < 5000)")
    print(f"  met: {result['met']}  ->  {path}")
    raise SystemExit(0 if result["met"] else 1)


if __name__ == "__main__":
    main()
