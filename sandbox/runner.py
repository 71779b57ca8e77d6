"""``python app.py sandbox``: the QBO and ConnectBooster sandboxes on local ports, seeded with
one scenario, and the settings that point the bot at them."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import TextIO

from sandbox.scenarios import World
from sandbox.stand_ins import SANDBOX_CB_KEY, Sandboxes, start_sandboxes


@dataclass
class SandboxServers:
    """Both sandboxes, running, seeded with a scenario. ``env`` holds the bot's settings
    that point at them."""

    sandboxes: Sandboxes
    world: World
    env: dict[str, str]

    @property
    def qbo_url(self) -> str:
        return self.sandboxes.qbo_url

    @property
    def cb_url(self) -> str:
        return self.sandboxes.cb_url

    async def close(self) -> None:
        """Stop both servers."""
        await self.sandboxes.close()

    def describe(self) -> str:
        """What is running and the settings, ready to paste into a ``.env``."""
        lines = [
            f"QuickBooks Online sandbox: {self.qbo_url}  (company {self.world.realm_id})",
            f"ConnectBooster sandbox:    {self.cb_url}  (state: {self.cb_url}/sandbox/state, "
            f"sync now: POST {self.cb_url}/sandbox/sync-run)",
            self.world.summary(),
            "",
            "# Settings that point the bot at these sandboxes (sandbox-only values):",
            *(f"{k}={v}" for k, v in self.env.items()),
        ]
        return "\n".join(lines)


async def serve_sandboxes(
    scenario: str,
    host: str = "127.0.0.1",
    qbo_port: int = 0,
    cb_port: int = 0,
    *,
    sync_interval: float | None = 60.0,
    out: TextIO | None = sys.stdout,
    seed: int = 7,
) -> SandboxServers:
    """Build ``scenario`` in fresh sandboxes, start both (port 0: any free port), print their
    URLs and the bot's settings to ``out`` (``None``: print nothing) and return them running.
    ConnectBooster's sync runs every ``sync_interval`` seconds (``None``: on demand only).
    Call :meth:`SandboxServers.close` to stop."""
    sandboxes = await start_sandboxes(
        cb_api_key=SANDBOX_CB_KEY,
        scenario=scenario,
        seed=seed,
        rng_seed=seed,
        sync_interval=sync_interval,
        host=host,
        qbo_port=qbo_port,
        cb_port=cb_port,
    )
    assert sandboxes.world is not None
    servers = SandboxServers(sandboxes, sandboxes.world, sandboxes.bot_env())
    if out is not None:
        print(servers.describe(), file=out, flush=True)
    return servers


async def serve_sandboxes_forever(
    scenario: str, host: str = "127.0.0.1", qbo_port: int = 0, cb_port: int = 0
) -> None:
    """:func:`serve_sandboxes`, then serve until interrupted (Ctrl-C)."""
    servers = await serve_sandboxes(scenario, host, qbo_port, cb_port)
    try:
        await asyncio.Event().wait()
    finally:
        await servers.close()
