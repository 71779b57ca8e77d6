"""Every benchmark, one after the other, then a summary table.

    python -m bench [--quick] [--only ack,command]

Runs ``bench_diagnosis``, ``bench_burst``, ``bench_ack``, ``bench_command`` and
``bench_reconcile``, ``bench_scale``, each in its
own process (``python -m bench.<name>``: its own table is printed as it finishes and its
figures kept in ``.bench-results/<kind>-<time>.json``), then prints one line per benchmark
and writes them all to ``.bench-results/summary-<time>.json``. ``--quick`` runs smaller
loads (for a smoke test; its figures are not the ones the targets are about). Exit status 1
when a benchmark failed to run or missed its target.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS, write_result

# name -> (result file prefix, full args, quick args)
BENCHES: dict[str, tuple[str, list[str], list[str]]] = {
    "diagnosis": ("diagnosis", [], ["--failures", "200", "--naive-sample", "30"]),
    "burst": ("burst", [], ["--failures", "200", "--real-seconds", "5"]),
    "ack": ("ack", [], ["--rounds", "2"]),
    "command": ("commands", [], ["--failures", "2000", "--runs", "40", "--burst", "10"]),
    "reconcile": ("reconcile", [], ["--transactions", "300"]),
    "scale": ("scale", [], ["--sizes", "500,5000", "--runs", "10"]),
    "webhooks": ("webhooks", [], ["--events", "200", "--seconds", "5", "--edits", "10"]),
}


def _newest(prefix: str, since: float) -> Path | None:
    found = [p for p in RESULTS.glob(f"{prefix}-*.json") if p.stat().st_mtime >= since]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _figures(name: str, r: dict[str, Any]) -> tuple[str, bool | None]:
    """A one-line digest of a result and whether it met its target (None: no target)."""
    if name == "ack":
        return (
            f"ack p50 {r['p50_ms']} / p99 {r['p99_ms']} ms, floor (bare Bolt) p50 "
            f"{r['floor']['p50']} / p99 {r['floor']['p99']} ms, ratio p99 {r['ratio_p99']}x "
            f"(target <= {r['target_ratio_p99']}x; {r['samples']} clicks, "
            f"{r['concurrent_clicks']} at once)",
            bool(r["met"]),
        )
    if name == "command":
        t = r["targets"]
        missed = ", ".join(t.get("first_page_missed_by") or []) or "none"
        return (
            f"{r['open_failures']:,} open: ack p99 {r['ack_ms']['all']['p99']} ms, first "
            f"page p99 {r['first_page_ms']['all']['p99']} ms (kinds over "
            f"{t['first_page_p99_ms']:.0f} ms: {missed}); burst of {r['burst']['commands']}: "
            f"first page p99 {r['burst']['first_page_ms']['p99']} ms (target "
            f"< {t['burst_first_page_p99_ms']:.0f})",
            bool(t["ack_ok"] and t["first_page_ok"] and t["burst_ok"]),
        )
    if name == "diagnosis":
        t, bulk = r["targets"], r["rows"][1]
        return (
            f"{r['failures']:,} failures: backlog {t['backlog_seconds']} s (QBO wait "
            f"{bulk['qbo_wait_seconds']:.2f} s, bot {bulk['bot_seconds']:.2f} s, decide "
            f"{bulk['decide_seconds']:.2f} s), floor {t['backlog_floor_seconds']} s; "
            f"{bulk['requests_per_failure']:.4f} requests per failure; target < "
            f"{t['backlog_seconds_max']} s",
            bool(t["backlog_ok"] and t["bulk_requests_per_failure_ok"]),
        )
    if name == "scale":
        big = r["sizes"][-1]
        return (
            f"{big['open']:,} open: list p50 {big['list none']['p50']} ms, stats p50 "
            f"{big['stats 7d']['p50']} ms, poll (store side) p50 "
            f"{big['poll cycle (store side)']['p50']} ms; {big['redis_bytes_per_open']} B "
            f"per open in Redis; within {r['flat_ratio']}x of the smallest size: "
            f"{'yes' if r['flat'] else 'no: ' + ', '.join(r['not_flat'])}",
            bool(r["flat"]),
        )
    if name == "reconcile":
        parts = []
        for p in r["passes"]:
            f, c = p["failed_transfer"], p["refund_cause"]
            parts.append(
                f"{'pattern' if p['invoice_pattern'] else 'no pattern'}: failed transfer "
                f"P {f['precision']} R {f['recall']}, refund P {c['precision']} "
                f"R {c['recall']}, {p['qbo_per_reconciled_with_diagnosis']} QBO req/sale"
            )
        return f"{r['transactions']} transactions; " + "; ".join(parts), bool(r["met"])
    keys = [k for k, v in r.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    return ", ".join(f"{k} {r[k]}" for k in keys[:5]) or "see its table above", None


def main() -> int:
    """Run the benchmarks; print and keep a summary."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="smaller loads (a smoke test)")
    ap.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(BENCHES)}")
    args = ap.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(unknown)}")
    rows: list[dict[str, Any]] = []
    for name in names:
        prefix, full, quick = BENCHES[name]
        print(f"== bench_{name}{' (quick)' if args.quick else ''}", flush=True)
        started = time.time()
        t0 = time.perf_counter()
        rc = subprocess.call(
            [sys.executable, "-m", f"bench.bench_{name}", *(quick if args.quick else full)]
        )
        seconds = round(time.perf_counter() - t0, 1)
        path = _newest(prefix, started)
        row: dict[str, Any] = {
            "bench": name,
            "exit": rc,
            "seconds": seconds,
            "result": str(path) if path else None,
            "met": None,
            "figures": "no result written",
        }
        if rc == 0 and path is not None:
            row["figures"], row["met"] = _figures(name, json.loads(path.read_text()))
        rows.append(row)
    print("\n== summary" + (" (quick mode: smaller loads)" if args.quick else ""))
    print(f"{'bench':<11}{'status':<10}{'time':>8}  figures")
    for row in rows:
        status = (
            "FAILED"
            if row["exit"] != 0 or row["result"] is None
            else "met"
            if row["met"]
            else "MISSED"
            if row["met"] is False
            else "ok"
        )
        print(f"{row['bench']:<11}{status:<10}{row['seconds']:>7}s  {row['figures']}")
    out = write_result("summary", {"quick": args.quick, "benchmarks": rows})
    print(f"wrote {out}")
    bad = any(r["exit"] != 0 or r["result"] is None or r["met"] is False for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
