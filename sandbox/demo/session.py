"""One running demo: what :func:`~sandbox.demo.startup.start_demo` started, what the page
shows, and what the page does.

:class:`Demo` holds the stand-ins, the bot's services and servers, and the page's memory (who
opened which modal, in which thread a user last acted). The page's clicks, commands and
modal submissions go through the Slack stand-in's driver, which signs them and posts them to
the bot's ``/slack/events`` as Slack would; "Run ConnectBooster sync" runs the portal's sync
and then one poll cycle so the messages follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from bot.runtime.services import Services
from sandbox.cb import CBSandbox
from sandbox.demo.ledger import qbo_books
from sandbox.demo.messages import message_json, payment_of
from sandbox.demo.workspace import (
    BOT_NAME,
    CHANNELS,
    SYNC_POLL_DEADLINE,
    USERS,
    WORKSPACE,
    DemoUser,
    user_by_id,
)
from sandbox.qbo import QBOSandbox, SandboxCompany
from sandbox.scenarios import World
from sandbox.slack import BOT_USER_ID, EphemeralMessage, SlackSandbox
from sandbox.stand_ins import StandIns

log = logging.getLogger(__name__)


@dataclass
class DemoAnswer:
    """What the page is told after it acted: ok, or why not (per form field)."""

    ok: bool
    error: str | None = None
    errors: dict[str, str] | None = None
    status: int = 200

    def response(self) -> web.Response:
        """The answer as the page reads it (JSON)."""
        body: dict[str, Any] = {"ok": self.ok}
        if self.error:
            body["error"] = self.error
        if self.errors:
            body["errors"] = self.errors
        return web.json_response(body, status=self.status)


@dataclass
class Demo:
    """Everything :func:`start_demo` started. ``url`` is the workbench; ``close()`` stops all."""

    url: str
    scenario: str
    stand_ins: StandIns
    services: Services
    bot_url: str
    prefix: str
    redis_notice: str | None
    first_poll: asyncio.Event = field(default_factory=asyncio.Event)
    first_poll_error: str | None = None
    runners: list[web.AppRunner] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _trigger_user: dict[str, str] = field(default_factory=dict)
    _thread_of_click: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    _ephemeral_thread: dict[str, str | None] = field(default_factory=dict)
    _real_redis: bool = True
    _closed: bool = False

    @property
    def slack(self) -> SlackSandbox:
        return self.stand_ins.slack

    @property
    def slack_url(self) -> str:
        return self.stand_ins.slack_url

    @property
    def qbo(self) -> QBOSandbox:
        return self.stand_ins.qbo

    @property
    def cb(self) -> CBSandbox:
        return self.stand_ins.cb

    @property
    def world(self) -> World:
        assert self.stand_ins.world is not None, "the demo always runs a scenario"
        return self.stand_ins.world

    @property
    def company(self) -> SandboxCompany:
        return self.world.company

    @property
    def events_url(self) -> str:
        """The bot's ``/slack/events``, where the Slack stand-in sends what the page does."""
        return f"{self.bot_url}/slack/events"

    async def wait_first_poll(self, within: float = 60.0) -> None:
        """Return once the first poll cycle has posted the failures (or failed)."""
        await asyncio.wait_for(self.first_poll.wait(), within)

    async def close(self) -> None:
        """Stop the poller, finish remedies in flight, stop every server, remove the run's
        Redis keys (a real Redis) and close every client."""
        if self._closed:
            return
        self._closed = True
        for task in self.tasks:
            await _cancel(task)
        for runner in self.runners:
            await runner.cleanup()
        await self.services.drain()
        if self._real_redis:
            with contextlib.suppress(Exception):
                await _delete_prefix(self.services.redis, self.prefix)
        await self.services.aclose()
        await self.stand_ins.close()

    # ---- what the page shows ----

    def user(self, user_id: str) -> DemoUser | None:
        """The demo user ``user_id``, if the page can act as them."""
        return user_by_id(user_id)

    def state(self, user_id: str) -> dict[str, Any]:
        """Channels, messages (threads included), and what only ``user_id`` sees."""
        messages: dict[str, list[dict[str, Any]]] = {}
        threads: dict[str, list[dict[str, Any]]] = {}
        for ch in CHANNELS:
            top = self.slack.messages(ch.id)
            messages[ch.id] = []
            for m in top:
                replies = self.slack.thread(ch.id, m.ts) if m.reply_count else []
                row = message_json(m)
                row["latest_reply"] = replies[-1].ts if replies else None
                messages[ch.id].append(row)
                if replies:
                    threads[f"{ch.id}/{m.ts}"] = [message_json(r) for r in replies]
        return {
            "ok": True,
            "workspace": WORKSPACE,
            "bot": {"name": BOT_NAME, "id": BOT_USER_ID},
            "notice": self.redis_notice,
            "redis": "State: in memory (not kept)" if self.redis_notice else "State: Redis",
            "scenario": self.scenario,
            "users": [
                {"id": u.id, "name": u.name, "role": u.role, "finance": u.finance} for u in USERS
            ],
            "channels": [{"id": c.id, "name": c.name, "purpose": c.purpose} for c in CHANNELS],
            "messages": messages,
            "threads": threads,
            "ephemeral": [self._ephemeral_json(e) for e in self.slack.ephemeral(user_id)],
            "views": [
                {"id": v.id, "hash": v.hash, "view": v.view}
                for v in self.slack.views.values()
                if not v.closed and self._trigger_user.get(v.trigger_id or "") == user_id
            ],
            "home": self.slack.home_views.get(user_id),
            "first_poll_done": self.first_poll.is_set(),
            "first_poll_error": self.first_poll_error,
        }

    def _ephemeral_json(self, e: EphemeralMessage) -> dict[str, Any]:
        if e.ts not in self._ephemeral_thread:
            # Slack shows a reply where the user acted: the thread of the last click before it.
            thread = None
            for user, channel, thread_ts, at in reversed(self._thread_of_click):
                if user == e.user and channel == e.channel and at <= e.ts:
                    thread = thread_ts
                    break
            self._ephemeral_thread[e.ts] = thread
        return {
            "id": f"{e.ts}:{e.replaced}",
            "channel": e.channel,
            "ts": e.ts,
            "thread_ts": self._ephemeral_thread[e.ts],
            "text": e.text,
            "blocks": e.blocks,
            "payment_id": payment_of(e.blocks),
        }

    def _remember(
        self, user: str, channel: str, thread_ts: str | None, trigger_id: str | None
    ) -> None:
        if trigger_id:
            self._trigger_user[trigger_id] = user
        self._thread_of_click.append((user, channel, thread_ts, f"{self.slack.clock():.6f}"))
        del self._thread_of_click[:-200]

    async def books(self, payment_id: str) -> dict[str, Any]:
        """The payment in ConnectBooster, and the QBO objects of its customer."""
        p = self.cb.payments.get(payment_id)
        deleted = False
        if p is None:
            p = self.cb.deleted.get(payment_id)
            deleted = p is not None
        if p is None:
            return {"ok": False, "error": f"ConnectBooster has no payment {payment_id}."}
        counts: dict[str, int] = {}
        for other in self.cb.payments.values():
            counts[other.sync.status.value] = counts.get(other.sync.status.value, 0) + 1
        failure: dict[str, Any] | None = None
        with contextlib.suppress(Exception):
            rec = await self.services.store.get_failure(payment_id)
            if rec is not None:
                failure = {"status": rec.status.value, "cause": rec.cause.label}
        return {
            "ok": True,
            "payment": p.to_wire(),
            "portal": {
                "status": "deleted" if deleted else p.sync.status.value,
                "counts": counts,
                "sync_runs": self.cb.sync_runs,
            },
            "failure": failure,
            "qbo": qbo_books(
                self.company,
                p.customer.qb_customer_id,
                [a.qb_invoice_id for a in p.applications],
                {a.qb_invoice_id: a.invoice_number for a in p.applications},
            ),
        }

    # ---- what the page does ----

    async def command(self, user: str, channel: str, text: str) -> DemoAnswer:
        """``/failed-payments <text>`` typed by ``user`` in ``channel``."""
        self._remember(user, channel, None, None)
        resp = await self.slack.send_command(
            self.events_url, "/failed-payments", text, user_id=user, channel_id=channel
        )
        self._remember(user, channel, None, resp.trigger_id)
        return _answer(resp.status)

    async def click(
        self, user: str, channel: str, message_ts: str, action_id: str, value: str | None
    ) -> DemoAnswer:
        """``user`` clicks the button ``action_id`` on a message (or ephemeral message)."""
        msg = self.slack.message(channel, message_ts)
        if msg is not None:
            thread = msg.thread_ts if msg.thread_ts and msg.thread_ts != msg.ts else None
        else:
            thread = self._ephemeral_thread.get(message_ts)
        self._remember(user, channel, thread, None)
        try:
            resp = await self.slack.click(
                self.events_url,
                message_ts=message_ts,
                channel=channel,
                action_id=action_id,
                value=value,
                user_id=user,
            )
        except LookupError:
            return DemoAnswer(False, "That button is no longer on the message.", status=409)
        self._remember(user, channel, thread, resp.trigger_id)
        return _answer(resp.status)

    async def open_home(self, user: str) -> DemoAnswer:
        """``user`` opens the app's Home tab (``app_home_opened``)."""
        return _answer((await self.slack.open_home(self.events_url, user_id=user)).status)

    async def home_click(self, user: str, action_id: str, value: str | None) -> DemoAnswer:
        """``user`` clicks a button on their Home tab."""
        try:
            resp = await self.slack.home_click(
                self.events_url, user_id=user, action_id=action_id, value=value
            )
        except LookupError:
            return DemoAnswer(False, "That button is no longer on the Home tab.", status=409)
        self._remember(user, "", None, resp.trigger_id)
        return _answer(resp.status)

    async def submit_view(
        self, user: str, view_id: str, values: dict[str, dict[str, Any]]
    ) -> DemoAnswer:
        """``user`` submits the open modal ``view_id`` with ``values`` (block → action →
        state, as Slack sends it)."""
        opened = self.slack.views.get(view_id)
        if opened is None or opened.closed:
            return DemoAnswer(False, "That form is no longer open.", status=409)
        errors = _missing_inputs(opened.view, values)
        if errors:
            return DemoAnswer(False, "Fill in the form.", errors=errors, status=200)
        resp = await self.slack.submit_view(self.events_url, view_id, values, user)
        if resp.status != 200:
            return _answer(resp.status)
        body = resp.json() if resp.body.strip() else None
        if isinstance(body, dict) and body.get("response_action") == "errors":
            errs = body.get("errors") if isinstance(body.get("errors"), dict) else {}
            return DemoAnswer(False, "The bot did not accept the form.", errors=errs)
        return DemoAnswer(True)

    def close_view(self, user: str, view_id: str) -> DemoAnswer:
        """``user`` cancels the modal (the bot asks for no ``view_closed``)."""
        opened = self.slack.views.get(view_id)
        if opened is None or self._trigger_user.get(opened.trigger_id or "") != user:
            return DemoAnswer(False, "No such form.", status=404)
        opened.closed = True
        return DemoAnswer(True)

    async def run_sync(self) -> dict[str, Any]:
        """ConnectBooster's sync run now, then one poll cycle so the messages follow."""
        from bot.poll.cycle import poll_once

        report = await self.cb.sync_run()
        poll: dict[str, Any] | None = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SYNC_POLL_DEADLINE
        while True:
            result = await poll_once(self.services)
            if not result.skipped:
                poll = result.counts
                break
            if loop.time() > deadline:
                break
            await asyncio.sleep(0.25)  # the background poller holds the lease: try again
        return {"ok": True, "report": report.model_dump(mode="json"), "poll": poll}


async def _cancel(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait for it; cancel again while it runs on (Python 3.11 can
    swallow a cancel that lands as an inner ``wait_for`` completes)."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=0.5)
    if not task.cancelled() and task.exception() is not None:
        log.warning("%s ended with %r", task.get_name(), task.exception())


async def _delete_prefix(client: aioredis.Redis, prefix: str) -> int:
    keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
    for i in range(0, len(keys), 500):
        await client.delete(*keys[i : i + 500])
    return len(keys)


def _answer(status: int) -> DemoAnswer:
    if status == 200:
        return DemoAnswer(True)
    return DemoAnswer(False, f"The bot answered HTTP {status}.", status=502)


def _missing_inputs(view: dict[str, Any], values: dict[str, dict[str, Any]]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for b in view.get("blocks", []):
        if b.get("type") != "input" or b.get("optional"):
            continue
        bid = str(b.get("block_id", ""))
        aid = str((b.get("element") or {}).get("action_id", ""))
        state = (values.get(bid) or {}).get(aid)
        if not isinstance(state, dict):
            errors[bid] = "Please complete this required field."
            continue
        if "selected_option" in state and not state["selected_option"]:
            errors[bid] = "Please choose an option."
        elif "value" in state and not str(state["value"] or "").strip():
            errors[bid] = "Please complete this required field."
    return errors
