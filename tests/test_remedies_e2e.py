"""Each remedy, end to end: a signed click through ``/slack/events`` (the Slack stand-in),
the bot's remedy against the QBO and ConnectBooster sandboxes, a real Redis; then the books
are checked in the QBO sandbox and the message in the Slack stand-in.

Updated for issue 14 where the old behaviour was a named defect: request ids are a hash
(no longer ``fp-<payment>-create-<attempt>``, which was truncated for long ids); Recreate
dismisses syncing before it creates; a shortfall is no longer turned into credit without
asking (amount changed); a refusal comes from the plan, in its words; a customer made
inactive is refused up front (no QuickBooks fault any more) — a QuickBooks refusal at write
time is shown with the invoice paid by hand while the dismissal is in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.models import FailureRecord, FailureStatus, RemedyKind
from bot.poll.intake import Intake
from bot.remedies import request_id
from bot.slack.ids import (
    KEEP_AS_CREDIT,
    RECREATE_TARGET_ACTION,
    RECREATE_TARGET_BLOCK,
    REMEDY_ACTIONS,
    ViewId,
)
from bot.slack.messages import post_failure
from cb.models import SyncStatus
from tests.harness import FAILED_CHANNEL, FINANCE_USER, FINANCE_USER_2, OUTSIDER, World, world

# ---- helpers (shared by the other remedy/handler test files) ------------------------------


async def seed(w: World, causes: list[str] | None = None) -> dict[str, FailureRecord]:
    """Failure records (diagnosed and planned as the poller does, posted, stored) for the
    scenario's failed payments whose cause is in ``causes`` (all when None); by cause."""
    w.slack.rate_limit_enabled = False
    s = w.services
    wanted = {pid: c for pid, c in w.scenario.expected.items() if causes is None or c in causes}
    payments = [w.cb.payments[pid] for pid in wanted]
    diagnosed = await Intake(s, None).diagnose(payments)
    out: dict[str, FailureRecord] = {}
    for p in payments:
        rec = FailureRecord(payment_id=p.id, payment=p, diagnosis=diagnosed.get(p.id))
        rec.plans = await diagnosed.plans(s, None, p) or {}
        rec.slack = await post_failure(s, rec)
        await s.store.put_failure(rec)
        out[wanted[p.id]] = rec
    return out


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll ``check`` until it holds (deadline ``within`` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def record(w: World, pid: str) -> FailureRecord:
    rec = await w.services.store.get_failure(pid)
    assert rec is not None
    return rec


async def until_status(
    w: World, pid: str, *status: FailureStatus, remedy: bool = True
) -> FailureRecord:
    """Wait until the record shows one of ``status`` — with a finished remedy journal unless
    ``remedy=False`` (a Re-check keeps none)."""

    async def done() -> bool:
        rec = await record(w, pid)
        if rec.status not in status:
            return False
        return not remedy or (rec.remedy is not None and rec.remedy.finished_at is not None)

    await eventually(done)
    return await record(w, pid)


async def click(
    w: World, rec: FailureRecord, kind: RemedyKind, user: str = FINANCE_USER, **kw: Any
) -> Any:
    assert rec.slack is not None
    resp = await w.slack.click(
        w.bot.events_url,
        message_ts=rec.slack.ts,
        channel=rec.slack.channel,
        action_id=REMEDY_ACTIONS[kind].value,
        user_id=user,
        **kw,
    )
    assert resp.status == 200, resp.body
    return resp


async def click_and_confirm(
    w: World, rec: FailureRecord, kind: RemedyKind, user: str = FINANCE_USER
) -> None:
    """Click ``kind``'s button; a plan too long for Slack's confirm dialog opens the
    confirmation modal (``ViewId.CONFIRM_PLAN``), which is then submitted as is."""
    before = set(w.slack.views)
    await click(w, rec, kind, user)

    def opened() -> list[str]:
        return [
            i
            for i, v in w.slack.views.items()
            if i not in before and v.view.get("callback_id") == ViewId.CONFIRM_PLAN.value
        ]

    await w.slack.wait_until(lambda: bool(opened()))
    resp = await w.slack.submit_view(w.bot.events_url, opened()[0], {}, user)
    assert resp.status == 200, resp.body


def qbo_payments(w: World, reference: str) -> list[dict[str, Any]]:
    return [p for p in w.company.all("Payment") if p.get("PaymentRefNum") == reference]


def shown_actions(w: World, rec: FailureRecord) -> list[str]:
    assert rec.slack is not None
    msg = w.slack.message(rec.slack.channel, rec.slack.ts)
    assert msg is not None
    # the remedies' buttons (the team's row, ``fp_team:<id>``, is tested in test_team_e2e)
    return [
        el["action_id"]
        for bid, el in msg.action_elements()
        if not str(bid or "").startswith("fp_team:")
    ]


def message_text(w: World, rec: FailureRecord) -> str:
    assert rec.slack is not None
    msg = w.slack.message(rec.slack.channel, rec.slack.ts)
    assert msg is not None
    return str(msg.blocks)


async def message_shows(w: World, rec: FailureRecord, text: str) -> None:
    """Wait until the failure's message (updated in place) contains ``text``."""
    await w.slack.wait_until(lambda: text in message_text(w, rec))


async def buttons_are(w: World, rec: FailureRecord, action_ids: list[str]) -> None:
    """Wait until the message shows exactly these buttons."""
    await w.slack.wait_until(lambda: shown_actions(w, rec) == action_ids)


def thread_texts(w: World, rec: FailureRecord) -> list[str]:
    assert rec.slack is not None
    return [m.text for m in w.slack.thread(rec.slack.channel, rec.slack.ts)]


# ---- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
async def w(redis_url: str, redis_prefix: str, redis_client: aioredis.Redis) -> Any:
    async with world(redis_url, redis_prefix, "all-causes") as built:
        yield built


# ---- Dismiss Syncing and Delete -----------------------------------------------------------


async def test_dismiss_on_paid_manually_updates_message_thread_and_audit(w: World) -> None:
    rec = (await seed(w, ["paid-manually"]))["paid-manually"]
    before = len(w.company.all("Payment"))
    await click(w, rec, RemedyKind.DISMISS_SYNC)
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)

    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.DISMISSED
    assert done.resolution is not None and done.resolution.how == "dismissed"
    assert done.resolution.by == FINANCE_USER
    assert len(w.company.all("Payment")) == before  # nothing written to the books
    await buttons_are(w, rec, [])  # resolved: no buttons left
    await message_shows(w, rec, f"Syncing dismissed by <@{FINANCE_USER}> at")
    await w.slack.wait_until(lambda: len(thread_texts(w, rec)) == 1)
    assert "Dismiss Syncing" in thread_texts(w, rec)[0]
    audit = await w.services.store.audit_entries(5)
    assert [(a.action, a.result, a.user) for a in audit[:1]] == [
        ("dismiss_sync", "ok", FINANCE_USER)
    ]
    metrics = w.services.metrics.render().decode()
    assert 'failed_payments_remedies_total{kind="dismiss_sync",result="ok"} 1.0' in metrics


async def test_delete_dismisses_first_then_removes_history(w: World) -> None:
    rec = (await seed(w, ["paid-manually"]))["paid-manually"]
    await click(w, rec, RemedyKind.DELETE_HISTORY)
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    assert rec.payment_id not in w.cb.payments
    assert w.cb.deleted[rec.payment_id].sync.status == SyncStatus.DISMISSED
    assert done.resolution is not None and done.resolution.how == "deleted"
    assert [s.name for s in done.remedy.steps] == ["cb_dismiss", "cb_delete"]  # type: ignore[union-attr]


async def test_click_on_resolved_payment_says_already_resolved(w: World) -> None:
    rec = (await seed(w, ["paid-manually"]))["paid-manually"]
    value = encode_for(rec)
    await click(w, rec, RemedyKind.DISMISS_SYNC)
    await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    # a stale client still shows the old button
    await click(w, rec, RemedyKind.DELETE_HISTORY, user=FINANCE_USER_2, strict=False, value=value)
    await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER_2)))
    text = w.slack.ephemeral(FINANCE_USER_2)[-1].text
    assert "Already resolved by" in text and f"<@{FINANCE_USER}>" in text
    assert rec.payment_id in w.cb.payments  # not deleted


def encode_for(rec: FailureRecord) -> str:
    from bot.slack.ids import encode_value

    return encode_value(rec.payment_id, attempt=rec.remedy_attempts)


# ---- Unapply Credit Memo ----------------------------------------------------------------


async def test_unapply_credit_memo_fixes_books_then_resolves_on_sync(w: World) -> None:
    rec = (await seed(w, ["credit-memo"]))["credit-memo"]
    assert rec.diagnosis is not None
    f = rec.diagnosis.findings[0]
    zero_id = f.credit_memo_payment_id
    assert zero_id and w.company.get("Payment", zero_id) is not None
    invoice_before = w.company.get("Invoice", f.invoice_id)
    assert invoice_before is not None and invoice_before["Balance"] < f.applied

    await click(w, rec, RemedyKind.UNAPPLY_CREDIT_MEMO)
    done = await until_status(w, rec.payment_id, FailureStatus.WAITING_SYNC)

    assert w.company.get("Payment", zero_id) is None  # the $0 payment linked only this pair
    invoice = w.company.get("Invoice", f.invoice_id)
    assert invoice is not None and invoice["Balance"] >= f.applied
    memo = w.company.get("CreditMemo", f.credit_memo_id or "")
    assert memo is not None and memo["Balance"] == memo["TotalAmt"]
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.PENDING
    await buttons_are(w, rec, [REMEDY_ACTIONS[RemedyKind.RECHECK].value])
    await message_shows(w, rec, "waiting for ConnectBooster")
    assert done.resolution is None

    # ConnectBooster's next sync takes it; Re-check turns the failure resolved
    report = await w.cb.sync_run(only=[rec.payment_id])
    assert report.synced == [rec.payment_id]
    await click(w, rec, RemedyKind.RECHECK)
    final = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    assert final.resolution is not None and final.resolution.how == "synced"
    assert len(qbo_payments(w, rec.payment.reference)) == 1
    paid = w.company.get("Invoice", f.invoice_id)
    assert paid is not None and paid["Balance"] == invoice["Balance"] - f.applied


async def test_unapply_rewrites_lines_when_the_zero_payment_links_another_invoice(
    w: World,
) -> None:
    rec = (await seed(w, ["credit-memo"]))["credit-memo"]
    assert rec.diagnosis is not None
    f = rec.diagnosis.findings[0]
    zero = w.company.get("Payment", f.credit_memo_payment_id or "")
    assert zero is not None
    # the same credit memo also pays part of another open invoice of the customer
    cust = zero["CustomerRef"]["value"]
    other = w.company.create(
        "Invoice",
        {"CustomerRef": {"value": cust}, "TotalAmt": "50.00", "Line": [{"Amount": "50.00"}]},
    )
    memo = w.company.get("CreditMemo", f.credit_memo_id or "")
    assert memo is not None and memo["Balance"] >= 0
    extra = min(Decimal("10.00"), memo["Balance"]) if memo["Balance"] > 0 else Decimal(0)
    lines = zero["Line"]
    if extra == 0:  # memo fully used: widen it so it can cover the other invoice too
        memo = w.company.update(
            "CreditMemo",
            {"Id": memo["Id"], "SyncToken": memo["SyncToken"], "TotalAmt": memo["TotalAmt"] + 10},
        )
        extra = Decimal("10.00")
    for ln in lines:
        if ln["LinkedTxn"][0]["TxnType"] == "CreditMemo":
            ln["Amount"] = ln["Amount"] + extra
    lines.append({"Amount": extra, "LinkedTxn": [{"TxnId": other["Id"], "TxnType": "Invoice"}]})
    w.company.update("Payment", {"Id": zero["Id"], "SyncToken": zero["SyncToken"], "Line": lines})

    # the message was drawn before that edit: the click writes nothing and shows the new plan
    await click(w, rec, RemedyKind.UNAPPLY_CREDIT_MEMO)
    await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER)))
    assert "nothing was written" in w.slack.ephemeral(FINANCE_USER)[-1].text
    assert w.company.get("Payment", zero["Id"]) is not None
    changed = await record(w, rec.payment_id)
    plan = changed.plans[RemedyKind.UNAPPLY_CREDIT_MEMO]
    assert [w.kind for w in plan.writes] == ["qbo_update_payment", "cb_resync"]
    await click_and_confirm(w, rec, RemedyKind.UNAPPLY_CREDIT_MEMO)
    await until_status(w, rec.payment_id, FailureStatus.WAITING_SYNC)
    kept = w.company.get("Payment", zero["Id"])
    assert kept is not None  # rewritten, not deleted
    links = {
        (lt["TxnType"], lt["TxnId"]): ln["Amount"] for ln in kept["Line"] for lt in ln["LinkedTxn"]
    }
    assert links == {("Invoice", other["Id"]): extra, ("CreditMemo", f.credit_memo_id): extra}
    invoice = w.company.get("Invoice", f.invoice_id)
    assert invoice is not None and invoice["Balance"] >= f.applied
    still = w.company.get("Invoice", other["Id"])
    assert still is not None and still["Balance"] == Decimal("50.00") - extra


# ---- Recreate payment -------------------------------------------------------------------


async def test_recreate_on_recreated_invoice_applies_to_replacement(w: World) -> None:
    rec = (await seed(w, ["recreated"]))["recreated"]
    assert rec.diagnosis is not None
    f = rec.diagnosis.findings[0]
    assert f.replacement_invoice_id
    repl_before = w.company.get("Invoice", f.replacement_invoice_id)
    assert repl_before is not None
    assert qbo_payments(w, rec.payment.reference) == []

    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)

    [created] = qbo_payments(w, rec.payment.reference)
    assert created["TotalAmt"] == rec.payment.amount
    assert created["TxnDate"] == rec.payment.paid_at.date().isoformat()
    assert created["CustomerRef"]["value"] == rec.payment.customer.qb_customer_id
    assert created["DepositToAccountRef"]["value"] == w.company.undeposited_funds["Id"]
    assert rec.payment_id in created["PrivateNote"] and FINANCE_USER in created["PrivateNote"]
    assert [lt["TxnId"] for ln in created["Line"] for lt in ln["LinkedTxn"]] == [
        f.replacement_invoice_id
    ]
    repl = w.company.get("Invoice", f.replacement_invoice_id)
    assert repl is not None and repl["Balance"] == repl_before["Balance"] - f.applied
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.DISMISSED
    assert done.resolution is not None and done.resolution.how == "recreated"
    assert done.remedy is not None and done.remedy.plan is not None
    assert [s.name for s in done.remedy.steps] == ["cb_dismiss", "qbo_create_payment"]
    step = done.remedy.step("qbo_create_payment")
    assert step is not None and step.request_id == request_id(
        rec.payment_id, done.remedy.plan.digest(), "qbo_create_payment", 1
    )


@pytest.mark.parametrize("cause", ["deleted", "voided"])
async def test_recreate_with_missing_replacement_asks_then_keeps_as_credit(
    w: World, cause: str
) -> None:
    rec = (await seed(w, [cause]))[cause]
    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    await w.slack.wait_until(
        lambda: any(
            v.view.get("callback_id") == ViewId.RECREATE_PICK.value for v in w.slack.views.values()
        )
    )
    view = next(
        v for v in w.slack.views.values() if v.view.get("callback_id") == ViewId.RECREATE_PICK.value
    )
    assert qbo_payments(w, rec.payment.reference) == []  # nothing until the user picks

    resp = await w.slack.submit_view(
        w.bot.events_url,
        view.id,
        {RECREATE_TARGET_BLOCK: {RECREATE_TARGET_ACTION: KEEP_AS_CREDIT}},
        FINANCE_USER,
    )
    assert resp.status == 200
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    [created] = qbo_payments(w, rec.payment.reference)
    assert created["Line"] == [] and created["UnappliedAmt"] == rec.payment.amount
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.DISMISSED
    assert done.remedy is not None and done.remedy.params == {"target": KEEP_AS_CREDIT}


async def test_recreate_modal_picks_an_open_invoice(w: World) -> None:
    rec = (await seed(w, ["deleted"]))["deleted"]
    cust = rec.payment.customer.qb_customer_id
    target = w.company.create(
        "Invoice",
        {
            "CustomerRef": {"value": cust},
            "TotalAmt": str(rec.payment.amount + 100),
            "Line": [{"Amount": str(rec.payment.amount + 100)}],
        },
    )
    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    await w.slack.wait_until(
        lambda: any(
            v.view.get("callback_id") == ViewId.RECREATE_PICK.value for v in w.slack.views.values()
        )
    )
    view = next(
        v for v in w.slack.views.values() if v.view.get("callback_id") == ViewId.RECREATE_PICK.value
    )
    # a value that was not offered keeps the modal open with an error, and changes nothing
    bad = await w.slack.submit_view(
        w.bot.events_url,
        view.id,
        {RECREATE_TARGET_BLOCK: {RECREATE_TARGET_ACTION: "99999"}},
        FINANCE_USER,
    )
    assert bad.status == 200 and bad.json()["response_action"] == "errors"
    assert qbo_payments(w, rec.payment.reference) == []

    await w.slack.submit_view(
        w.bot.events_url,
        view.id,
        {RECREATE_TARGET_BLOCK: {RECREATE_TARGET_ACTION: target["Id"]}},
        FINANCE_USER,
    )
    await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    [created] = qbo_payments(w, rec.payment.reference)
    assert [(lt["TxnId"], ln["Amount"]) for ln in created["Line"] for lt in ln["LinkedTxn"]] == [
        (target["Id"], rec.payment.amount)
    ]
    inv = w.company.get("Invoice", target["Id"])
    assert inv is not None and inv["Balance"] == Decimal(100)


async def test_recreate_on_amount_changed_asks_where_the_rest_goes(w: World) -> None:
    rec = (await seed(w, ["amount-changed"]))["amount-changed"]
    assert rec.diagnosis is not None
    f = rec.diagnosis.findings[0]
    inv = w.company.get("Invoice", f.invoice_id)
    assert inv is not None and 0 < inv["Balance"] < f.applied
    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    # the shortfall is never turned into credit silently: the picker asks
    await w.slack.wait_until(
        lambda: any(
            v.view.get("callback_id") == ViewId.RECREATE_PICK.value for v in w.slack.views.values()
        )
    )
    assert qbo_payments(w, rec.payment.reference) == []
    view = next(
        v for v in w.slack.views.values() if v.view.get("callback_id") == ViewId.RECREATE_PICK.value
    )
    await w.slack.submit_view(
        w.bot.events_url,
        view.id,
        {RECREATE_TARGET_BLOCK: {RECREATE_TARGET_ACTION: KEEP_AS_CREDIT}},
        FINANCE_USER,
    )
    await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    [created] = qbo_payments(w, rec.payment.reference)
    assert [ln["Amount"] for ln in created["Line"]] == [inv["Balance"]]
    assert created["UnappliedAmt"] == rec.payment.amount - inv["Balance"]
    after = w.company.get("Invoice", f.invoice_id)
    assert after is not None and after["Balance"] == 0


async def test_recreate_refused_when_qbo_already_holds_the_reference(w: World) -> None:
    rec = (await seed(w, ["already-in-qbo"]))["already-in-qbo"]
    before = qbo_payments(w, rec.payment.reference)
    assert len(before) == 1
    # the message offers no Recreate; a stale or crafted click still must not write
    await click(w, rec, RemedyKind.RECREATE_PAYMENT, strict=False, value=encode_for(rec))
    done = await until_status(w, rec.payment_id, FailureStatus.OPEN)
    assert done.remedy is not None and done.remedy.outcome == "refused"
    assert qbo_payments(w, rec.payment.reference) == before
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.FAILED
    await message_shows(w, rec, "already records all")
    await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER)))
    assert "already records all" in w.slack.ephemeral(FINANCE_USER)[-1].text


async def test_recreate_for_an_inactive_customer_is_refused_and_writes_nothing(
    w: World,
) -> None:
    # the customer was made inactive: QuickBooks would refuse any payment for it
    rec = (await seed(w, ["inactive-customer"]))["inactive-customer"]
    await click(w, rec, RemedyKind.RECREATE_PAYMENT, strict=False, value=encode_for(rec))
    done = await until_status(w, rec.payment_id, FailureStatus.OPEN)
    assert done.remedy is not None and done.remedy.outcome == "refused"
    assert "inactive" in (done.remedy.error or "")
    assert done.remedy.steps == []
    assert qbo_payments(w, rec.payment.reference) == []
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.FAILED  # not dismissed
    await message_shows(w, rec, "inactive")
    audit = await w.services.store.audit_entries(1)
    assert audit[0].result == "refused"


async def test_qbo_fault_at_write_time_shows_in_message_and_says_what_was_done(
    w: World,
) -> None:
    rec = (await seed(w, ["recreated"]))["recreated"]
    assert rec.diagnosis is not None
    target = rec.diagnosis.findings[0].replacement_invoice_id
    assert target
    w.cb.latency = 0.3  # ConnectBooster is slow to answer the dismissal
    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    await step_reaches(w, rec.payment_id, "cb_dismiss", "started")
    # meanwhile someone pays the invoice by hand: QuickBooks refuses the planned create
    inv = w.company.get("Invoice", target)
    assert inv is not None
    w.company.create(
        "Payment",
        {
            "CustomerRef": inv["CustomerRef"],
            "TotalAmt": inv["Balance"],
            "PaymentRefNum": "CHK 9",
            "Line": [
                {"Amount": inv["Balance"], "LinkedTxn": [{"TxnId": target, "TxnType": "Invoice"}]}
            ],
        },
    )
    done = await until_status(w, rec.payment_id, FailureStatus.OPEN)
    w.cb.latency = 0.0
    assert done.remedy is not None and done.remedy.outcome == "failed"
    assert "Syncing is already dismissed" in (done.remedy.error or "")
    assert qbo_payments(w, rec.payment.reference) == []
    # dismissed first, by this remedy: not taken for a dismissal outside Slack
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.DISMISSED
    await message_shows(w, rec, "failed at")
    audit = await w.services.store.audit_entries(1)
    assert audit[0].result == "failed"


async def step_reaches(w: World, pid: str, step: str, state: str) -> None:
    """Wait until the payment's journal shows ``step`` in ``state``."""

    async def there() -> bool:
        rec = await record(w, pid)
        s = rec.remedy.step(step) if rec.remedy is not None else None
        return s is not None and s.state == state

    await eventually(there)


async def test_cb_conflict_on_dismiss_is_reported_with_next_step(w: World) -> None:
    rec = (await seed(w, ["paid-manually"]))["paid-manually"]
    w.cb.latency = 0.3
    await click(w, rec, RemedyKind.DISMISS_SYNC)
    await step_reaches(w, rec.payment_id, "cb_dismiss", "started")
    w.cb.inject(409)  # the dismissal, still on its way, is refused
    done = await until_status(w, rec.payment_id, FailureStatus.OPEN)
    w.cb.latency = 0.0
    assert done.remedy is not None and done.remedy.outcome == "failed"
    assert "Re-check" in (done.remedy.error or "")
    await message_shows(w, rec, "ConnectBooster refused")
    # pressing again works
    await click(w, rec, RemedyKind.DISMISS_SYNC)
    await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.DISMISSED


# ---- Re-check -----------------------------------------------------------------------------


async def test_recheck_rediagnoses_now(w: World) -> None:
    rec = (await seed(w, ["paid-manually"]))["paid-manually"]
    assert rec.diagnosis is not None
    first = rec.diagnosis.diagnosed_at
    await click(w, rec, RemedyKind.RECHECK)
    await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER)))
    assert "Re-checked just now: Paid manually" in w.slack.ephemeral(FINANCE_USER)[-1].text
    again = await record(w, rec.payment_id)
    assert again.diagnosis is not None and again.diagnosis.diagnosed_at > first
    assert again.status == FailureStatus.OPEN
    # dismissed outside Slack meanwhile: Re-check turns it resolved
    w.cb.dismiss(rec.payment_id)
    await click(w, rec, RemedyKind.RECHECK)
    final = await until_status(w, rec.payment_id, FailureStatus.RESOLVED, remedy=False)
    assert final.resolution is not None and final.resolution.by is None
    await message_shows(w, rec, "outside Slack")


# ---- who may act, and two clicks at once ------------------------------------------------------


async def test_outsider_changes_nothing_and_is_told_who_may(w: World) -> None:
    rec = (await seed(w, ["recreated"]))["recreated"]
    await click(w, rec, RemedyKind.RECREATE_PAYMENT, user=OUTSIDER)
    await w.slack.wait_until(lambda: bool(w.slack.ephemeral(OUTSIDER)))
    text = w.slack.ephemeral(OUTSIDER)[-1].text
    assert f"<@{FINANCE_USER}>" in text and f"<@{FINANCE_USER_2}>" in text
    assert qbo_payments(w, rec.payment.reference) == []
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.FAILED
    after = await record(w, rec.payment_id)
    assert after.status == FailureStatus.OPEN and after.remedy is None
    assert (await w.services.store.audit_entries(1))[0].result == "refused"


async def test_two_users_clicking_at_once_run_one_remedy(w: World) -> None:
    rec = (await seed(w, ["recreated"]))["recreated"]
    await asyncio.gather(
        click(w, rec, RemedyKind.RECREATE_PAYMENT, user=FINANCE_USER),
        click(w, rec, RemedyKind.RECREATE_PAYMENT, user=FINANCE_USER_2),
    )
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    await w.slack.wait_until(
        lambda: bool(w.slack.ephemeral(FINANCE_USER) or w.slack.ephemeral(FINANCE_USER_2))
    )
    assert len(qbo_payments(w, rec.payment.reference)) == 1
    assert done.remedy_attempts == 1
    loser = FINANCE_USER_2 if done.remedy and done.remedy.user == FINANCE_USER else FINANCE_USER
    told = w.slack.ephemeral(loser)[-1].text
    assert "already being handled by" in told or "out of date" in told or "Already resolved" in told
    oks = [
        a
        for a in await w.services.store.audit_entries(20)
        if a.action == "recreate_payment" and a.result == "ok"
    ]
    assert len(oks) == 1


async def test_usergroup_member_may_act(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    member = "U0GROUPMEM"
    async with world(
        redis_url,
        redis_prefix,
        "all-causes",
        bot_overrides={"finance_users": [], "finance_usergroup": "S0FINANCE"},
    ) as w:
        w.slack.usergroups["S0FINANCE"].append(member)
        rec = (await seed(w, ["paid-manually"]))["paid-manually"]
        await click(w, rec, RemedyKind.DISMISS_SYNC, user=member)
        done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
        assert done.resolution is not None and done.resolution.by == member
        assert rec.slack is not None and rec.slack.channel == FAILED_CHANNEL


async def test_recreate_modal_submitted_while_redis_is_away_stays_open(w: World) -> None:
    import redis.asyncio as aioredis

    from tests.redis_server import free_port

    rec = (await seed(w, ["deleted"]))["deleted"]
    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    await w.slack.wait_until(
        lambda: any(
            v.view.get("callback_id") == ViewId.RECREATE_PICK.value for v in w.slack.views.values()
        )
    )
    view = next(
        v for v in w.slack.views.values() if v.view.get("callback_id") == ViewId.RECREATE_PICK.value
    )
    store = w.services.store
    live, away = (
        store.redis,
        aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5),
    )
    store.redis = away
    try:
        resp = await w.slack.submit_view(
            w.bot.events_url,
            view.id,
            {RECREATE_TARGET_BLOCK: {RECREATE_TARGET_ACTION: KEEP_AS_CREDIT}},
            FINANCE_USER,
        )
    finally:
        store.redis = live
        await away.aclose()
    assert resp.status == 200
    answer = resp.json()
    assert answer["response_action"] == "errors"
    assert "not answering" in answer["errors"][RECREATE_TARGET_BLOCK]
    assert qbo_payments(w, rec.payment.reference) == []
    fresh = await store.get_failure(rec.payment_id)
    assert fresh is not None and fresh.status == FailureStatus.OPEN
