"""``python app.py sandbox``: the QBO and ConnectBooster sandboxes on local ports, seeded with
one scenario, and the settings that point the bot at them."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from typing import TextIO

from aiohttp import web

from sandbox.cb import CBSandbox
from sandbox.qbo import QBOSandbox
from sandbox.scenarios import World, build
from sandbox.serving import serve

CB_SANDBOX_KEY = "cb-sandbox-key"


@dataclass
class SandboxServers:
    """Both sandboxes, running. ``env`` holds the bot's settings that point at them."""

    qbo: QBOSandbox
    cb: CBSandbox
    world: World
    qbo_url: str
    cb_url: str
    env: dict[str, str]
    runners: list[web.AppRunner] = field(default_factory=list)

    async def close(self) -> None:
        """Stop both servers."""
        for runner in reversed(self.runners):
            await runner.cleanup()
        self.runners.clear()

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
    qbo = QBOSandbox(seed=seed)
    cb = CBSandbox(api_key=CB_SANDBOX_KEY, seed=seed)
    world = build(scenario, qbo, cb, seed=seed)
    runners: list[web.AppRunner] = []
    try:
        qbo_runner, qbo_url = await serve(qbo.make_app(), host, qbo_port)
        runners.append(qbo_runner)
        cb.qbo_url = qbo_url
        cb.sync_interval = sync_interval
        cb_runner, cb_url = await serve(cb.make_app(), host, cb_port)
        runners.append(cb_runner)
    except BaseException:
        for r in reversed(runners):
            await r.cleanup()
        raise
    env = {
        "QBO_ENVIRONMENT": "sandbox",
        "QBO_BASE_URL": qbo_url,
        "QBO_TOKEN_URL": f"{qbo_url}/oauth2/v1/tokens/bearer",
        "QBO_CLIENT_ID": qbo.client_id,
        "QBO_CLIENT_SECRET": qbo.client_secret,
        "QBO_REALM_ID": world.realm_id,
        "QBO_REFRESH_TOKEN": qbo.issue_refresh_token(world.realm_id),
        "CB_BASE_URL": cb_url,
        "CB_API_KEY": CB_SANDBOX_KEY,
    }
    servers = SandboxServers(qbo=qbo, cb=cb, world=world, qbo_url=qbo_url, cb_url=cb_url,
                             env=env, runners=runners)
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
