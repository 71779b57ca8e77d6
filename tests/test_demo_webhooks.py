"""The demo with QuickBooks webhooks (issue 17): an edit in the books panel (the QBO
stand-in) reaches the bot as a signed webhook and the card changes, without a click."""

from __future__ import annotations

from typing import Any

import aiohttp

from sandbox.demo import FAILED_CHANNEL, Demo
from tests.test_demo import (  # noqa: F401 (fixtures)
    credit_memo_payment,
    demo,
    eventually,
    get_json,
    http,
    post_json,
    zero_payments,
)


async def test_editing_the_books_panel_changes_the_card(
    demo: Demo,  # noqa: F811
    http: aiohttp.ClientSession,  # noqa: F811
) -> None:
    pid = credit_memo_payment(demo)
    _, books = await get_json(http, f"{demo.url}/demo/api/books?payment={pid}")
    zero = zero_payments(books)[0]
    rec = await demo.services.store.get_failure(pid)
    assert rec is not None and rec.slack is not None
    slack = demo.stand_ins.slack

    def card() -> str:
        msg = slack.message(
            FAILED_CHANNEL if rec.slack is None else rec.slack.channel, rec.slack.ts
        )
        return str(msg.blocks) if msg is not None else ""

    assert "is gone" not in card()
    edit: dict[str, Any] = {"entity": "Payment", "id": zero["id"], "op": "delete"}
    status, answer = await post_json(http, f"{demo.url}/demo/api/books-edit", edit)
    assert (status, answer) == (200, {"ok": True})

    async def redrawn() -> bool:
        return "is gone" in card()

    await eventually(redrawn, within=60, what="the card follows the books")
    status, answer = await post_json(http, f"{demo.url}/demo/api/books-edit", edit)
    assert status == 404 and "no Payment" in answer["error"]
