"""The demo workbench in headless Chromium: the credit-memo case, walked as a person would.

The failure message shows the cause and its evidence; an outsider's click on Unapply Credit
Memo is refused; a finance user's click, through its confirm dialog, changes the QuickBooks
panel; Run ConnectBooster sync turns the message resolved. Screenshots of each step are kept
under ``test-artifacts/browser/``. Skipped only when no Chromium is installed.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app import bot_builders
from sandbox.demo import FINANCE_USER, OUTSIDER, Demo, start_demo
from tests.browser.cdp import Page, chromium_page, find_chromium

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = find_chromium()

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium installed (apt-get install chromium; .ci/run installs it)",
    ),
]


@pytest.fixture
async def demo(redis_url: str) -> AsyncIterator[Demo]:
    d = await start_demo(bot_builders(), port=0, scenario="all-causes", redis_url=redis_url)
    try:
        await d.wait_first_poll(90)
        assert d.first_poll_error is None, d.first_poll_error
        yield d
    finally:
        await d.close()


@pytest.fixture
async def page(request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    assert CHROMIUM is not None
    async with chromium_page(CHROMIUM, width=1600, height=1000) as p:
        yield p
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            await p.screenshot(ARTIFACTS / f"FAILED-{request.node.name}.png")


def msg_js(pid: str) -> str:
    """The channel message (or thread reply) about payment ``pid``."""
    return (
        f"(document.querySelector('#messages .msg[data-payment={json.dumps(pid)}]') || "
        f"document.querySelector('#thread-messages .msg[data-payment={json.dumps(pid)}]'))"
    )


def button_js(pid: str, label: str) -> str:
    return (
        f"[...{msg_js(pid)}.querySelectorAll('button.btn')]"
        f".find(b => b.textContent.trim() === {json.dumps(label)})"
    )


async def show(page: Page, element_js: str) -> None:
    """Scroll the element's top into view (for the screenshot)."""
    await page.js(f"{element_js}.scrollIntoView({{block: 'start'}})")


async def text(page: Page, element_js: str) -> str:
    return str(
        await page.js(f"(() => {{ const e = {element_js}; return e ? e.innerText : ''; }})()")
    )


async def test_credit_memo_case_in_the_browser(demo: Demo, page: Page) -> None:
    pid = next(p for p, cause in demo.world.expected.items() if cause == "credit-memo")
    ref = demo.cb.payments[pid].reference
    shots = ARTIFACTS
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()

    await page.goto(demo.url)
    await page.wait_for(f"!!{msg_js(pid)}", what="the credit-memo message")
    assert await page.js("document.querySelectorAll('#messages .msg[data-payment]').length") == len(
        demo.world.failed_ids
    )

    # the message: header, cause and the evidence (the credit memo and the $0 payment)
    card = await text(page, msg_js(pid))
    assert f"Payment {ref} didn't reach QuickBooks" in card
    assert "Credit memo applied" in card
    assert "Credit memo " in card.split("Credit memo applied", 1)[1]  # the evidence line
    assert "Unapply Credit Memo" in card

    # the books panel follows the message clicked
    await page.click(f"{msg_js(pid)}.querySelector('.bk-header')", "the message header")
    await page.wait_for(
        f"document.querySelector('#portal-card')?.innerText.includes({json.dumps(ref)})",
        what="the books panel for the payment",
    )
    await page.wait_for(
        "document.querySelector('#qbo-card')?.innerText.toLowerCase().includes('$0 credit')",
        what="the $0 payment in the QBO panel",
    )
    qbo_before = await text(page, "document.querySelector('#qbo-card')")
    assert (await text(page, "document.querySelector('#cb-status')")) == "failed"
    await show(page, msg_js(pid))
    await page.screenshot(shots / "01-credit-memo-message.png")

    # an outsider clicks Unapply Credit Memo: confirm, then refused; the books stay as they are
    await page.click(
        f"document.querySelector('[data-user={json.dumps(OUTSIDER)}]')",
        "the outsider in the user switch",
    )
    await page.wait_for(
        f"document.querySelector('[data-user={json.dumps(OUTSIDER)}]')"
        ".getAttribute('aria-checked') === 'true'"
    )
    await page.click(button_js(pid, "Unapply Credit Memo"), "Unapply Credit Memo")
    await page.wait_for("!!document.querySelector('#confirm-ok')", what="the confirm dialog")
    await page.click("document.querySelector('#confirm-ok')", "the confirm button")
    refusal = await page.wait_for(
        "[...document.querySelectorAll('.msg.ephemeral')].map(e => e.innerText)"
        '.find(t => t.includes("You can\'t do that"))',
        what="the ephemeral refusal",
    )
    assert "Only visible to you" in refusal and "Dana Reyes" in refusal
    await page.screenshot(shots / "02-outsider-refused.png")
    assert await text(page, "document.querySelector('#qbo-card')") == qbo_before
    assert any(p.get("TotalAmt") == 0 for p in demo.company.all("Payment"))

    # a finance user: the confirm dialog says what will change; the QBO panel changes
    await page.click(
        f"document.querySelector('[data-user={json.dumps(FINANCE_USER)}]')",
        "the finance user in the user switch",
    )
    await page.wait_for(
        f"document.querySelector('[data-user={json.dumps(FINANCE_USER)}]')"
        ".getAttribute('aria-checked') === 'true'"
    )
    await page.click(button_js(pid, "Unapply Credit Memo"), "Unapply Credit Memo")
    dialog = await page.wait_for(
        "document.querySelector('#confirm-ok') && document.querySelector('#dialog').innerText",
        what="the confirm dialog",
    )
    assert "Unapply the credit memo?" in dialog
    # the dialog is the plan, line for line: the $0 payment deleted, then the resync
    assert re.search(
        r"Delete QuickBooks payment \d+ \(\$0\.00\), which applies credit memo", dialog
    ), dialog
    await page.screenshot(shots / "03-finance-confirm.png")
    await page.click("document.querySelector('#confirm-ok')", "the confirm button")
    await page.wait_for(
        f"!document.querySelector('#qbo-card')?.innerText.toLowerCase().includes('$0 credit') && "
        f"document.querySelector('#qbo-card').innerText !== {json.dumps(qbo_before)}",
        within=30,
        what="the QBO panel to change",
    )
    await page.wait_for(
        f"{msg_js(pid)}.innerText.includes('waiting for ConnectBooster')",
        within=30,
        what="the message to say it waits for the sync",
    )
    await show(page, msg_js(pid))
    await page.screenshot(shots / "04-credit-memo-unapplied.png")

    # Run ConnectBooster sync: the payment syncs, the message turns resolved
    await page.click("document.querySelector('#run-sync')", "Run ConnectBooster sync")
    await page.wait_for(
        "document.querySelector('#cb-status')?.innerText === 'synced'",
        within=30,
        what="ConnectBooster to show the payment synced",
    )
    await page.wait_for(
        f"{msg_js(pid)}.innerText.includes('synced') && !{button_js(pid, 'Unapply Credit Memo')}",
        within=30,
        what="the message to turn resolved",
    )
    resolved = await text(page, msg_js(pid))
    assert "Credit memo un-applied and the payment synced" in resolved or "Synced" in resolved
    await show(page, msg_js(pid))
    await page.screenshot(shots / "05-resolved-after-sync.png")

    assert page.errors == [], page.errors


async def test_editing_the_books_panel_changes_the_card_in_the_browser(
    demo: Demo, page: Page
) -> None:
    """Issue 17: the books panel's Edit menu on the credit memo row, "Unapply from its
    payments", as a bookkeeper does by hand in QuickBooks; the panel says what QuickBooks did
    and the card changes with no click on it (the QBO stand-in's webhook)."""
    pid = next(p for p, cause in demo.world.expected.items() if cause == "credit-memo")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.goto(demo.url)
    await page.wait_for(f"!!{msg_js(pid)}", what="the credit-memo message")
    await page.click(f"{msg_js(pid)}.querySelector('.bk-header')", "the message header")
    menu = "document.querySelector('#qbo-card tr[data-kind=creditmemo] details.qbo-edit')"
    await page.wait_for(f"!!{menu}", what="the Edit menu on the credit memo row")
    assert "is gone" not in await text(page, msg_js(pid))

    await page.click(f"{menu}.querySelector('summary')", "Edit ▾ on the credit memo")
    await page.click(f"{menu}.querySelector('button[data-op=unapply]')", "Unapply")
    note = await page.wait_for(
        "document.querySelector('#books-note')?.innerText", what="the note in the books panel"
    )
    assert note.startswith("Edited in QuickBooks: credit memo ") and "watch the card" in note
    await page.wait_for(
        "!document.querySelector('#qbo-card').innerText.toLowerCase().includes('$0 credit')",
        within=30,
        what="the $0 payment gone from the QBO panel",
    )
    await page.wait_for(
        f"{msg_js(pid)}.innerText.includes('is gone')",
        within=60,
        what="the card to follow the books (the webhook)",
    )
    await show(page, msg_js(pid))
    await page.screenshot(ARTIFACTS / "06-books-edit-unapplied.png")
    assert page.errors == [], page.errors
