"""``python app.py demo``: the whole bot against local stand-ins, in a Slack-like page.

:func:`start_demo` starts the QuickBooks Online and ConnectBooster sandboxes seeded with a
scenario, the Slack stand-in, and the bot wired to them exactly as in production (HTTP mode:
``/slack/events`` behind Slack's request signatures, the poller, Redis), then serves the
*workbench*: one page that looks like a Slack channel (the bot's messages drawn from their
Block Kit, digest threads, ephemeral replies, modals, a box for ``/failed-payments``, a switch
for the acting user) beside a panel with the books (the QBO sandbox's invoices, payments and
credit memos for the payment in view) and the portal (its ConnectBooster sync state, and a
"Run ConnectBooster sync" button).

The page's clicks, commands and modal submissions go to ``/demo/api/...``; the workbench
hands them to the Slack stand-in's driver, which signs them and posts them to the bot's
``/slack/events`` as Slack would. The page polls ``/demo/api/state`` about once a second.

Redis: ``REDIS_URL`` when it answers (keys under a fresh ``fpdemo:<random>:`` prefix, removed
at exit), otherwise an in-process stand-in (fakeredis) and a visible notice that nothing is
kept. QuickBooks tokens are encrypted with a Fernet key generated for the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import signal
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from cryptography.fernet import Fernet

from sandbox.cb import CBSandbox
from sandbox.qbo import QBOSandbox, SandboxCompany
from sandbox.runner import SandboxServers, serve_sandboxes
from sandbox.scenarios import SCENARIOS, World
from sandbox.serving import serve
from sandbox.slack import BOT_USER_ID, EphemeralMessage, Message, SlackSandbox

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEFAULT_PORT = 3000
DEFAULT_REDIS_URL = "redis://localhost:6379/0"
SIGNING_SECRET_BYTES = 24
POLL_INTERVAL_SECONDS = 15
"""The demo's poller runs every 15 s (production default: 300 s)."""
SYNC_POLL_DEADLINE = 20.0
"""Seconds "Run ConnectBooster sync" waits for the poller lease before giving up."""
MAX_LEDGER_ROWS = 25

FAILED_CHANNEL = "C0FAILEDPAY"
ALERT_CHANNEL = "C0FINALERTS"
FINANCE_USER = "U0FINANCE1"
OUTSIDER = "U0OUTSIDER"
WORKSPACE = "Brightpath IT"
BOT_NAME = "Failed Payments"


@dataclass(frozen=True)
class DemoUser:
    """A Slack user the page can act as."""

    id: str
    name: str
    role: str
    finance: bool


@dataclass(frozen=True)
class DemoChannel:
    id: str
    name: str
    purpose: str


USERS = (
    DemoUser(FINANCE_USER, "Dana Reyes", "Accounts receivable · may act", True),
    DemoUser(OUTSIDER, "Sam Porter", "Sales · not in finance", False),
)
CHANNELS = (
    DemoChannel(FAILED_CHANNEL, "failed-payments",
                "One message per ConnectBooster payment QuickBooks rejected."),
    DemoChannel(ALERT_CHANNEL, "finance-alerts",
                "Failure-rate and sync-not-running alerts (try --scenario bad-settings)."),
)

_PAYMENT_IN_FOOTER = re.compile(r"ConnectBooster payment `([^`]+)`")


class DemoError(Exception):
    """The demo cannot start; the message says why and what to do."""


# ---- Redis ---------------------------------------------------------------------------------


async def open_redis(url: str) -> tuple[aioredis.Redis, str | None]:
    """A Redis client for ``url`` when it answers, else an in-process stand-in (fakeredis)
    and the notice to show: ``(client, notice or None)``."""
    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    try:
        await client.ping()
        return client, None
    except Exception as exc:  # noqa: BLE001 - any failure means "use the stand-in"
        await client.aclose()
        reason = type(exc).__name__
    try:
        import fakeredis
    except ImportError:
        raise DemoError(
            f"Redis does not answer at {_safe_url(url)} ({reason}) and the in-memory stand-in "
            "is not installed: start Redis, set REDIS_URL, or pip install '.[demo]'"
        ) from None
    notice = (
        f"Redis does not answer at {_safe_url(url)}: this demo keeps its state in memory, "
        "and nothing is kept when it stops. Set REDIS_URL to use a real Redis."
    )
    return fakeredis.FakeAsyncRedis(), notice


def _safe_url(url: str) -> str:
    """``url`` with any password masked."""
    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


async def _delete_prefix(client: aioredis.Redis, prefix: str) -> int:
    keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
    for i in range(0, len(keys), 500):
        await client.delete(*keys[i : i + 500])
    return len(keys)


# ---- the running demo ------------------------------------------------------------------------


@dataclass
class Demo:
    """Everything :func:`start_demo` started. ``url`` is the workbench; ``close()`` stops all."""

    url: str
    scenario: str
    sandboxes: SandboxServers
    slack: SlackSandbox
    slack_url: str
    services: Any  # bot.runtime.services.Services
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
    def qbo(self) -> QBOSandbox:
        return self.sandboxes.qbo

    @property
    def cb(self) -> CBSandbox:
        return self.sandboxes.cb

    @property
    def world(self) -> World:
        return self.sandboxes.world

    @property
    def company(self) -> SandboxCompany:
        return self.sandboxes.world.company

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
        await self.slack.close()
        await self.sandboxes.close()

    # ---- what the page shows ----

    def user(self, user_id: str) -> DemoUser | None:
        return next((u for u in USERS if u.id == user_id), None)

    def state(self, user_id: str) -> dict[str, Any]:
        """Channels, messages (threads included), and what only ``user_id`` sees."""
        messages: dict[str, list[dict[str, Any]]] = {}
        threads: dict[str, list[dict[str, Any]]] = {}
        for ch in CHANNELS:
            top = self.slack.messages(ch.id)
            messages[ch.id] = []
            for m in top:
                replies = self.slack.thread(ch.id, m.ts) if m.reply_count else []
                row = _message_json(m)
                row["latest_reply"] = replies[-1].ts if replies else None
                messages[ch.id].append(row)
                if replies:
                    threads[f"{ch.id}/{m.ts}"] = [_message_json(r) for r in replies]
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

    def _remember(self, user: str, channel: str, thread_ts: str | None, trigger_id: str | None
                  ) -> None:
        if trigger_id:
            self._trigger_user[trigger_id] = user
        self._thread_of_click.append((user, channel, thread_ts, f"{self.slack.clock():.6f}"))
        del self._thread_of_click[:-200]

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
                self.events_url, message_ts=message_ts, channel=channel, action_id=action_id,
                value=value, user_id=user,
            )
        except LookupError:
            return DemoAnswer(False, "That button is no longer on the message.", status=409)
        self._remember(user, channel, thread, resp.trigger_id)
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

    async def books(self, payment_id: str) -> dict[str, Any]:
        """The payment in ConnectBooster, and the QBO objects of its customer."""
        p = self.cb.payments.get(payment_id)
        deleted = False
        if p is None:
            p = self.cb.deleted.get(payment_id)
            deleted = p is not None
        if p is None:
            return {"ok": False, "error": f"ConnectBooster has no payment {payment_id}."}
        co = self.company
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
            "qbo": qbo_books(co, p.customer.qb_customer_id,
                             [a.qb_invoice_id for a in p.applications],
                             {a.qb_invoice_id: a.invoice_number for a in p.applications}),
        }


async def _cancel(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait for it; cancel again while it runs on (Python 3.11 can
    swallow a cancel that lands as an inner ``wait_for`` completes)."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=0.5)
    if not task.cancelled() and task.exception() is not None:
        log.warning("%s ended with %r", task.get_name(), task.exception())


@dataclass
class DemoAnswer:
    ok: bool
    error: str | None = None
    errors: dict[str, str] | None = None
    status: int = 200

    def response(self) -> web.Response:
        body: dict[str, Any] = {"ok": self.ok}
        if self.error:
            body["error"] = self.error
        if self.errors:
            body["errors"] = self.errors
        return web.json_response(body, status=self.status)


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


# ---- reading the stand-ins for the page -----------------------------------------------------


def payment_of(blocks: list[dict[str, Any]], metadata: dict[str, Any] | None = None
               ) -> str | None:
    """The ConnectBooster payment a bot message is about: its metadata, the block id of its
    buttons, or its footer line; ``None`` for other messages."""
    if metadata and metadata.get("event_type") == "failed_payment":
        pid = (metadata.get("event_payload") or {}).get("payment_id")
        if isinstance(pid, str) and pid:
            return pid
    for b in blocks:
        bid = b.get("block_id")
        if isinstance(bid, str) and bid.startswith("fp_actions:"):
            return bid.split(":", 1)[1] or None
    for b in blocks:
        if b.get("type") != "context":
            continue
        for el in b.get("elements", []):
            m = _PAYMENT_IN_FOOTER.search(str(el.get("text", "")))
            if m:
                return m.group(1)
    return None


def _message_json(m: Message) -> dict[str, Any]:
    return {
        "ts": m.ts,
        "user": m.user,
        "bot": m.user == BOT_USER_ID,
        "text": m.text,
        "blocks": m.blocks,
        "thread_ts": m.thread_ts,
        "reply_count": m.reply_count,
        "edited": m.edited_ts is not None,
        "payment_id": payment_of(m.blocks, m.metadata),
    }


def _ref(obj: dict[str, Any], key: str) -> str | None:
    ref = obj.get(key)
    return str(ref.get("value")) if isinstance(ref, dict) and ref.get("value") else None


def _money(v: Any) -> str:
    return str(v if isinstance(v, Decimal) else Decimal(str(v or 0)))


def qbo_books(
    co: SandboxCompany,
    customer_id: str | None,
    invoice_ids: list[str],
    invoice_numbers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The QBO sandbox's invoices, payments and credit memos of one customer, newest first
    (the payment's own invoices always included, deleted ones marked)."""
    invoice_numbers = invoice_numbers or {}
    wanted = set(invoice_ids)
    customer = co.get("Customer", customer_id) if customer_id else None
    invoices = [i for i in co.all("Invoice") if _ref(i, "CustomerRef") == customer_id]
    payments = [p for p in co.all("Payment") if _ref(p, "CustomerRef") == customer_id]
    memos = [c for c in co.all("CreditMemo") if _ref(c, "CustomerRef") == customer_id]
    docs = {("Invoice", str(i["Id"])): str(i.get("DocNumber") or i["Id"]) for i in invoices}
    docs.update({("CreditMemo", str(c["Id"])): str(c.get("DocNumber") or c["Id"])
                 for c in memos})

    def newest(rows: list[dict[str, Any]], keep: set[str]) -> list[dict[str, Any]]:
        rows = sorted(rows, key=lambda r: (str(r.get("TxnDate") or ""), int(r["Id"])),
                      reverse=True)
        kept = [r for r in rows if str(r["Id"]) in keep]
        rest = [r for r in rows if str(r["Id"]) not in keep]
        return kept + rest[: max(0, MAX_LEDGER_ROWS - len(kept))]

    linked_payments: set[str] = set()
    for p in payments:
        for line in p.get("Line") or []:
            for lt in line.get("LinkedTxn") or []:
                if lt.get("TxnType") == "Invoice" and str(lt.get("TxnId")) in wanted:
                    linked_payments.add(str(p["Id"]))

    inv_rows = [
        {
            "id": str(i["Id"]),
            "doc_number": i.get("DocNumber"),
            "txn_date": i.get("TxnDate"),
            "total": _money(i.get("TotalAmt")),
            "balance": _money(i.get("Balance")),
            "voided": i.get("PrivateNote") == "Voided",
            "deleted": False,
            "in_payment": str(i["Id"]) in wanted,
        }
        for i in newest(invoices, wanted)
    ]
    live = {r["id"] for r in inv_rows} | {str(i["Id"]) for i in invoices}
    for iid in invoice_ids:
        if iid not in live:
            inv_rows.insert(0, {
                "id": iid, "doc_number": invoice_numbers.get(iid), "txn_date": None,
                "total": None, "balance": None, "voided": False, "deleted": True,
                "in_payment": True,
            })

    pay_rows = []
    for p in newest(payments, linked_payments):
        lines = []
        for line in p.get("Line") or []:
            for lt in line.get("LinkedTxn") or []:
                kind, tid = str(lt.get("TxnType")), str(lt.get("TxnId"))
                label = {"Invoice": "invoice", "CreditMemo": "credit memo"}.get(kind, kind)
                lines.append({
                    "type": kind, "id": tid, "amount": _money(line.get("Amount")),
                    "label": f"{label} {docs.get((kind, tid), invoice_numbers.get(tid, tid))}",
                })
        ref = str(p.get("PaymentRefNum") or "")
        pay_rows.append({
            "id": str(p["Id"]),
            "ref": ref,
            "txn_date": p.get("TxnDate"),
            "total": _money(p.get("TotalAmt")),
            "unapplied": _money(p.get("UnappliedAmt")),
            "cb": ref.startswith("CB"),
            "zero": Decimal(_money(p.get("TotalAmt"))) == 0,
            "deleted": False,
            "lines": lines,
        })
    memo_rows = [
        {
            "id": str(c["Id"]),
            "doc_number": c.get("DocNumber"),
            "txn_date": c.get("TxnDate"),
            "total": _money(c.get("TotalAmt")),
            "remaining": _money(c.get("RemainingCredit")),
        }
        for c in newest(memos, set())
    ]
    return {
        "company": co.name,
        "realm_id": co.realm_id,
        "customer": (
            {"id": str(customer["Id"]), "name": customer.get("DisplayName"),
             "balance": _money(customer.get("Balance"))}
            if customer else None
        ),
        "invoices": inv_rows,
        "payments": pay_rows,
        "credit_memos": memo_rows,
    }


# ---- the workbench web app -------------------------------------------------------------------


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=str, separators=(",", ":"))


def make_workbench_app(demo: Demo) -> web.Application:
    """The page (``/``, ``/static/...``) and its JSON API (``/demo/api/...``)."""
    app = web.Application(client_max_size=256 * 1024)

    async def index(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html",
                                headers={"Cache-Control": "no-store"})

    async def state(request: web.Request) -> web.Response:
        user = request.query.get("user") or USERS[0].id
        if demo.user(user) is None:
            return web.json_response({"ok": False, "error": f"unknown user {user}"}, status=400)
        body = demo.state(user)
        text = _dumps(body)
        version = hashlib.sha256(text.encode()).hexdigest()[:16]
        if request.query.get("version") == version:
            return web.json_response({"ok": True, "version": version, "unchanged": True})
        return web.Response(text=text[:-1] + f',"version":"{version}"}}',
                            content_type="application/json",
                            headers={"Cache-Control": "no-store"})

    async def books(request: web.Request) -> web.Response:
        pid = request.query.get("payment", "")
        if not pid:
            return web.json_response({"ok": False, "error": "payment is required"}, status=400)
        body = await demo.books(pid)
        return web.Response(text=_dumps(body), content_type="application/json",
                            status=200 if body.get("ok") else 404,
                            headers={"Cache-Control": "no-store"})

    async def read(request: web.Request) -> tuple[dict[str, Any], DemoUser | None]:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text=_dumps({"ok": False, "error": "body must be JSON"}),
                                     content_type="application/json")
        return body, demo.user(str(body.get("user", "")))

    def bad(error: str, status: int = 400) -> web.Response:
        return web.json_response({"ok": False, "error": error}, status=status)

    async def command(request: web.Request) -> web.Response:
        body, user = await read(request)
        if user is None:
            return bad("choose who you are acting as")
        channel = str(body.get("channel") or FAILED_CHANNEL)
        if channel not in {c.id for c in CHANNELS}:
            return bad(f"unknown channel {channel}")
        if str(body.get("command") or "/failed-payments") != "/failed-payments":
            return bad("only /failed-payments is installed in this workspace")
        return (await demo.command(user.id, channel, str(body.get("text") or ""))).response()

    async def click(request: web.Request) -> web.Response:
        body, user = await read(request)
        if user is None:
            return bad("choose who you are acting as")
        action = body.get("action")
        if not isinstance(action, dict) or not action.get("action_id"):
            return bad("action.action_id is required")
        channel, ts = str(body.get("channel") or ""), str(body.get("message_ts") or "")
        if not channel or not ts:
            return bad("channel and message_ts are required")
        value = action.get("value")
        answer = await demo.click(user.id, channel, ts, str(action["action_id"]),
                                  str(value) if value is not None else None)
        return answer.response()

    async def view_submit(request: web.Request) -> web.Response:
        body, user = await read(request)
        if user is None:
            return bad("choose who you are acting as")
        values = body.get("values")
        if not isinstance(values, dict):
            return bad("values is required")
        return (await demo.submit_view(user.id, str(body.get("view_id") or ""),
                                       values)).response()

    async def view_close(request: web.Request) -> web.Response:
        body, user = await read(request)
        if user is None:
            return bad("choose who you are acting as")
        return demo.close_view(user.id, str(body.get("view_id") or "")).response()

    async def sync(_request: web.Request) -> web.Response:
        try:
            result = await demo.run_sync()
        except Exception as exc:  # noqa: BLE001 - told to the person at the page
            log.warning("demo sync run failed: %s", exc)
            return bad(f"the sync run failed: {exc}", status=502)
        return web.Response(text=_dumps(result), content_type="application/json")

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "first_poll_done": demo.first_poll.is_set()})

    app.router.add_get("/", index)
    app.router.add_static("/static", STATIC_DIR)
    app.router.add_get("/demo/api/state", state)
    app.router.add_get("/demo/api/books", books)
    app.router.add_post("/demo/api/command", command)
    app.router.add_post("/demo/api/click", click)
    app.router.add_post("/demo/api/view-submit", view_submit)
    app.router.add_post("/demo/api/view-close", view_close)
    app.router.add_post("/demo/api/sync", sync)
    app.router.add_get("/demo/healthz", healthz)
    return app


# ---- starting and running --------------------------------------------------------------------


def demo_settings(sandboxes: SandboxServers, slack_url: str, *, redis_url: str, prefix: str,
                  signing_secret: str, bot_token: str) -> Any:
    """The bot's settings for the demo: every value explicit, so nothing in the environment
    (or a ``.env``) of a real installation leaks in."""
    from bot.runtime.settings import Settings

    env = sandboxes.env
    return Settings(
        _env_file=None,
        slack_bot_token=bot_token,
        slack_signing_secret=signing_secret,
        slack_app_token=None,
        slack_api_url=f"{slack_url}/api/",
        failed_payments_channel=FAILED_CHANNEL,
        alert_channel=ALERT_CHANNEL,
        finance_users=[u.id for u in USERS if u.finance],
        finance_usergroup=None,
        poll_interval_seconds=POLL_INTERVAL_SECONDS,
        qbo_client_id=env["QBO_CLIENT_ID"],
        qbo_client_secret=env["QBO_CLIENT_SECRET"],
        qbo_realm_id=env["QBO_REALM_ID"],
        qbo_refresh_token=env["QBO_REFRESH_TOKEN"],
        qbo_environment="sandbox",
        qbo_base_url=env["QBO_BASE_URL"],
        qbo_token_url=env["QBO_TOKEN_URL"],
        qbo_deposit_account_id=None,
        cb_base_url=env["CB_BASE_URL"],
        cb_api_key=env["CB_API_KEY"],
        cb_portal_url=None,
        redis_url=redis_url,
        redis_prefix=prefix,
        token_encryption_key=Fernet.generate_key().decode(),
        log_level="INFO",
    )


async def start_demo(
    port: int = 0,
    scenario: str = "all-causes",
    redis_url: str | None = None,
    *,
    host: str = "127.0.0.1",
) -> Demo:
    """Start the sandboxes (seeded with ``scenario``), the Slack stand-in, the bot and the
    workbench on ``host:port`` (0: any free port); the first poll runs in the background
    (:meth:`Demo.wait_first_poll`), then the poller keeps running. ``redis_url``: default
    ``REDIS_URL`` or ``redis://localhost:6379/0``; the in-memory stand-in when it does not
    answer. Raises :class:`DemoError` with what to do when something cannot start."""
    import app as app_module

    if scenario not in SCENARIOS:
        raise DemoError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    url = redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    redis, notice = await open_redis(url)
    prefix = f"fpdemo:{secrets.token_hex(4)}:"
    signing_secret = secrets.token_urlsafe(SIGNING_SECRET_BYTES)
    bot_token = "xoxb-demo-" + secrets.token_hex(12)
    sandboxes: SandboxServers | None = None
    slack = SlackSandbox(signing_secret=signing_secret, bot_token=bot_token,
                         channels=[c.id for c in CHANNELS])
    for u in USERS:
        slack.users[u.id] = {
            "id": u.id, "team_id": "T0SANDBOX", "name": u.name.split()[0].lower(),
            "real_name": u.name, "tz": "UTC", "deleted": False, "is_bot": False,
            "profile": {"real_name": u.name, "display_name": u.name},
        }
    runners: list[web.AppRunner] = []
    services: Any = None
    try:
        sandboxes = await serve_sandboxes(scenario, sync_interval=None, out=None)
        slack_runner, slack_url = await serve(slack.make_app(), "127.0.0.1", 0)
        slack.base_url = slack_url
        runners.append(slack_runner)
        settings = demo_settings(sandboxes, slack_url, redis_url=url, prefix=prefix,
                                 signing_secret=signing_secret, bot_token=bot_token)
        services = await app_module.build_services(settings, redis=redis, instance="demo")
        bolt = app_module.build_bolt_app(services)
        bot_runner, bot_url = await serve(app_module.build_web_app(bolt, services),
                                           "127.0.0.1", 0)
        runners.append(bot_runner)
        demo = Demo(url="", scenario=scenario, sandboxes=sandboxes, slack=slack,
                    slack_url=slack_url, services=services, bot_url=bot_url, prefix=prefix,
                    redis_notice=notice, runners=runners, _real_redis=notice is None)
        web_runner, web_url = await serve(make_workbench_app(demo), host, port)
        runners.insert(0, web_runner)
        demo.url = web_url
    except BaseException:
        for r in reversed(runners):
            await r.cleanup()
        if services is not None:
            await services.aclose()
        else:
            await redis.aclose()
        await slack.close()
        if sandboxes is not None:
            await sandboxes.close()
        raise
    demo.tasks.append(asyncio.create_task(_first_poll_then_poller(demo), name="demo-poller"))
    return demo


async def _first_poll_then_poller(demo: Demo) -> None:
    """Resume half-done remedies, poll once (the failures get posted), then keep polling."""
    from bot.poll.cycle import poll_once, run_poller

    try:
        with contextlib.suppress(ImportError):
            from bot.remedies import resume_unfinished

            await resume_unfinished(demo.services)
        report = await poll_once(demo.services)
        log.info("first poll: %d failures posted", len(report.new))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        demo.first_poll_error = f"{type(exc).__name__}: {exc}"
        log.exception("the first poll failed; the poller keeps trying")
    finally:
        demo.first_poll.set()
    await run_poller(demo.services)


def _local_url(url: str, host: str) -> str:
    if host in ("127.0.0.1", "0.0.0.0", "::", ""):
        return re.sub(r"//[^/:]+", "//localhost", url, count=1)
    return url


async def run_demo(port: int | None = None, scenario: str = "all-causes") -> None:
    """``python app.py demo``: start everything, print the one URL, serve until Ctrl-C or
    SIGTERM, then stop cleanly. ``port`` default: ``PORT`` or 3000. The page listens on
    ``DEMO_HOST`` (default 127.0.0.1; set 0.0.0.0 to reach it from another machine)."""
    if port is None:
        raw = os.environ.get("PORT") or str(DEFAULT_PORT)
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            print(f"failed-payments demo: PORT must be a TCP port (1-65535), not {raw!r}",
                  file=sys.stderr)
            raise SystemExit(2)
        port = int(raw)
    host = os.environ.get("DEMO_HOST") or "127.0.0.1"
    try:
        demo = await start_demo(port=port, scenario=scenario, host=host)
    except DemoError as err:
        print(f"failed-payments demo: cannot start: {err}", file=sys.stderr)
        raise SystemExit(3) from None
    except OSError as err:
        print(f"failed-payments demo: cannot listen on {host}:{port} ({err.strerror or err}). "
              f"Choose another port: PORT={port + 1} make demo", file=sys.stderr)
        raise SystemExit(3) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if demo.redis_notice:
            print(f"NOTE: {demo.redis_notice}", flush=True)
        else:
            print(f"State: Redis, keys under {demo.prefix} (removed when the demo stops)",
                  flush=True)
        print(f"failed-payments demo ({demo.world.summary()})", flush=True)
        print(f"Open {_local_url(demo.url, host)}   (Ctrl-C stops)", flush=True)
        await stop.wait()
    finally:
        print("stopping the demo…", flush=True)
        await demo.close()
