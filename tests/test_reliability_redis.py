"""Redis restart under a steady stream of clicks and commands, on a ``redis-server`` of this
test's own (never the shared one), with an append-only file as a production Redis keeps:
while Redis is away every request is acked and answered with a clear "try again" (nothing
changed, no "something went wrong"), ``/healthz`` says 503; once Redis is back the bot
recovers by itself (no restart of the bot) and no failure is lost or posted twice."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest

from bot.models import FailureStatus, RemedyKind
from bot.poll.cycle import poll_once
from bot.store import StoreError
from tests.harness import FINANCE_USER, World, world
from tests.redis_server import RedisServer, answers
from tests.test_poller import posted_ids
from tests.test_remedies_e2e import click, qbo_payments, until_status
from tests.test_secrets_guard import no_secrets_in_logs  # noqa: F401 (the autouse scan)

TRY_AGAIN = ("try again", "Try again")
BROKEN = ("Something went wrong", "went wrong on my side", "went wrong on the bot")


class DurableRedis(RedisServer):
    """A RedisServer that keeps an append-only file, so a restart keeps the data."""

    def start(self, wait: float = 10.0) -> DurableRedis:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                self.workdir,
                "--logfile",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if answers(self.url, timeout=0.2):
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not answer")


@pytest.fixture
def own_redis() -> AsyncIterator[DurableRedis]:
    server = DurableRedis().start()
    try:
        yield server  # type: ignore[misc]
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


@dataclass
class Stream:
    """Commands and Re-check clicks sent one after another until stopped."""

    w: World
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def one(self, i: int) -> None:
        w = self.w
        if i % 2:
            resp = await w.slack.send_command(
                w.bot.events_url,
                "/failed-payments",
                "list",
                user_id=FINANCE_USER,
                channel_id="C0FAILED",
            )
        else:
            rec = self.records[i // 2 % len(self.records)]
            assert rec.slack is not None
            resp = await w.slack.click(
                w.bot.events_url,
                message_ts=rec.slack.ts,
                channel=rec.slack.channel,
                action_id="fp_recheck",
                user_id=FINANCE_USER,
                strict=False,
                value=self.values[rec.payment_id],
            )
        self.sent += 1
        self.statuses[resp.status] += 1

    async def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            await self.one(i)
            i += 1
            await asyncio.sleep(0.01)

    records: list = field(default_factory=list)  # type: ignore[type-arg]
    values: dict[str, str] = field(default_factory=dict)


def answers_to(w: World) -> list[str]:
    return [e.text or str(e.blocks) for e in w.slack.ephemeral(FINANCE_USER)]


async def wait_answers(w: World, n: int, within: float = 20.0) -> None:
    await w.slack.wait_until(lambda: len(w.slack.ephemeral(FINANCE_USER)) >= n, within=within)


async def healthz(w: World) -> int:
    async with aiohttp.ClientSession() as s, s.get(f"{w.bot.url}/healthz") as resp:
        return resp.status


async def test_redis_restart_under_clicks_and_commands(
    own_redis: DurableRedis, redis_prefix: str
) -> None:
    async with world(own_redis.url, redis_prefix, "all-causes") as w:
        w.slack.rate_limit_enabled = False
        expected = w.scenario.failed_ids
        await poll_once(w.services, post_interval=0)
        assert set(posted_ids(w)) == expected
        recs = await w.services.store.get_failures(sorted(expected))
        target = next(r for r in recs if w.scenario.expected.get(r.payment_id) == "recreated")
        stream = Stream(w)
        stream.records = [r for r in recs if r.payment_id != target.payment_id]
        for r in recs:
            assert r.slack is not None
            msg = w.slack.message(r.slack.channel, r.slack.ts)
            assert msg is not None
            stream.values[r.payment_id] = next(
                el["value"] for _, el in msg.action_elements() if el["action_id"] == "fp_recheck"
            )

        # phase 1: Redis up, a steady stream
        task = asyncio.create_task(stream.run())
        await wait_answers(w, 6)
        # phase 2: Redis away mid-stream
        own_redis.stop()
        down_from = len(answers_to(w))
        await wait_answers(w, down_from + 10)
        assert await healthz(w) == 503
        with pytest.raises(StoreError):
            await poll_once(w.services, post_interval=0)
        before_click = len(answers_to(w))
        await click(w, target, RemedyKind.RECREATE_PAYMENT)  # refused: nothing changes
        await wait_answers(w, before_click + 1)
        assert qbo_payments(w, target.payment.reference) == []
        # phase 3: Redis back (same port, its data kept); the bot recovers by itself
        own_redis.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while await healthz(w) != 200:
            assert loop.time() < deadline, "the bot did not recover after Redis came back"
            await asyncio.sleep(0.05)
        up_from = len(answers_to(w))
        await wait_answers(w, up_from + 6)
        stream.stop.set()
        await task
        await wait_answers(w, stream.sent + 1)  # every request answered (+1: the click)

        texts = answers_to(w)
        assert stream.statuses == Counter({200: stream.sent}), stream.statuses
        assert not [t for t in texts if any(b in t for b in BROKEN)]
        outage = texts[down_from + 2 : before_click]  # clear of the requests in flight at stop
        assert outage and all(any(t in x for t in TRY_AGAIN) for x in outage), outage[:3]
        assert "nothing was changed" in " ".join(outage).lower()
        after = texts[up_from + 2 :]
        assert after and not [x for x in after if "not answering" in x], after[:3]

        # no failure lost, none posted twice; and remedies work again
        assert set(await w.services.store.open_ids()) == expected
        report = await poll_once(w.services, post_interval=0)
        assert not report.new
        assert Counter(posted_ids(w)) == Counter(dict.fromkeys(expected, 1))
        fresh = await w.services.store.get_failure(target.payment_id)
        assert fresh is not None and fresh.status == FailureStatus.OPEN
        await click(w, fresh, RemedyKind.RECREATE_PAYMENT)
        done = await until_status(w, target.payment_id, FailureStatus.RESOLVED)
        assert done.remedy is not None and done.remedy.outcome == "ok"
        assert len(qbo_payments(w, target.payment.reference)) == 1
