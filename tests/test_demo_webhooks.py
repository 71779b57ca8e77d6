"""The demo with QuickBooks webhooks (issue 17): an edit in the books panel (the QBO
stand-in) reaches the bot as a signed webhook and the card changes, without a click."""

from __future__ import annotations

from decimal import Decimal
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
    assert status == 200 and answer["ok"] is True
    assert answer["done"] == f"payment {zero['id']} deleted"

    async def redrawn() -> bool:
        return "is gone" in card()

    await eventually(redrawn, within=60, what="the card follows the books")
    status, answer = await post_json(http, f"{demo.url}/demo/api/books-edit", edit)
    assert status == 404 and "no Payment" in answer["error"]


async def test_unapplying_the_credit_memo_in_the_books_panel_changes_the_card(
    demo: Demo,  # noqa: F811
    http: aiohttp.ClientSession,  # noqa: F811
) -> None:
    """The issue's example: a bookkeeper unapplies the credit memo by hand (the panel's
    "Unapply" on the credit memo row) and the card says so, without a click."""
    pid = credit_memo_payment(demo)
    _, books = await get_json(http, f"{demo.url}/demo/api/books?payment={pid}")
    zero = zero_payments(books)[0]
    memo_id = next(line["id"] for line in zero["lines"] if line["type"] == "CreditMemo")
    memo = next(c for c in books["qbo"]["credit_memos"] if c["id"] == memo_id)
    rec = await demo.services.store.get_failure(pid)
    assert rec is not None and rec.slack is not None
    channel, ts = rec.slack.channel, rec.slack.ts

    def card() -> str:
        msg = demo.stand_ins.slack.message(channel, ts)
        return str(msg.blocks) if msg is not None else ""

    assert "is gone" not in card()
    url = f"{demo.url}/demo/api/books-edit"
    invoice_id = next(line["id"] for line in zero["lines"] if line["type"] == "Invoice")
    wrong = {"entity": "Invoice", "id": invoice_id, "op": "unapply"}
    status, answer = await post_json(http, url, wrong)
    assert status == 400 and "only a credit memo" in answer["error"]

    edit: dict[str, Any] = {"entity": "CreditMemo", "id": memo_id, "op": "unapply"}
    status, answer = await post_json(http, url, edit)
    assert status == 200 and answer["ok"] is True
    assert answer["done"] == f"credit memo {memo['doc_number'] or memo_id} unapplied from 1 payment"

    async def redrawn() -> bool:
        return "is gone" in card()

    await eventually(redrawn, within=60, what="the card follows the unapplied credit memo")
    _, after = await get_json(http, f"{demo.url}/demo/api/books?payment={pid}")
    assert not zero_payments(after)
    memo_after = next(c for c in after["qbo"]["credit_memos"] if c["id"] == memo_id)
    assert Decimal(memo_after["remaining"]) == Decimal(memo["total"])
    status, answer = await post_json(http, url, edit)
    assert status == 400 and "not applied to any payment" in answer["error"]
