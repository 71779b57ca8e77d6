"""The demo shows the team workflow: the app's Home tab (opened from the page, its *Take it*
clicked there), the card's owner, and Snooze through its modal — all through the demo's
JSON API, as the page drives it."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from sandbox.demo import FAILED_CHANNEL, FINANCE_USER, OUTSIDER, Demo
from tests.test_demo import (  # noqa: F401 - the fixtures
    credit_memo_payment,
    demo,
    eventually,
    find_message,
    http,
    post_json,
    state,
)


def _text(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


async def test_home_tab_take_it_and_snooze_in_the_demo(
    demo: Demo,  # noqa: F811
    http: aiohttp.ClientSession,  # noqa: F811
) -> None:
    pid = credit_memo_payment(demo)
    status, body = await post_json(http, f"{demo.url}/demo/api/home", {"user": FINANCE_USER})
    assert status == 200 and body["ok"], body

    async def home_shown() -> Any:
        st = await state(http, demo, FINANCE_USER)
        return (
            st["home"]
            if st.get("home") and "Unowned, waiting longest" in _text(st["home"])
            else None
        )

    home = await eventually(home_shown, what="the Home tab")
    assert "Yours* (0)" in _text(home)
    take = {"action_id": "fp_take", "value": json.dumps({"p": pid}, separators=(",", ":"))}
    status, body = await post_json(
        http, f"{demo.url}/demo/api/home-click", {"user": FINANCE_USER, "action": take}
    )
    assert status == 200 and body["ok"], body

    async def owned() -> Any:
        st = await state(http, demo, FINANCE_USER)
        msg = find_message(st, pid)
        yours = st.get("home") and "Yours* (1)" in _text(st["home"])
        return (
            msg if msg and f"Owner: <@{FINANCE_USER}>" in _text(msg["blocks"]) and yours else None
        )

    msg = await eventually(owned, what="the card and the Home showing the owner")

    snooze = next(
        e
        for b in msg["blocks"]
        if b.get("type") == "actions"
        for e in b["elements"]
        if e.get("action_id") == "fp_snooze"
    )
    status, body = await post_json(
        http,
        f"{demo.url}/demo/api/click",
        {
            "user": FINANCE_USER,
            "channel": FAILED_CHANNEL,
            "message_ts": msg["ts"],
            "action": {"action_id": "fp_snooze", "value": snooze["value"]},
        },
    )
    assert status == 200 and body["ok"], body

    async def modal() -> Any:
        views = (await state(http, demo, FINANCE_USER))["views"]
        return next((v for v in views if v["view"].get("callback_id") == "fp_snooze_view"), None)

    view = await eventually(modal, what="the snooze modal")
    option = {"text": {"type": "plain_text", "text": "next sync"}, "value": "next_sync"}
    values = {
        "fp_snooze_kind": {
            "fp_snooze_kind_pick": {"type": "radio_buttons", "selected_option": option}
        },
        "fp_snooze_date": {"fp_snooze_date_pick": {"type": "datepicker", "selected_date": None}},
        "fp_snooze_reason": {
            "fp_snooze_reason_text": {"type": "plain_text_input", "value": "client's bank"}
        },
    }
    status, body = await post_json(
        http,
        f"{demo.url}/demo/api/view-submit",
        {"user": FINANCE_USER, "view_id": view["id"], "values": values},
    )
    assert status == 200 and body["ok"], body

    async def snoozed() -> Any:
        m = find_message(await state(http, demo, FINANCE_USER), pid)
        return m if m and "Snoozed" in _text(m["blocks"]) else None

    assert "client's bank" in _text((await eventually(snoozed, what="the snoozed card"))["blocks"])

    status, body = await post_json(http, f"{demo.url}/demo/api/home", {"user": OUTSIDER})
    assert status == 200 and body["ok"], body

    async def outsider_home() -> Any:
        st = await state(http, demo, OUTSIDER)
        return st.get("home")

    assert "may see and act" in _text(await eventually(outsider_home, what="the outsider's Home"))
