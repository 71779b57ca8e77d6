"""Benchmark: ``/failed-payments`` over 10,000 open failures.

    python -m bench.bench_command [--failures 10000] [--runs 200] [--burst 20]

Starts the Slack stand-in and the bot exactly as in production (HTTP mode, signed requests,
a real Redis: ``REDIS_URL`` or a throwaway ``redis-server``), stores ``--failures`` open
failures (varied causes, customers with long names, amounts), then sends signed slash
commands from the stand-in and measures, per command:

- **ack**: until the bot's HTTP answer to the command (Slack wants it within 3 s);
- **first page**: until the reply reached the stand-in's ``response_url`` (what the user
  sees), for an unfiltered list, each filter, all filters combined, a Latin-1 customer
  text, and one in letters beyond Latin-1 (filtered in Python, not in Redis);
- **next page**: a click on Next until the list is replaced in place.

Then ``--burst`` commands at once: each one's ack, and the time until all were answered.
Prints p50/p95/p99/max per kind
against the targets (ack p99 < 100 ms, first page p99 < 300 ms) and writes JSON to
``.bench-results/commands-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.actions import ActionId
from bot.models import (
    Cause,
    Certainty,
    Diagnosis,
    FailureRecord,
    RemedyKind,
    SlackRef,
)
from bot.store import Store
from cb.models import Payment
from sandbox.slack import EphemeralMessage
from tests.harness import FAILED_CHANNEL, FINANCE_USER, World, world
from tests.redis_server import ensure_redis

RESULTS = Path(".bench-results")
ACK_TARGET_MS = 100.0
PAGE_TARGET_MS = 300.0
CMD = "/failed-payments"
TEXTS = {
    "list": "",
    "cause": "cause:credit-memo",
    "customer": "customer:northwind",
    "older": "older:3d",
    "min": "min:500",
    "combined": "list cause:paid-manually customer:dental older:1d min:100",
    "latin-1 customer": "customer:zürich",
    "python fallback": "customer:łódź",  # letters beyond Latin-1: filtered in Python
}
NAMES = ["Northwind Dental", "Acme & Sons", "Zürich Treuhand AG", "Contoso Ltd",
         "Globex Corporation", "Initech", "Umbrella Health Partners of the Greater Metropolitan "
         "Area and Surrounding Counties, Incorporated " * 3, "ŁÓDŹ Systems Sp. z o.o."]


def _record(i: int, rnd: random.Random, now: datetime) -> FailureRecord:
    causes = [c for c in Cause if c != Cause.NONE]
    paid = now - timedelta(minutes=rnd.randint(1, 60 * 24 * 60))
    customer = f"{rnd.choice(NAMES)} #{rnd.randint(1, 400)}"
    amount = f"{rnd.randint(100, 2_500_000) / 100:.2f}"
    p = Payment.model_validate({
        "id": f"pmt_{i:06d}", "reference": f"CB{100000 + i}",
        "customer": {"id": f"cus_{i % 400}", "name": customer}, "amount": amount,
        "paid_at": paid.isoformat(), "applications": [],
        "sync": {"status": "failed", "attempts": 1, "error": {"code": "6000", "message": "x"}},
        "updated_at": paid.isoformat(),
    })
    cause = rnd.choice(causes)
    d = Diagnosis(payment_id=p.id, reference=p.reference, cause=cause,
                  certainty=Certainty.CERTAIN, findings=[], remedies=[RemedyKind.RECHECK],
                  summary="s", next_step="n")
    return FailureRecord(
        payment_id=p.id, payment=p, diagnosis=d,
        first_seen_at=paid + timedelta(minutes=rnd.randint(1, 120)),
        slack=SlackRef(channel=FAILED_CHANNEL, ts=f"{1_700_000_000 + i}.000100",
                       permalink=f"https://example.slack.com/archives/{FAILED_CHANNEL}/p{i}"),
    )


async def seed(store: Store, n: int, now: datetime) -> float:
    """Store ``n`` open failures through ``Store.put_failure``; returns seconds taken."""
    rnd = random.Random(7)
    started = time.perf_counter()
    batch: list[Any] = []
    for i in range(n):
        batch.append(store.put_failure(_record(i, rnd, now)))
        if len(batch) == 20:
            await asyncio.gather(*batch)
            batch = []
    await asyncio.gather(*batch)
    return time.perf_counter() - started


async def _command(w: World, text: str) -> tuple[float, float, EphemeralMessage]:
    """``(ack ms, first page ms, reply)`` of one command."""
    before = len(w.slack.ephemeral(FINANCE_USER))
    t0 = time.perf_counter()
    resp = await w.slack.send_command(w.bot.events_url, CMD, text, user_id=FINANCE_USER,
                                      channel_id=FAILED_CHANNEL)
    ack = time.perf_counter() - t0
    if resp.status != 200:
        raise RuntimeError(f"command answered {resp.status}")
    await w.slack.wait_until(lambda: len(w.slack.ephemeral(FINANCE_USER)) > before, within=30)
    page = time.perf_counter() - t0
    return ack * 1000, page * 1000, w.slack.ephemeral(FINANCE_USER)[before]


async def _ack_only(w: World, text: str) -> float:
    t0 = time.perf_counter()
    resp = await w.slack.send_command(w.bot.events_url, CMD, text, user_id=FINANCE_USER,
                                      channel_id=FAILED_CHANNEL)
    if resp.status != 200:
        raise RuntimeError(f"command answered {resp.status}")
    return (time.perf_counter() - t0) * 1000


async def _next(w: World, e: EphemeralMessage) -> float:
    replaced = e.replaced
    t0 = time.perf_counter()
    await w.slack.click(w.bot.events_url, message_ts=e.ts, channel=e.channel,
                        action_id=ActionId.LIST_NEXT.value, user_id=FINANCE_USER)
    await w.slack.wait_until(lambda: e.replaced > replaced, within=30)
    return (time.perf_counter() - t0) * 1000


def _stats(xs: list[float]) -> dict[str, float]:
    s = sorted(xs)

    def pct(p: float) -> float:
        return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]

    return {"n": len(s), "p50": round(statistics.median(s), 1), "p95": round(pct(95), 1),
            "p99": round(pct(99), 1), "max": round(s[-1], 1)}


async def run(failures: int, runs: int, burst: int) -> dict[str, Any]:
    prefix = f"fpbench:{uuid.uuid4().hex[:8]}:"
    url = ensure_redis()
    async with world(url, prefix, None) as w:
        if w.slack._base_url is None:
            w.slack.base_url = w.slack_url
        w.slack.rate_limit_enabled = False
        store = w.services.store
        now = w.services.clock()
        seed_s = await seed(store, failures, now)
        open_now = await store.open_count()
        for _ in range(5):  # warm up connections and the script cache
            await _command(w, "")
        acks: dict[str, list[float]] = {k: [] for k in TEXTS}
        pages: dict[str, list[float]] = {k: [] for k in TEXTS}
        per_kind = max(5, runs // len(TEXTS))
        first_reply = None
        for _ in range(per_kind):
            for kind, text in TEXTS.items():
                ack, page, e = await _command(w, text)
                acks[kind].append(ack)
                pages[kind].append(page)
                if kind == "list" and first_reply is None:
                    first_reply = e
        nexts = []
        for _ in range(max(5, runs // 10)):
            _a, _p, e = await _command(w, "")
            nexts.append(await _next(w, e))
        before = len(w.slack.ephemeral(FINANCE_USER))
        t0 = time.perf_counter()
        burst_acks = await asyncio.gather(*(_ack_only(w, "") for _ in range(burst)))
        await w.slack.wait_until(
            lambda: len(w.slack.ephemeral(FINANCE_USER)) >= before + burst, within=60)
        burst_wall = (time.perf_counter() - t0) * 1000
        all_acks = [a for xs in acks.values() for a in xs]
        all_pages = [p for xs in pages.values() for p in xs]
        await _cleanup(w)
    assert first_reply is not None
    result: dict[str, Any] = {
        "benchmark": "commands",
        "at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "open_failures": open_now,
        "seed_seconds": round(seed_s, 1),
        "first_reply_text": first_reply.text,
        "ack_ms": {"all": _stats(all_acks), **{k: _stats(v) for k, v in acks.items()}},
        "first_page_ms": {"all": _stats(all_pages), **{k: _stats(v) for k, v in pages.items()}},
        "next_page_ms": _stats(nexts),
        "burst": {
            "commands": burst,
            "ack_ms": _stats(burst_acks),
            "all_answered_ms": round(burst_wall, 1),
        },
    }
    result["targets"] = {
        "ack_p99_ms": ACK_TARGET_MS,
        "first_page_p99_ms": PAGE_TARGET_MS,
        "ack_ok": result["ack_ms"]["all"]["p99"] < ACK_TARGET_MS,
        "first_page_ok": result["first_page_ms"]["all"]["p99"] < PAGE_TARGET_MS,
    }
    return result


async def _cleanup(w: World) -> None:
    r = w.services.redis
    keys = [k async for k in r.scan_iter(match=f"{w.prefix}*", count=1000)]
    for i in range(0, len(keys), 500):
        await r.delete(*keys[i : i + 500])


def _table(r: dict[str, Any]) -> str:
    lines = [f"/failed-payments over {r['open_failures']:,} open failures "
             f"(seeded in {r['seed_seconds']} s); first reply: {r['first_reply_text']!r}",
             f"{'kind':<22}{'ack p50':>9}{'p99':>8}{'max':>8}   {'page p50':>9}{'p99':>8}"
             f"{'max':>8}"]
    for kind in ["all", *TEXTS]:
        a, p = r["ack_ms"][kind], r["first_page_ms"][kind]
        lines.append(f"{kind:<22}{a['p50']:>9}{a['p99']:>8}{a['max']:>8}   "
                     f"{p['p50']:>9}{p['p99']:>8}{p['max']:>8}")
    n = r["next_page_ms"]
    lines.append(f"{'next page (click)':<22}{'':>25}   {n['p50']:>9}{n['p99']:>8}{n['max']:>8}")
    b = r["burst"]
    lines.append(f"burst of {b['commands']} at once: ack p99 {b['ack_ms']['p99']} ms, "
                 f"all {b['commands']} answered in {b['all_answered_ms']} ms")
    t = r["targets"]
    lines.append(f"targets: ack p99 < {t['ack_p99_ms']:.0f} ms: "
                 f"{'met' if t['ack_ok'] else 'MISSED'}; first page p99 < "
                 f"{t['first_page_p99_ms']:.0f} ms: {'met' if t['first_page_ok'] else 'MISSED'}")
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark and write ``.bench-results/commands-<time>.json``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--failures", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=210)
    ap.add_argument("--burst", type=int, default=20)
    args = ap.parse_args()
    result = asyncio.run(run(args.failures, args.runs, args.burst))
    print(_table(result))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"commands-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
