"""Ack latency of button clicks under load, through the real HTTP stack.

    python -m bench.bench_ack [--clicks 50] [--rounds 6]

A world on loopback (QBO, ConnectBooster and Slack stand-ins, the bot in HTTP mode, a real
Redis): ``--clicks`` failure messages are posted, then each round a separate process (as Slack
is) sends ``--clicks`` signed clicks at once (Re-check on every message, so each click starts a real
diagnosis against QuickBooks after its ack; one round in two also dismisses syncing on the
truly failed payments). A first, cold burst (which also fills the Redis and HTTP connection
pools) is reported apart. The latency measured is from sending the request to receiving the
bot's HTTP answer (the ack); remedies run after it. Between rounds the bench waits for the
remedies in flight to finish. Prints p50/p95/p99/max and writes
``.bench-results/ack-<time>.json``. Target: p99 under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bot.actions import REMEDY_ACTIONS, encode_value
from bot.facts import diagnose_many
from bot.messages import post_failure
from bot.models import FailureRecord, RemedyKind
from tests.harness import FINANCE_USER, FINANCE_USER_2, SIGNING_SECRET, World, world
from tests.redis_server import ensure_redis

RESULTS = Path(".bench-results")
TARGET_P99_MS = 100.0


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest-rank."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


async def _seed(w: World, n: int) -> list[FailureRecord]:
    w.slack.rate_limit_enabled = False
    failed = list(w.scenario.expected)
    others = [pid for pid in w.cb.payments if pid not in failed]
    pids = (failed + others)[:n]
    payments = [w.cb.payments[p] for p in pids]
    diagnoses = await diagnose_many(w.services.qbo, payments)
    out = []
    for p in payments:
        rec = FailureRecord(payment_id=p.id, payment=p, diagnosis=diagnoses[p.id])
        rec.slack = await post_failure(w.services, rec)
        await w.services.store.put_failure(rec)
        out.append(rec)
    return out


def _click_body(w: World, rec: FailureRecord, kind: RemedyKind, user: str) -> bytes:
    """The form body Slack sends for a click on ``kind`` on ``rec``'s message (built before
    the clock starts, so the load generator's own work is not measured)."""
    assert rec.slack is not None
    msg = w.slack.message(rec.slack.channel, rec.slack.ts)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0SANDBOX"},
        "api_app_id": "A0SANDBOX",
        "token": "sandbox-verification-token",
        "container": {"type": "message", "message_ts": rec.slack.ts,
                      "channel_id": rec.slack.channel, "is_ephemeral": False},
        "trigger_id": w.slack.mint_trigger_id(),
        "team": {"id": "T0SANDBOX", "domain": "sandbox"},
        "channel": {"id": rec.slack.channel, "name": "failed-payments"},
        "response_url": w.slack.response_url_for(rec.slack.channel, user, rec.slack.ts),
        "actions": [{"type": "button", "action_id": REMEDY_ACTIONS[kind].value,
                     "block_id": f"fp_actions:{rec.payment_id}",
                     "value": encode_value(rec.payment_id, attempt=rec.remedy_attempts),
                     "action_ts": f"{time.time():.6f}"}],
        "message": msg.to_slack() if msg is not None else None,
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


async def _fire(url: str, bodies: list[str], secret: str) -> list[tuple[float, int]]:
    """Send every body at once, signed as Slack signs; (latency ms, HTTP status) each."""
    import aiohttp

    async def one(session: aiohttp.ClientSession, body: bytes) -> tuple[float, int]:
        ts = str(int(time.time()))
        sig = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body,
                       hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={sig}"}
        t0 = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as resp:
            await resp.read()
            return (time.perf_counter() - t0) * 1000, resp.status

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        encoded = [b.encode() for b in bodies]
        return list(await asyncio.gather(*(one(session, b) for b in encoded)))


async def _send_round(url: str, bodies: list[bytes]) -> list[tuple[float, int]]:
    """Fire one round from a separate process (as Slack is): the load generator's own work
    does not share the bot's event loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_ack", "--fire", url,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate(json.dumps([b.decode() for b in bodies]).encode())
    return [(float(ms), int(st)) for ms, st in json.loads(out)]


async def _settle(w: World, within: float = 60.0) -> None:
    """Wait for the remedies started by the acks to finish."""
    pending = list(w.services._inflight)
    if pending:
        await asyncio.wait(pending, timeout=within)


async def run(clicks: int, rounds: int) -> dict[str, Any]:
    url = ensure_redis()
    prefix = f"fpbench:{int(time.time())}:"
    async with world(url, prefix, "all-causes") as w:
        recs = await _seed(w, clicks)
        failed = set(w.scenario.expected)
        # warm-up: one click each way, not measured
        # cold round, reported apart: the first burst also opens the Redis and HTTP pools
        cold = await _send_round(w.bot.events_url, [
            _click_body(w, rec, RemedyKind.RECHECK, FINANCE_USER) for rec in
            await w.services.store.get_failures([x.payment_id for x in recs])])
        await _settle(w)
        samples: list[float] = []
        per_round: list[float] = []
        statuses: dict[int, int] = {}
        started = time.perf_counter()
        for r in range(rounds):
            fresh = await w.services.store.get_failures([x.payment_id for x in recs])
            bodies = []
            for i, rec in enumerate(fresh):
                kind = RemedyKind.RECHECK
                if r == 1 and rec.payment_id in failed:
                    kind = RemedyKind.DISMISS_SYNC
                user = FINANCE_USER if i % 2 else FINANCE_USER_2
                bodies.append(_click_body(w, rec, kind, user))
            got = await _send_round(w.bot.events_url, bodies)
            per_round.append(round(max(ms for ms, _ in got), 1))
            for ms, status in got:
                samples.append(ms)
                statuses[status] = statuses.get(status, 0) + 1
            await _settle(w)
        elapsed = time.perf_counter() - started
        remedies = {
            f"{s.labels['kind']}/{s.labels['result']}": int(s.value)
            for m in w.services.metrics.remedies.collect() for s in m.samples
            if s.name.endswith("_total")
        }
        await redis_cleanup(w)
    result = {
        "bench": "ack",
        "at": datetime.now(UTC).isoformat(),
        "concurrent_clicks": clicks,
        "rounds": rounds,
        "samples": len(samples),
        "statuses": {str(k): v for k, v in statuses.items()},
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(percentile(samples, 0.95), 2),
        "p99_ms": round(percentile(samples, 0.99), 2),
        "max_ms": round(max(samples), 2),
        "mean_ms": round(statistics.fmean(samples), 2),
        "max_ms_per_round": per_round,
        "cold_round_p50_ms": round(statistics.median(ms for ms, _ in cold), 2),
        "cold_round_max_ms": round(max(ms for ms, _ in cold), 2),
        "target_p99_ms": TARGET_P99_MS,
        "met": percentile(samples, 0.99) < TARGET_P99_MS,
        "wall_seconds_incl_remedies": round(elapsed, 2),
        "remedies_after_ack": remedies,
    }
    return result


async def redis_cleanup(w: World) -> None:
    keys = [k async for k in w.services.redis.scan_iter(match=f"{w.prefix}*", count=1000)]
    if keys:
        await w.services.redis.delete(*keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clicks", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--fire", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fire:  # the load generator's side
        bodies = json.loads(sys.stdin.read())
        print(json.dumps(asyncio.run(_fire(args.fire, bodies, SIGNING_SECRET))))
        return
    result = asyncio.run(run(args.clicks, args.rounds))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"ack-{stamp}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"ack latency, {result['concurrent_clicks']} concurrent clicks x {result['rounds']} "
          f"rounds ({result['samples']} clicks, HTTP statuses {result['statuses']}):")
    print(f"  p50 {result['p50_ms']} ms  p95 {result['p95_ms']} ms  p99 {result['p99_ms']} ms  "
          f"max {result['max_ms']} ms  (target p99 < {TARGET_P99_MS:.0f} ms: "
          f"{'met' if result['met'] else 'NOT met'})")
    print(f"  slowest ack of each round: {result['max_ms_per_round']} ms; first (cold) burst, "
          f"not counted above: p50 {result['cold_round_p50_ms']} ms, max "
          f"{result['cold_round_max_ms']} ms")
    print(f"  wall time with the remedies after the acks: {result['wall_seconds_incl_remedies']} s")
    print(f"  remedies run after the acks (kind/result: count): {result['remedies_after_ack']}")
    print(f"  results: {path}")


if __name__ == "__main__":
    main()
