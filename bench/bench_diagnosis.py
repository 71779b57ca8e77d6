"""Benchmark: diagnosing a backlog of failed payments, bulk fetching against the plain approach.

    python -m bench.bench_diagnosis [--failures 1000] [--latency 0.15] [--naive-sample 150]
                                    [--naive-full]

Builds a backlog in the QBO and ConnectBooster sandboxes (``sandbox.scenarios.generate``),
serves both on loopback ports from their own process (``bench.diagnosis_world``: real
QuickBooks runs on Intuit's machines, not on the bot's CPU) with every QuickBooks call taking
``latency`` seconds in all, the stand-in's own work counted within it, and QBO's limits (10
requests in flight, 500 a minute per company; the client keeps to the same), lists the
failed payments with the real ``CBClient`` and diagnoses them with the real ``QBOClient``:

- ``bulk (batch)``: ``bot.diagnosis.fetch.fetch_facts`` — chunked ``IN`` queries sent as QBO batch
  items, one CDC call;
- ``bulk (queries)``: the same without batch, one request per ``IN`` chunk;
- ``naive``: ``bench.naive_fetch.naive_fetch`` (the baseline, kept out of production code) —
  each invoice, linked transaction, reference and customer read one request at a time.

At 500 requests a minute the naive pass over 1,000 failures (about 3 requests each) needs
about 6 minutes, so by default it runs on a random sample (``--naive-sample``) and its
requests per failure are measured on that sample; its wall time for the whole backlog is then
an ESTIMATE from the measured requests and QBO's limits, labelled as such. ``--naive-full``
runs it over the whole backlog instead. Prints a table and writes JSON to ``.bench-results/``.

Each pass's wall time is split in two, by an aiohttp trace on the QBO calls: **waiting on
QuickBooks** (the time at least one QBO call is in flight: its latency, which covers the
stand-in's own query work unless that takes longer, as real QBO's time covers its own; **the
stand-in's CPU** is that process's CPU
meanwhile, from ``/proc``) and **the bot's own** time (no QBO call in flight: building
queries, parsing answers, building the facts). **The bot's CPU** is this process's CPU time
during the fetch (the stand-ins' work is in their own process, so it is the bot's alone,
whether or not a call was in flight). ``decide`` is the pure diagnosis over the fetched facts
(``diagnose_all``, as the poll cycle runs it), timed apart.
The floor of a pass is its requests' latency under the limits (``_limited_seconds``); the
backlog's (fetch + decide) is printed against its requests' latency one after another
(4 x 150 ms) and the target ``TARGET_SECONDS``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import math
import os
import random
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from bench.common import start_announcing
from bench.naive_fetch import naive_fetch
from bot.diagnosis import QBOFacts, diagnose, diagnose_all, fetch_facts
from cb.client import CBClient
from cb.models import Payment
from qb.auth import MemoryTokenStore, OAuthClient, TokenRecord
from qb.client import QBOClient

CB_KEY = "bench-cb-key"
IN_FLIGHT = 10
PER_MINUTE = 500
RESULTS = Path(".bench-results")
TARGET_SECONDS = 1.5


class InFlight:
    """The union of the intervals during which at least one QBO call was in flight."""

    def __init__(self, host_port: str) -> None:
        self.host_port = host_port
        self.seconds = 0.0
        self._open = 0
        self._since = 0.0

    def trace_config(self) -> aiohttp.TraceConfig:
        tc = aiohttp.TraceConfig()

        async def start(_s: Any, _c: Any, params: Any) -> None:
            if params.url.raw_authority != self.host_port:
                return
            if self._open == 0:
                self._since = time.perf_counter()
            self._open += 1

        async def end(_s: Any, _c: Any, params: Any) -> None:
            if params.url.raw_authority != self.host_port:
                return
            self._open -= 1
            if self._open == 0:
                self.seconds += time.perf_counter() - self._since

        tc.on_request_start.append(start)
        tc.on_request_end.append(end)
        tc.on_request_exception.append(end)
        return tc


@dataclass
class Row:
    approach: str
    failures: int  # failures this pass covered
    requests: int
    requests_per_failure: float
    wall_seconds: float
    wall_seconds_for_backlog: float
    estimated: bool  # wall_seconds_for_backlog extrapolated from a sample
    correct: int  # diagnoses matching the scenario's expected cause
    qbo_wait_seconds: float = 0.0  # at least one QBO call in flight
    bot_seconds: float = 0.0  # no QBO call in flight: the bot's own work
    bot_cpu_seconds: float = 0.0  # this process's CPU during the fetch (the stand-ins run apart)
    standin_cpu_seconds: float = 0.0  # the stand-ins' process CPU during the fetch
    decide_seconds: float = 0.0  # diagnose() over every payment of the pass
    floor_seconds: float = 0.0  # the requests' latency under QBO's limits


@dataclass
class WorldProcess:
    """The stand-ins' process (``bench.diagnosis_world``) and what it printed."""

    proc: subprocess.Popen[bytes]
    info: dict[str, Any]

    def cpu_seconds(self) -> float:
        """The stand-ins' process CPU so far (user + system, from ``/proc``; 0 elsewhere)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.to_thread(self.proc.wait, 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def _start_world(payments: int, seed: int, latency: float) -> WorldProcess:
    """Build and serve the backlog's QBO and ConnectBooster stand-ins in their own process,
    as real QuickBooks runs apart from the bot."""
    args = [
        "bench.diagnosis_world",
        f"--payments={payments}",
        f"--seed={seed}",
        f"--latency={latency}",
        f"--in-flight={IN_FLIGHT}",
        f"--per-minute={PER_MINUTE}",
        f"--cb-key={CB_KEY}",
    ]
    proc, line = await start_announcing(args, "the stand-ins' process")
    return WorldProcess(proc, json.loads(line))


def _limited_seconds(requests: int, latency: float) -> float:
    """Least time ``requests`` calls take under QBO's limits: 10 in flight at ``latency``
    each, and 500 a minute (the first 500 at once, then 500 per further minute)."""
    by_flight = math.ceil(requests / IN_FLIGHT) * latency
    by_minute = 60.0 * ((requests - 1) // PER_MINUTE) if requests > PER_MINUTE else 0.0
    return max(by_flight, by_minute + latency)


async def run(
    failures: int, latency: float, naive_sample: int, naive_full: bool, seed: int
) -> dict[str, Any]:
    world = await _start_world(int(failures / 0.10 * 1.15), seed, latency)
    build_s = float(world.info["build_seconds"])
    expected: dict[str, str] = world.info["expected"]
    qbo_url, cb_url, realm_id = world.info["qbo_url"], world.info["cb_url"], world.info["realm_id"]
    in_flight = InFlight(qbo_url.split("://", 1)[1].rstrip("/"))
    session = aiohttp.ClientSession(trace_configs=[in_flight.trace_config()])
    try:
        store = MemoryTokenStore(
            TokenRecord(refresh_token=SecretStr(world.info["refresh_token"]), realm_id=realm_id)
        )
        auth = OAuthClient(
            session,
            client_id=world.info["client_id"],
            client_secret=SecretStr(world.info["client_secret"]),
            token_url=f"{qbo_url}/oauth2/v1/tokens/bearer",
            store=store,
        )

        def new_client() -> QBOClient:
            # one client per pass: each starts with its own view of the rate limits
            return QBOClient(
                session,
                realm_id=realm_id,
                base_url=qbo_url,
                auth=auth,
                environment="sandbox",
                max_in_flight=IN_FLIGHT,
                per_minute=PER_MINUTE,
            )

        cb = CBClient(session, base_url=cb_url, api_key=SecretStr(CB_KEY))

        t0 = time.perf_counter()
        listed = [p async for p in cb.list_payments("failed", limit=500)]
        list_s = time.perf_counter() - t0
        listed.sort(key=lambda p: p.id)
        backlog = listed[:failures]
        rng = random.Random(seed)
        sample = backlog if naive_full else rng.sample(backlog, min(naive_sample, len(backlog)))
        await auth.access_token()  # the OAuth refresh is not an API request

        rows: list[Row] = []

        async def measure(
            name: str,
            payments: list[Payment],
            fetch: Callable[[QBOClient], Awaitable[QBOFacts]],
        ) -> tuple[Row, QBOFacts]:
            qbo = new_client()
            gc.collect()  # each pass starts clean, not paying for the previous pass's garbage
            waited = in_flight.seconds
            t, cpu, standin = time.perf_counter(), time.process_time(), world.cpu_seconds()
            facts = await fetch(qbo)
            wall = time.perf_counter() - t
            cpu = time.process_time() - cpu
            standin = world.cpu_seconds() - standin
            waited = in_flight.seconds - waited
            used = qbo.stats.requests
            t = time.perf_counter()
            by_id = diagnose_all(payments, facts)
            decided = [by_id[p.id] for p in payments]
            decide_s = time.perf_counter() - t
            correct = sum(
                1
                for p, d in zip(payments, decided, strict=True)
                if d.cause.value == expected.get(p.id)
            )
            per = used / len(payments)
            estimated = len(payments) < len(backlog)
            for_backlog = (
                _limited_seconds(round(per * len(backlog)), latency) if estimated else wall
            )
            row = Row(name, len(payments), used, per, wall, for_backlog, estimated, correct)
            row.qbo_wait_seconds = waited
            row.bot_seconds = max(0.0, wall - waited)
            row.bot_cpu_seconds = cpu
            row.standin_cpu_seconds = standin
            row.decide_seconds = decide_s
            row.floor_seconds = _limited_seconds(used, latency)
            rows.append(row)
            return row, facts

        # the naive pass first, so that it starts with an empty per-minute window
        _, naive_facts = await measure("naive", sample, lambda q: naive_fetch(q, sample))
        _, bulk_facts = await measure("bulk (batch)", backlog, lambda q: fetch_facts(q, backlog))
        await measure("bulk (queries)", backlog, lambda q: fetch_facts(q, backlog, use_batch=False))
        same = sum(
            1
            for p in sample
            if diagnose(p, bulk_facts).model_dump(exclude={"diagnosed_at"})
            == diagnose(p, naive_facts).model_dump(exclude={"diagnosed_at"})
        )
    finally:
        await session.close()
        await world.close()

    naive, bulk = rows[0], rows[1]
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "failures": len(backlog),
        "latency_seconds": latency,
        "limits": {"in_flight": IN_FLIGHT, "per_minute": PER_MINUTE},
        "world": {
            "payments": world.info["payments"],
            "build_seconds": round(build_s, 2),
            "cb_list_seconds": round(list_s, 2),
        },
        "rows": [asdict(r) for r in rows],
        "naive_sample": len(sample),
        "note": (
            "the stand-ins run in their own process (as QuickBooks runs on Intuit's machines): "
            "QBO wait is the calls' latency plus the stand-in's own work; bot s is the bot's"
        ),
        "naive_same_diagnoses": same,
        "ratio_requests_naive_over_bulk": (
            naive.requests_per_failure / bulk.requests_per_failure
            if bulk.requests_per_failure
            else None
        ),
        "targets": {
            "bulk_requests_per_failure_max": 0.1,
            "bulk_requests_per_failure_ok": bulk.requests_per_failure <= 0.1,
            "ratio_min": 20,
            "ratio_ok": naive.requests_per_failure >= 20 * bulk.requests_per_failure,
            "backlog_seconds_max": TARGET_SECONDS,
            "backlog_seconds": round(bulk.wall_seconds + bulk.decide_seconds, 3),
            "backlog_ok": bulk.wall_seconds + bulk.decide_seconds < TARGET_SECONDS,
            "backlog_floor_seconds": round(bulk.requests * latency, 3),
        },
    }


def _table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['failures']} failed payments, {result['latency_seconds'] * 1000:.0f} ms per "
        f"call, QBO limits {IN_FLIGHT} in flight / {PER_MINUTE} per minute",
        f"{'approach':<16}{'failures':>9}{'requests':>10}{'req/failure':>13}"
        f"{'wall s':>9}{'wall s (backlog)':>18}{'correct':>9}",
    ]
    for r in result["rows"]:
        backlog = f"{r['wall_seconds_for_backlog']:.1f}" + (" (est.)" if r["estimated"] else "")
        lines.append(
            f"{r['approach']:<16}{r['failures']:>9}{r['requests']:>10}"
            f"{r['requests_per_failure']:>13.4f}{r['wall_seconds']:>9.2f}{backlog:>18}"
            f"{r['correct']:>9}"
        )
    ratio = result["ratio_requests_naive_over_bulk"]
    lines.append(
        f"naive/bulk requests per failure: {ratio:.0f}x; naive pass covered "
        f"{result['naive_sample']} failures"
        + (
            " (a random sample; its backlog wall time is an estimate)"
            if result["naive_sample"] < result["failures"]
            else ""
        )
        + f"; bulk and naive diagnoses identical on {result['naive_same_diagnoses']} of them"
    )
    lines.append(
        f"{'approach':<16}{'QBO wait s':>11}{'stand-in CPU s':>16}{'bot s':>8}{'bot CPU s':>11}"
        f"{'decide s':>10}{'floor s':>9}"
    )
    for r in result["rows"]:
        lines.append(
            f"{r['approach']:<16}{r['qbo_wait_seconds']:>11.2f}{r['standin_cpu_seconds']:>16.2f}"
            f"{r['bot_seconds']:>8.2f}{r['bot_cpu_seconds']:>11.2f}{r['decide_seconds']:>10.2f}"
            f"{r['floor_seconds']:>9.2f}"
        )
    t = result["targets"]
    bulk = result["rows"][1]
    ratio_floor = t["backlog_seconds"] / t["backlog_floor_seconds"]
    lines.append(
        f"backlog (bulk batch fetch + decide): {t['backlog_seconds']:.2f} s, floor (its "
        f"requests' latency, one after another: {bulk['requests']} x "
        f"{result['latency_seconds'] * 1000:.0f} ms) {t['backlog_floor_seconds']:.2f} s, "
        f"ratio {ratio_floor:.1f}x; "
        f"target < {TARGET_SECONDS} s: {'met' if t['backlog_ok'] else 'MISSED'}"
    )
    lines.append(
        f"targets: <= 0.1 req/failure: {'met' if t['bulk_requests_per_failure_ok'] else 'MISSED'};"
        f" >= 20x fewer than naive: {'met' if t['ratio_ok'] else 'MISSED'}"
    )
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark and write ``.bench-results/diagnosis-<time>.json``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--failures", type=int, default=1000)
    ap.add_argument("--latency", type=float, default=0.15)
    ap.add_argument("--naive-sample", type=int, default=120)
    ap.add_argument("--naive-full", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    # the naive pass reads deleted invoices one by one: the client logs each 610 it gets
    logging.getLogger("qb.client").setLevel(logging.ERROR)
    result = asyncio.run(
        run(args.failures, args.latency, args.naive_sample, args.naive_full, args.seed)
    )
    print(_table(result))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"diagnosis-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=_json_default) + "\n")
    print(f"wrote {path}")


def _json_default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)
    raise TypeError(type(o).__name__)


if __name__ == "__main__":
    main()
