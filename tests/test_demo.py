"""The demo workbench over HTTP: the page, its JSON API, and the whole chain behind it
(page → Slack stand-in's signed requests → the bot → QBO / ConnectBooster sandboxes), against
a real Redis. The browser walk-through is in tests/browser/."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from app import bot_builders
from sandbox.demo import FAILED_CHANNEL, FINANCE_USER, OUTSIDER, Demo, payment_of, start_demo
from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
UNAPPLY = "fp_unapply_credit_memo"


@pytest.fixture
async def demo(redis_url: str) -> AsyncIterator[Demo]:
    d = await start_demo(bot_builders(), port=0, scenario="credit-memo", redis_url=redis_url)
    try:
        await d.wait_first_poll(60)
        assert d.first_poll_error is None, d.first_poll_error
        yield d
    finally:
        await d.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def get_json(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as r:
        return r.status, await r.json()


async def post_json(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    async with http.post(url, json=body) as r:
        return r.status, await r.json()


async def eventually(check: Any, within: float = 15.0, what: str = "condition") -> Any:
    """Re-run the async ``check`` until it returns something truthy (state polled with a
    deadline, never a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def credit_memo_payment(d: Demo) -> str:
    return next(pid for pid, cause in d.world.expected.items() if cause == "credit-memo")


async def state(http: aiohttp.ClientSession, d: Demo, user: str) -> dict[str, Any]:
    status, body = await get_json(http, f"{d.url}/demo/api/state?user={user}")
    assert status == 200
    return dict(body)


def find_message(st: dict[str, Any], pid: str) -> dict[str, Any] | None:
    for msgs in st["messages"].values():
        for m in msgs:
            if m["payment_id"] == pid:
                return dict(m)
    for msgs in st["threads"].values():
        for m in msgs:
            if m["payment_id"] == pid:
                return dict(m)
    return None


def button(msg: dict[str, Any], action_id: str) -> dict[str, Any] | None:
    for b in msg["blocks"]:
        if b.get("type") == "actions":
            for e in b["elements"]:
                if e.get("action_id") == action_id:
                    return dict(e)
    return None


def zero_payments(books: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p
        for p in books["qbo"]["payments"]
        if p["zero"] and any(line["type"] == "CreditMemo" for line in p["lines"])
    ]


async def test_page_and_assets_are_served(demo: Demo, http: aiohttp.ClientSession) -> None:
    async with http.get(demo.url + "/") as r:
        assert r.status == 200
        assert r.content_type == "text/html"
        page = await r.text()
    assert 'id="composer"' in page and "/static/app.js" in page
    for asset, kind in (("app.js", "javascript"), ("app.css", "text/css")):
        async with http.get(f"{demo.url}/static/{asset}") as r:
            assert r.status == 200, asset
            assert kind in r.content_type
            assert len(await r.read()) > 1000


async def test_state_lists_the_bots_messages(demo: Demo, http: aiohttp.ClientSession) -> None:
    pid = credit_memo_payment(demo)
    st = await state(http, demo, FINANCE_USER)
    assert {c["id"] for c in st["channels"]} >= {FAILED_CHANNEL}
    assert {u["id"]: u["finance"] for u in st["users"]} == {FINANCE_USER: True, OUTSIDER: False}
    msg = find_message(st, pid)
    assert msg is not None, "the credit-memo failure is not on the page"
    assert msg["bot"] is True
    assert msg["blocks"][0]["type"] == "header"
    assert "didn't reach QuickBooks" in msg["blocks"][0]["text"]["text"]
    assert "Credit memo applied" in str(msg["blocks"])
    assert button(msg, UNAPPLY) is not None
    assert st["notice"] is None  # a real Redis answered
    # unchanged state: the page's poll gets a short answer
    status, again = await get_json(
        http, f"{demo.url}/demo/api/state?user={FINANCE_USER}&version={st['version']}"
    )
    assert status == 200 and again == {"ok": True, "version": st["version"], "unchanged": True}


async def test_books_show_the_qbo_objects_of_the_payment(
    demo: Demo, http: aiohttp.ClientSession
) -> None:
    pid = credit_memo_payment(demo)
    status, books = await get_json(http, f"{demo.url}/demo/api/books?payment={pid}")
    assert status == 200 and books["ok"]
    p = demo.cb.payments[pid]
    assert books["payment"]["reference"] == p.reference
    assert books["portal"]["status"] == "failed"
    assert books["failure"]["cause"] == "Credit memo applied"
    inv_ids = {a.qb_invoice_id for a in p.applications}
    assert inv_ids <= {i["id"] for i in books["qbo"]["invoices"] if i["in_payment"]}
    assert zero_payments(books), "the $0 payment applying the credit memo is not shown"
    assert books["qbo"]["credit_memos"]
    Decimal(books["qbo"]["credit_memos"][0]["remaining"])  # exact decimal strings
    status, missing = await get_json(http, f"{demo.url}/demo/api/books?payment=pmt_nope")
    assert status == 404 and missing["ok"] is False and "pmt_nope" in missing["error"]


async def test_a_command_is_answered_to_its_user_only(
    demo: Demo, http: aiohttp.ClientSession
) -> None:
    status, body = await post_json(
        http,
        f"{demo.url}/demo/api/command",
        {"user": FINANCE_USER, "channel": FAILED_CHANNEL, "text": "list"},
    )
    assert status == 200 and body == {"ok": True}

    async def answered() -> list[dict[str, Any]]:
        return list((await state(http, demo, FINANCE_USER))["ephemeral"])

    replies = await eventually(answered, what="the reply to /failed-payments list")
    assert any(
        credit_memo_payment(demo) in str(r["blocks"])
        or demo.cb.payments[credit_memo_payment(demo)].reference in str(r["blocks"])
        for r in replies
    )
    assert (await state(http, demo, OUTSIDER))["ephemeral"] == []
    # the stand-in received a signed slash command and the bot answered through response_url
    assert demo.slack.calls_to("response_url")


async def test_outsider_is_refused_then_finance_fixes_the_books_and_sync_resolves(
    demo: Demo, http: aiohttp.ClientSession
) -> None:
    pid = credit_memo_payment(demo)
    books_url = f"{demo.url}/demo/api/books?payment={pid}"
    _, before = await get_json(http, books_url)
    zero_before = zero_payments(before)
    assert zero_before
    msg = find_message(await state(http, demo, OUTSIDER), pid)
    assert msg is not None
    btn = button(msg, UNAPPLY)
    assert btn is not None and "confirm" in btn
    click = {
        "channel": FAILED_CHANNEL,
        "message_ts": msg["ts"],
        "action": {"action_id": UNAPPLY, "value": btn["value"]},
    }

    # an outsider: refused in an ephemeral reply; nothing changes in QBO
    status, body = await post_json(http, f"{demo.url}/demo/api/click", {**click, "user": OUTSIDER})
    assert status == 200 and body == {"ok": True}

    async def refused() -> bool:
        eph = (await state(http, demo, OUTSIDER))["ephemeral"]
        return any("You can't do that" in str(e["blocks"]) for e in eph)

    await eventually(refused, what="the outsider's refusal")
    _, after_refusal = await get_json(http, books_url)
    assert after_refusal["qbo"] == before["qbo"]
    assert after_refusal["portal"]["status"] == "failed"

    # a finance user: the $0 payment applying the credit memo goes, the books change
    status, body = await post_json(
        http, f"{demo.url}/demo/api/click", {**click, "user": FINANCE_USER}
    )
    assert status == 200 and body == {"ok": True}

    async def books_changed() -> dict[str, Any] | None:
        _, now = await get_json(http, books_url)
        return now if not zero_payments(now) else None

    fixed = await eventually(books_changed, within=20, what="the credit memo un-applied")
    assert fixed["qbo"]["credit_memos"] != before["qbo"]["credit_memos"]  # credit is back
    assert fixed["portal"]["status"] in ("pending", "failed")

    # Run ConnectBooster sync: the payment syncs and its message turns resolved
    status, result = await post_json(http, f"{demo.url}/demo/api/sync", {})
    assert status == 200 and result["ok"]
    assert pid in result["report"]["synced"]

    async def resolved() -> dict[str, Any] | None:
        m = find_message(await state(http, demo, FINANCE_USER), pid)
        return m if m and button(m, UNAPPLY) is None and "synced" in str(m["blocks"]) else None

    done = await eventually(resolved, within=20, what="the message resolved")
    assert ":white_check_mark:" in str(done["blocks"])
    _, end = await get_json(http, books_url)
    assert end["portal"]["status"] == "synced"
    assert end["failure"]["status"] == "resolved"


async def test_bad_requests_get_clear_answers(demo: Demo, http: aiohttp.ClientSession) -> None:
    api = f"{demo.url}/demo/api"
    status, body = await get_json(http, f"{api}/state?user=U0NOBODY")
    assert status == 400 and "U0NOBODY" in body["error"]
    status, body = await post_json(
        http,
        f"{api}/click",
        {
            "user": "U0NOBODY",
            "channel": FAILED_CHANNEL,
            "message_ts": "1.0",
            "action": {"action_id": UNAPPLY},
        },
    )
    assert status == 400 and body["ok"] is False
    status, body = await post_json(
        http, f"{api}/command", {"user": FINANCE_USER, "command": "/other", "text": ""}
    )
    assert status == 400 and "/failed-payments" in body["error"]
    pid = credit_memo_payment(demo)
    msg = find_message(await state(http, demo, FINANCE_USER), pid)
    assert msg is not None
    status, body = await post_json(
        http,
        f"{api}/click",
        {
            "user": FINANCE_USER,
            "channel": FAILED_CHANNEL,
            "message_ts": msg["ts"],
            "action": {"action_id": "fp_no_such_button", "value": "x"},
        },
    )
    assert status == 409 and "no longer" in body["error"]
    async with http.post(
        f"{api}/click", data=b"not json", headers={"Content-Type": "application/json"}
    ) as r:
        assert r.status == 400
    status, body = await post_json(
        http, f"{api}/view-submit", {"user": FINANCE_USER, "view_id": "V404", "values": {}}
    )
    assert status == 409 and body["ok"] is False
    # nothing above reached QBO or ConnectBooster
    assert demo.cb.payments[pid].sync.status == "failed"


def test_payment_of_reads_metadata_buttons_or_footer() -> None:
    assert (
        payment_of([], {"event_type": "failed_payment", "event_payload": {"payment_id": "pmt_1"}})
        == "pmt_1"
    )
    assert (
        payment_of([{"type": "actions", "block_id": "fp_actions:pmt_2", "elements": []}]) == "pmt_2"
    )
    footer = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "ConnectBooster payment `pmt_3` · 1 sync attempt"}],
    }
    assert payment_of([footer]) == "pmt_3"
    assert payment_of([{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]) is None


async def test_redis_keys_are_removed_at_close(redis_url: str) -> None:
    d = await start_demo(bot_builders(), port=0, scenario="credit-memo", redis_url=redis_url)
    try:
        await d.wait_first_poll(60)
        client = aioredis.Redis.from_url(redis_url)
        try:
            assert [k async for k in client.scan_iter(match=f"{d.prefix}*")]
            assert d.prefix.startswith("fpdemo:")
        finally:
            await client.aclose()
    finally:
        await d.close()
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert [k async for k in client.scan_iter(match=f"{d.prefix}*")] == []
    finally:
        await client.aclose()


async def test_without_redis_the_demo_runs_in_memory_and_says_so(
    http: aiohttp.ClientSession,
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    d = await start_demo(bot_builders(), port=0, scenario="credit-memo", redis_url=nowhere)
    try:
        await d.wait_first_poll(60)
        assert d.first_poll_error is None, d.first_poll_error
        st = await state(http, d, FINANCE_USER)
        assert st["notice"] and "nothing is kept" in st["notice"]
        assert find_message(st, credit_memo_payment(d)) is not None
    finally:
        await d.close()


async def test_python_app_py_demo_prints_its_url_and_stops_on_sigint(
    redis_url: str, http: aiohttp.ClientSession
) -> None:
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "app.py",
        "demo",
        "--port",
        "0",
        "--scenario",
        "credit-memo",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        url = None
        lines = []
        async with asyncio.timeout(60):
            while url is None:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    break
                lines.append(line)
                if line.startswith("Open http://"):
                    url = line.split()[1]
        assert url is not None, "".join(lines)
        assert url.startswith("http://localhost:")
        async with http.get(url) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            rc = await proc.wait()
        assert rc == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_modal_opens_for_its_user_and_its_submission_reaches_the_bot(
    redis_url: str, http: aiohttp.ClientSession
) -> None:
    d = await start_demo(bot_builders(), port=0, scenario="all-causes", redis_url=redis_url)
    try:
        await d.wait_first_poll(90)
        pid = next(p for p, cause in d.world.expected.items() if cause == "deleted")
        ref = d.cb.payments[pid].reference
        msg = find_message(await state(http, d, FINANCE_USER), pid)
        assert msg is not None
        btn = button(msg, "fp_recreate_payment")
        assert btn is not None
        status, body = await post_json(
            http,
            f"{d.url}/demo/api/click",
            {
                "user": FINANCE_USER,
                "channel": FAILED_CHANNEL,
                "message_ts": msg["ts"],
                "action": {"action_id": "fp_recreate_payment", "value": btn["value"]},
            },
        )
        assert status == 200 and body == {"ok": True}

        async def opened() -> list[dict[str, Any]]:
            views = list((await state(http, d, FINANCE_USER))["views"])
            # the picker opens as "loading", then is updated once QuickBooks was read
            ready = views and any(b["type"] == "input" for b in views[0]["view"]["blocks"])
            return views if ready else []

        views = await eventually(opened, within=20, what="the recreate modal")
        assert (await state(http, d, OUTSIDER))["views"] == []  # only its user sees it
        view = views[0]
        inp = next(b for b in view["view"]["blocks"] if b["type"] == "input")
        select = inp["element"]
        assert select["type"] == "static_select"
        api = f"{d.url}/demo/api/view-submit"
        # nothing chosen: the page is told which field, the bot is not called
        status, body = await post_json(
            http,
            api,
            {"user": FINANCE_USER, "view_id": view["id"], "values": {inp["block_id"]: {}}},
        )
        assert status == 200 and body["ok"] is False and inp["block_id"] in body["errors"]
        keep = next(o for o in select["options"] if o["value"] == "__credit__")
        values = {
            inp["block_id"]: {
                select["action_id"]: {"type": "static_select", "selected_option": keep}
            }
        }
        status, body = await post_json(
            http, api, {"user": FINANCE_USER, "view_id": view["id"], "values": values}
        )
        assert status == 200 and body == {"ok": True}, body
        assert (await state(http, d, FINANCE_USER))["views"] == []

        async def recreated() -> bool:
            return any(p.get("PaymentRefNum") == ref for p in d.company.all("Payment"))

        await eventually(recreated, within=20, what=f"{ref} recreated in QBO")
    finally:
        await d.close()
