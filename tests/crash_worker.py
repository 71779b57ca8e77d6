"""A bot process that runs one remedy and SIGKILLs itself at a chosen step boundary.

    python -m tests.crash_worker <spec.json>

``spec.json``: ``{"settings": {...}, "payment_id": "...", "kind": "dismiss_sync",
"user": "U…", "params": {...}, "kill_before_save": k}``. Every journal step the remedy
records is a ``Store.put_failure`` (or, under the payment's lease, a
``Store.put_failure_if_held``); the worker sends itself SIGKILL just *before* the k-th
one — so k=1 dies before anything is recorded, and each later k dies right after an
external write whose result was not recorded yet (the crash window that matters). No
``finally`` runs, no socket is closed politely: it is the real thing. Exit status 0 and
``{"saves": n}`` on stdout when the remedy finished before the k-th save.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import Any

import app as app_module
from bot.models import RemedyKind
from bot.remedies import run_remedy
from bot.runtime.settings import Settings


async def main(spec: dict[str, Any]) -> int:
    settings = Settings(_env_file=None, **spec["settings"])  # type: ignore[call-arg]
    services = await app_module.build_services(settings, instance="crash-worker")
    kill_at = int(spec["kill_before_save"])
    store = services.store
    real = store.put_failure
    saves = 0

    async def put_failure(rec: Any) -> None:
        nonlocal saves
        saves += 1
        if saves == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        await real(rec)

    real_if_held = store.put_failure_if_held

    async def put_failure_if_held(rec: Any, lease: Any) -> bool:
        nonlocal saves
        saves += 1
        if saves == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return await real_if_held(rec, lease)

    store.put_failure = put_failure  # type: ignore[method-assign]
    store.put_failure_if_held = put_failure_if_held  # type: ignore[method-assign]
    outcome = await run_remedy(
        services,
        spec["payment_id"],
        RemedyKind(spec["kind"]),
        spec["user"],
        params=spec.get("params") or None,
    )
    print(json.dumps({"saves": saves, "result": str(outcome.result)}))
    await services.aclose()
    return 0


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        sys.exit(asyncio.run(main(json.load(f))))
