"""The QuickBooks and ConnectBooster stand-ins of ``bench.bench_diagnosis``, in their own process.

    python -m bench.diagnosis_world --payments N --seed S --latency L --in-flight 10 \
        --per-minute 500 --cb-key KEY

Builds the backlog's world (``sandbox.scenarios.generate``), serves both stand-ins on loopback
port 0 with every call taking ``latency`` seconds in all and QBO's limits, prints one JSON line
(the URLs, the QBO app's credentials, a refresh token, what the scenario expects) and runs
until its stdin closes. Real QuickBooks runs on Intuit's machines: serving the stand-in from
its own process keeps its query work off the bot's event loop and CPU, so the benchmark's
"bot's own" time is the bot's alone; and the stand-in's own work is counted within each
call's ``latency`` (``QBOSandbox.latency_covers_work``), as a real call's time includes
Intuit's work — a call whose work takes longer than ``latency`` takes that long.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time

from sandbox.cb import CBSandbox
from sandbox.qbo import QBOSandbox
from sandbox.scenarios import generate
from sandbox.serving import serve


async def _main(args: argparse.Namespace) -> None:
    qbo = QBOSandbox()
    cb = CBSandbox(api_key=args.cb_key)
    t0 = time.perf_counter()
    world = generate(args.payments, qbo, cb, seed=args.seed, failure_share=args.failure_share)
    build_s = time.perf_counter() - t0
    gc.freeze()  # the world lives as long as the process: no collection need scan it again
    qbo.latency = args.latency
    qbo.latency_covers_work = True
    qbo.limit_in_flight = args.in_flight
    qbo.limit_per_window = args.per_minute
    qbo.window_seconds = 60.0
    cb.latency = args.latency
    qbo_runner, qbo_url = await serve(qbo.make_app())
    cb_runner, cb_url = await serve(cb.make_app())
    print(
        json.dumps(
            {
                "qbo_url": qbo_url,
                "cb_url": cb_url,
                "realm_id": world.realm_id,
                "client_id": qbo.client_id,
                "client_secret": qbo.client_secret,
                "refresh_token": qbo.issue_refresh_token(world.realm_id),
                "expected": world.expected,
                "payments": len(cb.payments),
                "build_seconds": build_s,
            }
        ),
        flush=True,
    )
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await qbo_runner.cleanup()
    await cb_runner.cleanup()


def main() -> None:
    """Parse the arguments, build and serve until stdin closes."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--payments", type=int, required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--failure-share", type=float, default=0.10)
    ap.add_argument("--latency", type=float, default=0.15)
    ap.add_argument("--in-flight", type=int, default=10)
    ap.add_argument("--per-minute", type=int, default=500)
    ap.add_argument("--cb-key", required=True)
    asyncio.run(_main(ap.parse_args()))


if __name__ == "__main__":
    main()
