"""Benchmark: the gateway reconciliation on a noisy world of about 1,000 gateway transactions.

    python -m bench.bench_reconcile [--transactions 1000] [--seed 7] [--latency 0.05]

Builds one world in the QBO and ConnectBooster stand-ins (``sandbox.scenarios.generate``, a
share of payments failing across every cause, each failure made by ConnectBooster's real sync)
and adds the noise a real tenant has:

- **other customers paying the same amount the same day** (some of those failing too);
- **partial payments** (part of an invoice paid), some failing;
- **hand payments**: checks recorded in QuickBooks that never went through the gateway;
- **name variants**: the payer's company typed with a legal suffix, in capitals, with
  punctuation, or left out (then the e-mail or the person's name is all there is);
- **other gateway users' sales** (a front-desk terminal) of the same amounts;
- **refunds**: sales refunded, voided or returned at the gateway — with the receipt still in
  QuickBooks (the new cause), with the receipt deleted by hand (healthy), and partly.

Serves QBO and the gateway stand-in (``sandbox.gateway``, query.php over HTTP) on loopback
with ``latency`` seconds a request, and runs the bot's reconciliation pieces exactly as a poll
does (``gateway.GatewayClient.modified_since``, ``bot.reconcile.fetch.read_books``,
``bot.reconcile.decide.reconcile``), then diagnoses what it flagged
(``bot.diagnosis.fetch_facts``). Twice: with ``GATEWAY_INVOICE_PATTERN`` (the gateway's order
id carries invoice numbers) and without it (the gateway says nothing of invoices).

Measured against the world's truth: precision and recall of "failed transfer" (a
ConnectBooster payment its sync could not record, older than the grace period) and of the
refund cause; QBO requests per reconciled transaction (target ≤ 0.05, reconciliation alone
and with the diagnosis of what it flagged). Targets: precision ≥ 0.99, recall ≥ 0.98.
Prints a table and writes JSON to ``.bench-results/``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from bench.common import write_result
from bot.diagnosis import fetch_facts
from bot.reconcile.allocate import invoice_numbers
from bot.reconcile.decide import Rules, needs_books, reconcile
from bot.reconcile.fetch import read_books
from bot.reconcile.payments import as_payment
from bot.reconcile.verdicts import Verdict
from cb.models import SyncStatus
from gateway.client import GatewayClient
from gateway.models import Action, Transaction
from qb.auth import MemoryTokenStore, OAuthClient, TokenRecord
from qb.client import QBOClient
from sandbox.cb import CBSandbox
from sandbox.gateway import GatewaySandbox, transaction_id_for
from sandbox.qbo import QBOSandbox
from sandbox.scenarios import generate
from sandbox.scenarios.seeding import SeededCustomer, Seeder, next_sync, slug

GRACE = timedelta(minutes=180)
PATTERN = re.compile(r"(\d{4,})")
CB_USER = "connectbooster"
TARGET_PRECISION, TARGET_RECALL, TARGET_REQUESTS = 0.99, 0.98, 0.05


@dataclass
class Truth:
    """What the world holds: gateway transaction ids by what the bot should say."""

    failed: set[str]
    refunded: set[str]
    transactions: int
    noise: dict[str, int]


def _customers(b: Seeder) -> list[SeededCustomer]:
    return [
        SeededCustomer(str(c["Id"]), str(c["DisplayName"]), f"cus_{c['Id']}", 5)
        for c in b.co.all("Customer")
        if c.get("Active", True)
    ]


def _variant(name: str, rng: random.Random) -> dict[str, str]:
    """How a payer may have typed ``name`` at the gateway."""
    roll = rng.random()
    if roll < 0.25:
        return {"company": f"{name}, LLC"}
    if roll < 0.45:
        return {"company": name.upper() + " INC."}
    if roll < 0.65:
        return {"company": name.replace(" ", "  ") + "."}
    if roll < 0.85:
        return {"company": "", "email": f"AP@{slug(name)}.example"}
    return {"company": f"The {name}"}


def build(n: int, seed: int) -> tuple[QBOSandbox, CBSandbox, GatewaySandbox, Truth]:
    """The world (see the module docstring) and its truth."""
    qbo, cb = QBOSandbox(), CBSandbox(api_key="bench")
    rng = random.Random(f"reconcile:{seed}")
    world = generate(int(n * 0.88), qbo, cb, seed=seed, failure_share=0.05)
    now = world.now
    b = Seeder(world.company, cb, rng, now)
    custs = _customers(b)
    gw = GatewaySandbox(cb, clock=lambda: now)
    noise = {"same_amount_same_day": 0, "partial": 0, "hand_payments": 0, "other_user": 0}
    synced = [
        p
        for p in cb.payments.values()
        if p.sync.status == SyncStatus.SYNCED and p.paid_at < now - timedelta(hours=8)
    ]
    rng.shuffle(synced)
    # other customers paying the same amount the same day (one in five of those failing)
    for k, p in enumerate(synced[:50]):
        other = rng.choice([c for c in custs if c.qb_id != p.customer.qb_customer_id])
        inv = b.invoice(other, (p.paid_at - timedelta(days=9)).date(), [("Services", 1, p.amount)])
        twin = b.cb_payment(
            other, [(inv, p.amount)], p.paid_at + timedelta(minutes=rng.randint(1, 50))
        )
        if k % 5 == 0:
            b.pay_manually(other, inv, b.change_time(twin, next_sync(twin.paid_at)))
        noise["same_amount_same_day"] += 1
    # partial payments, a few failing
    for k in range(40):
        cust = rng.choice(custs)
        paid_at = now - timedelta(hours=rng.uniform(6, 24 * 20))
        p, [inv] = b.paid_invoice(cust, paid_at, partial=True)
        if k % 8 == 0:
            b.pay_manually(cust, inv, b.change_time(p, next_sync(paid_at)))
        noise["partial"] += 1
    # hand payments that never went through the gateway
    for _ in range(30):
        cust = rng.choice(custs)
        inv = b.invoice(cust, (now - timedelta(days=rng.randint(5, 25))).date())
        b.pay_manually(cust, inv, now - timedelta(hours=rng.uniform(5, 24 * 20)))
        noise["hand_payments"] += 1
    b.sync()
    # the front desk's sales on the same gateway (same amounts as some portal payments)
    for k, p in enumerate(synced[50:80]):
        at = p.paid_at + timedelta(minutes=7)
        gw.add_transaction(
            Transaction(
                transaction_id=str(5_000_000_000 + k),
                condition="complete",
                company=p.customer.name,
                actions=[
                    Action(action_type="sale", amount=p.amount, date=at, username="frontdesk"),
                    Action(action_type="settle", amount=p.amount, date=at + timedelta(hours=2)),
                ],
            )
        )
        noise["other_user"] += 1
    # name variants
    for p in cb.payments.values():
        if rng.random() < 0.35:
            gw.payer[p.id] = _variant(p.customer.name, rng)
    refunded = _refunds(gw, world.company, synced[80:130], rng, now)
    noise["refunds"] = 50
    failed = {
        transaction_id_for(p.id)
        for p in cb.payments.values()
        if p.sync.status == SyncStatus.FAILED and p.paid_at <= now - GRACE
    }
    total = len(gw.transactions())
    return qbo, cb, gw, Truth(failed, refunded, total, noise)


def _refunds(
    gw: GatewaySandbox, company: Any, payments: list[Any], rng: random.Random, now: datetime
) -> set[str]:
    """Refund, void or return ``payments`` at the gateway; the ids whose receipt stands."""
    standing: set[str] = set()
    for k, p in enumerate(payments):
        at = now - timedelta(hours=rng.uniform(1, 48))
        kind = ("refund", "void", "return")[k % 3]
        if k % 10 == 9:  # part of it only: the card says how much, no one-click delete
            tid = gw.reverse(p.id, "refund", at, (p.amount / 4).quantize(Decimal("0.01")))
            standing.add(tid)
        elif k % 5 == 4:  # someone deleted the receipt already: healthy
            gw.reverse(p.id, kind, at)  # type: ignore[arg-type]
            company.delete("Payment", str(p.sync.qb_payment_id), at=at + timedelta(minutes=30))
        else:
            standing.add(gw.reverse(p.id, kind, at))  # type: ignore[arg-type]
    return standing


def _score(predicted: set[str], truth: set[str]) -> dict[str, Any]:
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    return {
        "truth": len(truth),
        "flagged": len(predicted),
        "true_positives": tp,
        "false_positives": sorted(predicted - truth)[:10],
        "missed": sorted(truth - predicted)[:10],
        "precision": round(precision, 4),
        "recall": round(recall, 4),
    }


async def one_pass(
    qbo_url: str, gw_url: str, qbo_sbx: QBOSandbox, realm: str, gw: GatewaySandbox, pattern: bool
) -> dict[str, Any]:
    """One reconciliation of the whole world, as a first poll would run it."""
    gw.order_style = "invoices" if pattern else "none"
    async with aiohttp.ClientSession() as session:
        store = MemoryTokenStore(
            TokenRecord(refresh_token=SecretStr(qbo_sbx.issue_refresh_token(realm)), realm_id=realm)
        )
        auth = OAuthClient(
            session,
            client_id=qbo_sbx.client_id,
            client_secret=SecretStr(qbo_sbx.client_secret),
            token_url=f"{qbo_url}/oauth2/v1/tokens/bearer",
            store=store,
        )
        qbo = QBOClient(session, realm_id=realm, base_url=qbo_url, auth=auth, environment="sandbox")
        client = GatewayClient(
            session, url=f"{gw_url}/api/query.php", security_key=SecretStr(gw.security_key)
        )
        await auth.access_token()  # the OAuth refresh is not an API request
        now = gw.clock()
        rules = Rules(
            grace=GRACE, usernames=frozenset({CB_USER}), pattern=PATTERN if pattern else None
        )
        t0 = time.perf_counter()
        txns = await client.modified_since(now - timedelta(days=40), now)
        gateway_s = time.perf_counter() - t0
        todo = needs_books(txns, now, rules)
        numbers = {n for t in todo for n in invoice_numbers(t, rules.pattern)}
        t0 = time.perf_counter()
        view = await read_books(qbo, todo, now.date(), numbers)
        results = reconcile(txns, view, now, rules)
        reconcile_s = time.perf_counter() - t0
        reconcile_requests = qbo.stats.requests
        flagged = [
            as_payment(r, view, now)
            for r in results
            if r.verdict in (Verdict.FAILED, Verdict.REFUNDED)
        ]
        t0 = time.perf_counter()
        await fetch_facts(qbo, flagged)
        diagnose_s = time.perf_counter() - t0
        total_requests = qbo.stats.requests
    by = {v: {r.transaction_id for r in results if r.verdict is v} for v in Verdict}
    return {
        "invoice_pattern": pattern,
        "read": len(txns),
        "reconciled": len(todo),
        "verdicts": {v.value: len(ids) for v, ids in by.items()},
        "gateway_requests": client.stats.requests,
        "qbo_requests_reconcile": reconcile_requests,
        "qbo_requests_with_diagnosis": total_requests,
        "qbo_per_reconciled": round(reconcile_requests / max(1, len(todo)), 4),
        "qbo_per_reconciled_with_diagnosis": round(total_requests / max(1, len(todo)), 4),
        "seconds": {
            "gateway": round(gateway_s, 2),
            "reconcile": round(reconcile_s, 2),
            "diagnose_flagged": round(diagnose_s, 2),
        },
        "_failed": by[Verdict.FAILED],
        "_refunded": by[Verdict.REFUNDED],
    }


async def run(n: int, seed: int, latency: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    qbo_sbx, cb_sbx, gw, truth = build(n, seed)
    build_s = time.perf_counter() - t0
    realm = cb_sbx.qbo_realm
    assert realm is not None
    qbo_sbx.latency = latency
    runners: list[web.AppRunner] = []
    try:
        from sandbox.serving import serve

        runner, qbo_url = await serve(qbo_sbx.make_app())
        runners.append(runner)
        runner, gw_url = await serve(gw.make_app())
        runners.append(runner)
        passes = [await one_pass(qbo_url, gw_url, qbo_sbx, realm, gw, p) for p in (True, False)]
    finally:
        for r in runners:
            await r.cleanup()
    for p in passes:
        p["failed_transfer"] = _score(p.pop("_failed"), truth.failed)
        p["refund_cause"] = _score(p.pop("_refunded"), truth.refunded)
        p["met"] = bool(
            min(p["failed_transfer"]["precision"], p["refund_cause"]["precision"])
            >= TARGET_PRECISION
            and min(p["failed_transfer"]["recall"], p["refund_cause"]["recall"]) >= TARGET_RECALL
            and p["qbo_per_reconciled_with_diagnosis"] <= TARGET_REQUESTS
        )
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "transactions": truth.transactions,
        "portal_payments": len(cb_sbx.payments) + len(cb_sbx.deleted),
        "noise": truth.noise,
        "build_seconds": round(build_s, 2),
        "latency_seconds": latency,
        "grace_minutes": int(GRACE.total_seconds() // 60),
        "targets": {
            "precision": TARGET_PRECISION,
            "recall": TARGET_RECALL,
            "qbo_requests_per_reconciled": TARGET_REQUESTS,
        },
        "passes": passes,
        "met": all(p["met"] for p in passes),
    }


def _print(r: dict[str, Any]) -> None:
    print(
        f"{r['transactions']} gateway transactions ({r['portal_payments']} portal payments; "
        f"noise {r['noise']}), grace {r['grace_minutes']} min, QBO latency {r['latency_seconds']} s"
    )
    print(f"{'pattern':<9}{'what':<17}{'truth':>6}{'flag':>6}{'prec':>8}{'recall':>8}")
    for p in r["passes"]:
        for what in ("failed_transfer", "refund_cause"):
            s = p[what]
            print(
                f"{'yes' if p['invoice_pattern'] else 'no':<9}{what:<17}{s['truth']:>6}"
                f"{s['flagged']:>6}{s['precision']:>8.4f}{s['recall']:>8.4f}"
            )
        print(
            f"{'':<9}QBO requests: {p['qbo_requests_reconcile']} reconciling "
            f"{p['reconciled']} sales ({p['qbo_per_reconciled']}/sale), "
            f"{p['qbo_requests_with_diagnosis']} with the diagnosis of what was flagged "
            f"({p['qbo_per_reconciled_with_diagnosis']}/sale); gateway requests "
            f"{p['gateway_requests']}; seconds {p['seconds']}"
        )
    print("targets met" if r["met"] else "TARGETS MISSED")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--transactions", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--latency", type=float, default=0.05)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(run(args.transactions, args.seed, args.latency))
    _print(result)
    print(f"wrote {write_result('reconcile', result)}")
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
