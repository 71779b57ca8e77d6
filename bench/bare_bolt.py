"""The floor for ``bench_ack``: a bare Bolt app in its own process.

    python -m bench.bare_bolt PORT SLACK_API_URL

The same stack as the bot's HTTP mode and nothing more: ``slack_bolt``'s ``AsyncApp`` with
its own request verification (the benchmarks' signing secret), served by its aiohttp
``web_app`` through an ``AppRunner`` and a ``TCPSite`` as the bot is, with one button
listener that only acks. Its web client points at the Slack stand-in, as the bot's does
(Bolt reads ``auth.test`` once, at the first request). ``bench_ack`` sends it the very
click bodies it sends the bot, at the same concurrency, in the same run, and reports the
bot's figures as a ratio of these.
Runs until its stdin closes; prints ``ready`` once it listens.
"""

from __future__ import annotations

import asyncio
import re
import sys
from typing import Any

from aiohttp import web

from bench.common import BOT_TOKEN, SIGNING_SECRET


async def _serve(port: int, api_url: str) -> None:
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=BOT_TOKEN, base_url=api_url)
    bolt = AsyncApp(client=client, signing_secret=SIGNING_SECRET)

    @bolt.action(re.compile(".*"))
    async def only_ack(ack: Any) -> None:
        await ack()

    runner = web.AppRunner(bolt.web_app(path="/slack/events"))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1]), sys.argv[2]))
