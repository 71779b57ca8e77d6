"""Crashes: a real bot process (``tests/crash_worker.py``) runs a remedy and is SIGKILLed at
each boundary between its journal steps; then the lease it held expires, a restarted bot
runs ``resume_unfinished``, and: no duplicate QuickBooks payment, no remedy lost or left
unreported (the journal is finished, the audit stream and the thread say how it ended), and
the message tells the truth (resolved ⇔ the books and ConnectBooster say so).

``make test`` kills each boundary of Recreate once (the remedy that writes into the books);
``--run-slow`` kills each boundary of every remedy 10 times.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.models import FailureStatus, RemedyKind
from bot.remedies import resume_unfinished
from cb.models import SyncStatus
from tests.conftest import ROOT
from tests.harness import FINANCE_USER, World, world
from tests.test_remedies_e2e import message_text, qbo_payments, seed
from tests.test_secrets_guard import no_secrets_in_logs  # noqa: F401 (the autouse scan)

RUNS = 1
SLOW_RUNS = 10
REMEDIES = [
    ("paid-manually", RemedyKind.DISMISS_SYNC),
    ("paid-manually", RemedyKind.DELETE_HISTORY),
    ("credit-memo", RemedyKind.UNAPPLY_CREDIT_MEMO),
    ("recreated", RemedyKind.RECREATE_PAYMENT),
]
MAX_BOUNDARIES = 20


def plain_settings(w: World) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in w.settings().model_dump().items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        out[name] = str(value) if name == "alert_threshold" else value
    out["qbo_refresh_token"] = None  # the record is in Redis already
    return out


async def run_worker(w: World, tmp: Path, pid: str, kind: RemedyKind, kill: int) -> tuple[int, str]:
    spec = {
        "settings": plain_settings(w),
        "payment_id": pid,
        "kind": kind.value,
        "user": FINANCE_USER,
        "params": {},
        "kill_before_save": kill,
    }
    path = tmp / f"spec-{kind.value}-{kill}.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.crash_worker",
        str(path),
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode in (0, -9), err.decode()[-2000:]
    return int(proc.returncode or 0), out.decode()


async def expire_lease(w: World, pid: str) -> None:
    """What time does after a crash: the dead process's lease runs out."""
    await w.services.redis.delete(w.services.store.key("lease", f"payment:{pid}"))


def truth(w: World, cause: str, kind: RemedyKind, rec: Any) -> None:
    """The record, the books, ConnectBooster and the message agree."""
    pid, ref = rec.payment_id, rec.payment.reference
    assert len(qbo_payments(w, ref)) <= 1, "a duplicate QuickBooks payment"
    cbp = w.cb.payments.get(pid) or w.cb.deleted.get(pid)
    assert rec.remedy is not None and rec.remedy.finished_at is not None, "remedy left unfinished"
    text = message_text(w, rec)
    if rec.remedy.outcome == "ok":
        if kind == RemedyKind.DISMISS_SYNC:
            assert cbp is not None and cbp.sync.status == SyncStatus.DISMISSED
            assert rec.status == FailureStatus.RESOLVED
        elif kind == RemedyKind.DELETE_HISTORY:
            assert pid not in w.cb.payments and rec.status == FailureStatus.RESOLVED
        elif kind == RemedyKind.RECREATE_PAYMENT:
            assert len(qbo_payments(w, ref)) == 1 and rec.status == FailureStatus.RESOLVED
            assert cbp is not None and cbp.sync.status == SyncStatus.DISMISSED
        elif kind == RemedyKind.UNAPPLY_CREDIT_MEMO:
            assert rec.status in (FailureStatus.WAITING_SYNC, FailureStatus.RESOLVED)
            zero = rec.diagnosis.findings[0].credit_memo_payment_id
            assert zero is None or w.company.get("Payment", zero) is None
        assert "in progress" not in text.lower()
    else:
        assert rec.status == FailureStatus.OPEN and rec.remedy.error, rec.remedy
        if kind == RemedyKind.RECREATE_PAYMENT:
            assert len(qbo_payments(w, ref)) <= 1


async def crash_and_resume(
    redis_url: str, prefix: str, tmp: Path, cause: str, kind: RemedyKind, kill: int, run: int = 0
) -> bool:
    """One run; False when the remedy finished before the ``kill``-th boundary."""
    async with world(redis_url, prefix + f"{kind.value}:{kill}:{run}:", "all-causes") as w:
        rec = (await seed(w, [cause]))[cause]
        code, _out = await run_worker(w, tmp, rec.payment_id, kind, kill)
        if code == 0:
            return False
        await expire_lease(w, rec.payment_id)
        await resume_unfinished(w.services)  # the restarted bot
        fresh = await w.services.store.get_failure(rec.payment_id)
        assert fresh is not None
        if kill == 1:  # died before recording anything: nothing to resume, nothing done
            assert fresh.remedy is None and fresh.status == FailureStatus.OPEN
            assert qbo_payments(w, rec.payment.reference) == []
            return True
        await w.slack.wait_until(
            lambda: "in progress" not in message_text(w, fresh).lower(), within=10
        )
        fresh = await w.services.store.get_failure(rec.payment_id)
        truth(w, cause, kind, fresh)
        audits = [
            a
            for a in await w.services.store.audit_entries(50)
            if a.payment_id == rec.payment_id and a.action == kind.value
        ]
        assert len(audits) == 1, f"reported {len(audits)} times after a kill at save {kill}"
        return True


async def crash_every_boundary(
    redis_url: str, prefix: str, tmp: Path, runs: int, remedies: list[tuple[str, RemedyKind]]
) -> dict[str, int]:
    killed: dict[str, int] = {}
    for cause, kind in remedies:
        for kill in range(1, MAX_BOUNDARIES):
            crashed = False
            for run in range(runs):
                crashed = await crash_and_resume(redis_url, prefix, tmp, cause, kind, kill, run)
                if not crashed:
                    break
                killed[kind.value] = killed.get(kind.value, 0) + 1
            if not crashed:
                break
        else:
            pytest.fail(f"{kind.value} still running after {MAX_BOUNDARIES} boundaries")
    return killed


async def test_sigkill_at_every_step_boundary_of_every_remedy(
    redis_url: str, redis_prefix: str, redis_client: Any, tmp_path: Path
) -> None:
    """make test: Recreate (the remedy that writes a payment into the books) at every
    boundary; the other remedies run in the --run-slow variant."""
    fast = [r for r in REMEDIES if r[1] == RemedyKind.RECREATE_PAYMENT]
    killed = await crash_every_boundary(redis_url, redis_prefix, tmp_path, RUNS, fast)
    print(f"\nSIGKILLs survived by remedy: {killed}")
    assert killed.get(RemedyKind.RECREATE_PAYMENT.value, 0) >= 3


@pytest.mark.slow
async def test_sigkill_at_every_step_boundary_ten_times(
    redis_url: str, redis_prefix: str, redis_client: Any, tmp_path: Path
) -> None:
    killed = await crash_every_boundary(redis_url, redis_prefix, tmp_path, SLOW_RUNS, REMEDIES)
    print(f"\nSIGKILLs survived by remedy: {killed}")
    assert set(killed) == {k.value for _, k in REMEDIES}


async def test_crash_after_the_audit_before_the_final_save_reports_once(
    redis_url: str, redis_prefix: str, redis_client: Any, tmp_path: Path
) -> None:
    async with world(redis_url, redis_prefix + "probe:", "all-causes") as w:
        rec = (await seed(w, ["paid-manually"]))["paid-manually"]
        code, out = await run_worker(w, tmp_path, rec.payment_id, RemedyKind.DISMISS_SYNC, 999)
        assert code == 0
        last = int(json.loads(out.strip().splitlines()[-1])["saves"])
    async with world(redis_url, redis_prefix + "last:", "all-causes") as w:
        rec = (await seed(w, ["paid-manually"]))["paid-manually"]
        code, _ = await run_worker(w, tmp_path, rec.payment_id, RemedyKind.DISMISS_SYNC, last)
        assert code == -9
        await expire_lease(w, rec.payment_id)
        await resume_unfinished(w.services)
        audits = [
            a for a in await w.services.store.audit_entries(50) if a.payment_id == rec.payment_id
        ]
        assert len(audits) == 1, [a.detail for a in audits]
