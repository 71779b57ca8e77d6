"""Benchmark: a burst of about 1,000 new failed payments in one poll cycle.

    python -m bench.bench_burst [--failures 1000] [--slack-rate 50] [--real-seconds 15]

Builds the failures honestly in the QBO and ConnectBooster stand-ins
(``sandbox.scenarios.generate``), serves them and the Slack stand-in on loopback, points a
real bot (``app.build_services``: the real QBO, ConnectBooster and slack_sdk clients, a real
Redis) at them and runs one ``bot.poll.cycle.poll_once`` cycle. Figures: seconds from the cycle's
start to the first Slack message, top-level messages posted (target: at most 2), QBO
requests used, Slack 429 answers met (each retried by slack_sdk's rate-limit handler; an
unhandled one would fail the cycle), thread replies and whether each failure was posted once.

Slack allows about one ``chat.postMessage`` a second per channel, so 1,000 replies take about
1,000 s at the real pace. Two runs, both reported:

- ``scaled``: the Slack stand-in's per-channel rate is raised to ``--slack-rate`` (default
  50/s) and the poller paces itself to the same rate; the whole burst is posted and counted.
- ``real pace``: a second, identical burst with the stand-in at Slack's 1/s and the poller's
  own 1 s pacing, run for ``--real-seconds`` and then stopped; its reply rate is measured
  and the time for the whole burst is an ESTIMATE extrapolated from it (labelled so).

Prints a table and writes JSON to ``.bench-results/burst-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

import app as app_module
from bot.poll.cycle import PollReport, poll_once
from sandbox.scenarios import generate
from tests.harness import FAILED_CHANNEL, World, world
from tests.redis_server import ensure_redis

RESULTS = Path(".bench-results")


def _posted(w: World) -> Counter[str]:
    return Counter(
        m.metadata["event_payload"]["payment_id"]
        for m in w.slack.all_messages(FAILED_CHANNEL)
        if m.metadata and m.metadata.get("event_type") == "failed_payment"
    )


async def _run(
    redis_url: str,
    failures: int,
    slack_rate: float,
    post_interval: float,
    stop_after: float | None,
) -> dict[str, Any]:
    prefix = f"fpbench:{uuid.uuid4().hex[:8]}:"
    async with world(redis_url, prefix, None, bots=0) as w:
        share = 0.9
        gen = generate(round(failures / share), w.qbo, w.cb, failure_share=share, days=6)
        n_failed = len(gen.failed_ids)
        w.slack.channel_rate_per_second = slack_rate
        services = await app_module.build_services(
            w.settings(digest_after=10, alert_min_payments=10_000), instance="bench"
        )
        try:
            qbo_before = services.qbo.stats.requests
            t0 = time.perf_counter()
            task = asyncio.create_task(poll_once(services, post_interval=post_interval))
            report: PollReport | None = None
            error: str | None = None
            if stop_after is None:
                try:
                    report = await task
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"
            else:
                done, _ = await asyncio.wait({task}, timeout=stop_after)
                if task in done:
                    report = task.result()
                else:
                    while not task.done():  # a cancel can be swallowed by an inner wait_for
                        task.cancel()
                        await asyncio.wait({task}, timeout=1)
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            elapsed = time.perf_counter() - t0
            top = w.slack.messages(FAILED_CHANNEL)
            first_at = min(
                (c.at for c in w.slack.calls_to("chat.postMessage") if c.ok), default=None
            )
            posted = _posted(w)
            replies = sum(len(w.slack.thread(FAILED_CHANNEL, m.ts)) for m in top)
            return {
                "failures": n_failed,
                "slack_rate_per_channel": slack_rate,
                "poller_post_interval_s": post_interval,
                "seconds_to_first_message": (
                    report.first_post_seconds
                    if report and report.first_post_seconds
                    else (first_at - (time.time() - elapsed))
                    if first_at
                    else None
                ),
                "top_level_messages": len(top),
                "thread_replies": replies,
                "posted_failures": len(posted),
                "posted_more_than_once": sum(1 for v in posted.values() if v > 1),
                "qbo_requests": services.qbo.stats.requests - qbo_before,
                "slack_429s_met": w.slack.rate_limited_count(),
                "unhandled_error": error,
                "elapsed_s": round(elapsed, 2),
                "completed": report is not None,
                "replies_per_second": round(replies / elapsed, 3) if elapsed else None,
            }
        finally:
            await services.drain()
            await services.aclose()
            client = aioredis.Redis.from_url(redis_url)
            keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
            if keys:
                await client.delete(*keys)
            await client.aclose()


async def bench(failures: int, slack_rate: float, real_seconds: float) -> dict[str, Any]:
    redis_url = ensure_redis()
    scaled = await _run(redis_url, failures, slack_rate, 1.0 / slack_rate, None)
    real = await _run(redis_url, failures, 1.0, 1.0, real_seconds)
    rate = real["replies_per_second"] or 0
    real["ESTIMATE_seconds_for_whole_burst"] = round(real["failures"] / rate) if rate else None
    return {
        "benchmark": "burst",
        "at": datetime.now(UTC).isoformat(),
        "targets": {"seconds_to_first_message": 5, "top_level_messages": 2, "unhandled_429": 0},
        "scaled": scaled,
        "real_pace": real,
    }


def _print(result: dict[str, Any]) -> None:
    s, r = result["scaled"], result["real_pace"]
    rows = [
        ("failures in the burst", s["failures"], r["failures"]),
        (
            "Slack stand-in rate / channel (msg/s)",
            s["slack_rate_per_channel"],
            r["slack_rate_per_channel"],
        ),
        (
            "seconds to the first message",
            _f(s["seconds_to_first_message"]),
            _f(r["seconds_to_first_message"]),
        ),
        ("top-level messages", s["top_level_messages"], r["top_level_messages"]),
        ("thread replies posted", s["thread_replies"], r["thread_replies"]),
        ("failures posted more than once", s["posted_more_than_once"], r["posted_more_than_once"]),
        ("QBO requests", s["qbo_requests"], r["qbo_requests"]),
        ("Slack 429s met (retried)", s["slack_429s_met"], r["slack_429s_met"]),
        ("unhandled error", s["unhandled_error"] or "none", r["unhandled_error"] or "none"),
        ("elapsed seconds", s["elapsed_s"], f"{r['elapsed_s']} (stopped)"),
        (
            "whole burst, seconds",
            s["elapsed_s"],
            f"~{r['ESTIMATE_seconds_for_whole_burst']} (ESTIMATE)",
        ),
    ]
    print(f"{'':40} {'scaled':>14} {'real pace':>22}")
    for name, a, b in rows:
        print(f"{name:40} {a!s:>14} {b!s:>22}")


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def main() -> None:
    """Run the benchmark and write ``.bench-results/burst-<time>.json``."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--failures", type=int, default=1000)
    parser.add_argument("--slack-rate", type=float, default=50.0)
    parser.add_argument("--real-seconds", type=float, default=15.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(bench(args.failures, args.slack_rate, args.real_seconds))
    _print(result)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"burst-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
