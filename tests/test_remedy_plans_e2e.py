"""Plan, show, re-check, then write (issue 14), end to end: signed clicks through
``/slack/events`` (the Slack stand-in's driver), the bot against the QuickBooks and
ConnectBooster stand-ins over HTTP, a real Redis.

- Facts that changed between the message and the click: nothing is written, the clicker is
  told what changed, the message is redrawn (resolved when ConnectBooster synced, dismissed or
  queued the payment meanwhile).
- A retried Recreate after picking another invoice is a new plan with new request ids: the
  old body is never replayed.
- A remedy whose QuickBooks call outlasts the lease's ttl while a second bot runs: the lease
  is kept alive, the second bot waits, one result; and when the lease is lost anyway, the
  first bot's late save does not overwrite the second bot's result.
- A stale SyncToken (QuickBooks 5010) stops the run and plans again; the old lines are never
  resent.
- Request ids: a hash, never truncated; attempts of a long payment id do not collide.
- ``BOOKS_TIMEZONE``: ``check`` warns while it is unset; the recreated payment is dated with
  the payment's local date there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

import app as app_module
from bot.models import FailureStatus, RemedyKind, WriteKind
from bot.poll.report import PollReport
from bot.poll.sweep import sweep_resolved
from bot.remedies import RemedyResult, RemedyTimings, request_id, resume_one
from bot.runtime.settings import SettingsError, load_settings
from bot.slack.ids import (
    KEEP_AS_CREDIT,
    RECREATE_TARGET_ACTION,
    RECREATE_TARGET_BLOCK,
    REMEDY_ACTIONS,
    ViewId,
)
from cb.models import SyncStatus
from cli.check import BOOKS_TIMEZONE_WARNING, run_checks
from tests.harness import FINANCE_USER, World, world
from tests.test_remedies_e2e import (
    click,
    click_and_confirm,
    eventually,
    qbo_payments,
    record,
    seed,
    shown_actions,
    step_reaches,
    until_status,
)

LEASE = RemedyTimings(lease_ttl=0.6, remedy_timeout=30.0, resume_poll=0.05)
"""A lease far shorter than the slowed QuickBooks call (renewed every 0.2 s)."""


@pytest.fixture
async def w(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> AsyncIterator[World]:
    async with world(redis_url, redis_prefix, "all-causes") as built:
        yield built


def told(w: World, user: str = FINANCE_USER) -> str:
    return w.slack.ephemeral(user)[-1].text


async def answered(w: World, user: str = FINANCE_USER, count: int = 1) -> str:
    await w.slack.wait_until(lambda: len(w.slack.ephemeral(user)) >= count)
    return told(w, user)


# ---- facts changed between the message and the click ----------------------------------------


async def test_unapply_after_the_zero_payment_was_removed_by_hand_and_it_synced_resolves(
    w: World,
) -> None:
    rec = (await seed(w, ["credit-memo"]))["credit-memo"]
    assert rec.diagnosis is not None
    zero_id = rec.diagnosis.findings[0].credit_memo_payment_id
    assert zero_id and RemedyKind.UNAPPLY_CREDIT_MEMO in rec.plans
    # by hand, meanwhile: the $0 payment removed in QuickBooks, and ConnectBooster synced it
    w.company.delete("Payment", zero_id)
    report = await w.cb.sync_run(only=[rec.payment_id])
    assert report.synced == [rec.payment_id]
    payments_before = w.company.all("Payment")

    await click(w, rec, RemedyKind.UNAPPLY_CREDIT_MEMO)
    text = await answered(w)
    assert "wrote nothing" in text and "synced it to QuickBooks" in text
    assert "resolved" in text and "again" not in text  # not "press Unapply again"
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED, remedy=False)
    assert done.remedy is None  # no journal: nothing was started
    assert done.resolution is not None and done.resolution.how == "synced"
    assert w.company.all("Payment") == payments_before  # nothing written
    await w.slack.wait_until(lambda: shown_actions(w, rec) == [])  # redrawn, resolved
    audit = await w.services.store.audit_entries(1)
    assert audit[0].action == "unapply_credit_memo" and audit[0].result == "refused"


async def test_recreate_after_the_payment_was_entered_by_hand_writes_nothing_and_redraws(
    w: World,
) -> None:
    rec = (await seed(w, ["recreated"]))["recreated"]
    assert rec.diagnosis is not None and RemedyKind.RECREATE_PAYMENT in rec.plans
    target = rec.diagnosis.findings[0].replacement_invoice_id
    inv = w.company.get("Invoice", target or "")
    assert inv is not None
    # someone records it by hand meanwhile, with the reference spelled another way
    variant = rec.payment.reference[:2].lower() + "-" + rec.payment.reference[2:]
    w.company.create(
        "Payment",
        {
            "CustomerRef": inv["CustomerRef"],
            "TotalAmt": rec.payment.amount,
            "PaymentRefNum": variant,
            "Line": [
                {
                    "Amount": rec.payment.amount,
                    "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}],
                }
            ],
        },
    )

    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    text = await answered(w)
    assert "nothing was written" in text
    after = await record(w, rec.payment_id)
    assert after.remedy is None and after.status == FailureStatus.OPEN
    assert qbo_payments(w, rec.payment.reference) == []  # no CB… payment created
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.FAILED  # not dismissed
    # the new diagnosis and plans are stored: all of it is recorded, Dismiss is what is left
    recreate = after.plans.get(RemedyKind.RECREATE_PAYMENT)
    assert recreate is None or not recreate.offered
    assert after.plans[RemedyKind.DISMISS_SYNC].may_run
    await w.slack.wait_until(
        lambda: REMEDY_ACTIONS[RemedyKind.DISMISS_SYNC].value in shown_actions(w, rec)
    )
    assert REMEDY_ACTIONS[RemedyKind.RECREATE_PAYMENT].value not in shown_actions(w, rec)


@pytest.mark.parametrize("meanwhile", ["dismissed", "queued"])
@pytest.mark.parametrize("kind", [RemedyKind.RECREATE_PAYMENT, RemedyKind.UNAPPLY_CREDIT_MEMO])
async def test_a_payment_dismissed_or_queued_in_connectbooster_meanwhile_is_not_written(
    w: World,
    meanwhile: str,
    kind: RemedyKind,
) -> None:
    cause = "recreated" if kind == RemedyKind.RECREATE_PAYMENT else "credit-memo"
    rec = (await seed(w, [cause]))[cause]
    books_before = w.company.all("Payment")
    if meanwhile == "dismissed":
        w.cb.dismiss(rec.payment_id)
    else:
        w.cb.resync(rec.payment_id)
    await click(w, rec, kind)
    text = await answered(w)
    assert "wrote nothing" in text
    want = FailureStatus.RESOLVED if meanwhile == "dismissed" else FailureStatus.WAITING_SYNC
    after = await until_status(w, rec.payment_id, want, remedy=False)
    assert after.remedy is None
    assert w.company.all("Payment") == books_before
    status = SyncStatus.DISMISSED if meanwhile == "dismissed" else SyncStatus.PENDING
    assert w.cb.payments[rec.payment_id].sync.status == status


# ---- a retried Recreate after picking another invoice ----------------------------------------


def picker_view(w: World, seen: set[str]) -> str:
    return next(
        i
        for i, v in w.slack.views.items()
        if i not in seen and v.view.get("callback_id") == ViewId.RECREATE_PICK.value
    )


async def pick(w: World, rec: Any, choice: str) -> None:
    """Click Recreate, wait for the picker, choose ``choice``."""
    seen = set(w.slack.views)
    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    await w.slack.wait_until(
        lambda: any(
            i not in seen and v.view.get("callback_id") == ViewId.RECREATE_PICK.value
            for i, v in w.slack.views.items()
        )
    )
    resp = await w.slack.submit_view(
        w.bot.events_url,
        picker_view(w, seen),
        {RECREATE_TARGET_BLOCK: {RECREATE_TARGET_ACTION: choice}},
        FINANCE_USER,
    )
    assert resp.status == 200, resp.body


async def test_a_retried_recreate_on_another_invoice_is_a_new_plan_never_the_old_body(
    w: World,
) -> None:
    rec = (await seed(w, ["deleted"]))["deleted"]
    cust = rec.payment.customer.qb_customer_id
    amount = rec.payment.amount + 100
    first, second = (
        w.company.create(
            "Invoice",
            {"CustomerRef": {"value": cust}, "TotalAmt": amount, "Line": [{"Amount": amount}]},
        )
        for _ in range(2)
    )
    w.services.qbo.backoff_base = 0.001  # its retries of a 503 come quickly
    w.cb.latency = 0.3
    await pick(w, rec, first["Id"])
    await step_reaches(w, rec.payment_id, "cb_dismiss", "started")
    w.qbo.storm(w.services.qbo.max_retries + 1)  # the create never reaches QuickBooks
    failed = await until_status(w, rec.payment_id, FailureStatus.OPEN)
    w.cb.latency = 0.0
    assert failed.remedy is not None and failed.remedy.outcome == "failed"
    old = failed.remedy.step("qbo_create_payment")
    assert old is not None and old.state == "started" and old.request_id  # outcome unknown
    assert failed.remedy.plan is not None
    old_digest = failed.remedy.plan.digest()
    assert qbo_payments(w, rec.payment.reference) == []

    # the user picks the other invoice: a new plan, new request ids
    await w.slack.wait_until(
        lambda: REMEDY_ACTIONS[RemedyKind.RECREATE_PAYMENT].value in shown_actions(w, failed)
    )
    await pick(w, failed, second["Id"])
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    assert done.remedy is not None and done.remedy.attempt == 2 and done.remedy.plan is not None
    assert done.remedy.plan.digest() != old_digest
    new = done.remedy.step("qbo_create_payment")
    assert new is not None and new.request_id != old.request_id
    assert new.request_id == request_id(
        rec.payment_id, done.remedy.plan.digest(), "qbo_create_payment", 2
    )
    [created] = qbo_payments(w, rec.payment.reference)
    assert [lt["TxnId"] for ln in created["Line"] for lt in ln["LinkedTxn"]] == [second["Id"]]
    untouched = w.company.get("Invoice", first["Id"])
    assert untouched is not None and untouched["Balance"] == amount  # the old body: never sent
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.DISMISSED


async def test_a_recreate_that_failed_after_dismissing_is_not_resolved_by_the_sweep(
    w: World,
) -> None:
    rec = (await seed(w, ["deleted"]))["deleted"]
    w.cb.latency = 0.3
    await pick(w, rec, KEEP_AS_CREDIT)
    await step_reaches(w, rec.payment_id, "cb_dismiss", "started")
    w.company.update(
        "Customer",
        {
            "Id": rec.payment.customer.qb_customer_id,
            "SyncToken": w.company.get("Customer", rec.payment.customer.qb_customer_id or "")[
                "SyncToken"
            ],
            "Active": False,
        },
        sparse=True,
    )
    failed = await until_status(w, rec.payment_id, FailureStatus.OPEN)
    w.cb.latency = 0.0
    assert failed.remedy is not None and failed.remedy.outcome == "failed"
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.DISMISSED
    # ConnectBooster shows it dismissed, by the bot's own remedy: the sweep leaves it open
    await sweep_resolved(
        w.services, PollReport(started_at=w.services.clock()), None, set(), page=50
    )
    still = await record(w, rec.payment_id)
    assert still.status == FailureStatus.OPEN and still.resolution is None


# ---- the lease outlives a slow QuickBooks call; a lost lease overwrites nothing -----------------


async def slow_create_started(w: World, pid: str, latency: float) -> None:
    """Click Recreate on bot 1; once its ConnectBooster dismissal is on its way, slow
    QuickBooks down so the create outlasts the lease; wait until the create is sent."""
    w.cb.latency = 0.3
    await step_reaches(w, pid, "cb_dismiss", "started")
    w.qbo.latency = latency
    await step_reaches(w, pid, "qbo_create_payment", "started")
    w.cb.latency = 0.0


@pytest.fixture
async def two_bots(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> AsyncIterator[World]:
    async with world(redis_url, redis_prefix, "all-causes", bots=2) as built:
        for bot in built.bots:
            bot.services.remedy_timings = LEASE
        yield built


async def test_a_qbo_call_longer_than_the_lease_keeps_it_and_the_second_bot_waits(
    two_bots: World,
) -> None:
    w = two_bots
    rec = (await seed(w, ["recreated"]))["recreated"]
    second = w.bots[1].services
    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    await slow_create_started(w, rec.payment_id, latency=3 * LEASE.lease_ttl)
    loop = asyncio.get_running_loop()
    sent = loop.time()
    busy_after_ttl = 0

    async def first_bot_done() -> bool:
        nonlocal busy_after_ttl
        rec_now = await record(w, rec.payment_id)
        if rec_now.remedy is not None and rec_now.remedy.finished_at is not None:
            return True
        outcome = await resume_one(second, rec.payment_id)  # the second bot tries to take over
        assert outcome is not None and outcome.result == RemedyResult.BUSY
        if loop.time() - sent > 1.5 * LEASE.lease_ttl:
            busy_after_ttl += 1
        return False

    await eventually(first_bot_done)
    w.qbo.latency = 0.0
    assert busy_after_ttl > 0  # the lease was still held long after its ttl
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    assert done.remedy is not None and done.remedy.attempt == 1 and done.remedy.outcome == "ok"
    assert not any("after a restart" in h.what for h in done.history)
    assert len(qbo_payments(w, rec.payment.reference)) == 1
    oks = [
        a
        for a in await w.services.store.audit_entries(20)
        if a.payment_id == rec.payment_id and a.action == "recreate_payment"
    ]
    assert [a.result for a in oks] == ["ok"]


async def test_a_lost_lease_never_overwrites_the_new_holders_result(two_bots: World) -> None:
    w = two_bots
    rec = (await seed(w, ["recreated"]))["recreated"]
    second = w.bots[1].services
    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    await slow_create_started(w, rec.payment_id, latency=1.0)
    # the first bot's lease is lost mid-call (expired in a Redis failover, say)
    await w.services.redis.delete(w.services.store.key("lease", f"payment:{rec.payment_id}"))
    outcome = await resume_one(second, rec.payment_id)  # the second bot finishes the remedy
    assert outcome is not None and outcome.result == RemedyResult.OK
    finished = await record(w, rec.payment_id)
    assert finished.status == FailureStatus.RESOLVED
    assert any("after a restart" in h.what for h in finished.history)
    # the first bot's create answers later: it stops, saves nothing, and says so
    text = await answered(w)
    assert "taken over by another instance" in text
    w.qbo.latency = 0.0
    assert (await record(w, rec.payment_id)).model_dump() == finished.model_dump()
    assert len(qbo_payments(w, rec.payment.reference)) == 1  # the create was replayed
    audits = [
        a
        for a in await w.services.store.audit_entries(20)
        if a.payment_id == rec.payment_id and a.action == "recreate_payment"
    ]
    assert [a.result for a in audits] == ["ok"]


# ---- a stale SyncToken stops the run: the old lines are never resent ---------------------------


async def test_a_stale_synctoken_stops_and_plans_again_without_resending(w: World) -> None:
    rec = (await seed(w, ["credit-memo"]))["credit-memo"]
    assert rec.diagnosis is not None
    zero_id = rec.diagnosis.findings[0].credit_memo_payment_id or ""
    step = f"qbo_unapply:{zero_id}"
    w.qbo.latency = 0.3
    writes_before = w.qbo.stats.by_kind["write"] + w.qbo.stats.by_kind["delete"]
    await click_or_confirm(w, rec, RemedyKind.UNAPPLY_CREDIT_MEMO)
    await step_reaches(w, rec.payment_id, step, "started")
    zero = w.company.get("Payment", zero_id)
    assert zero is not None
    w.company.update(
        "Payment",
        {"Id": zero_id, "SyncToken": zero["SyncToken"], "PrivateNote": "edited by hand"},
        sparse=True,
    )
    edited = w.company.get("Payment", zero_id)
    failed = await until_status(w, rec.payment_id, FailureStatus.OPEN)
    w.qbo.latency = 0.0
    assert failed.remedy is not None and failed.remedy.outcome == "failed"
    assert "changed the QuickBooks payment since the plan was made" in (failed.remedy.error or "")
    stale = failed.remedy.step(step)
    assert stale is not None and stale.state == "failed"
    assert w.qbo.stats.by_kind["write"] + w.qbo.stats.by_kind["delete"] == writes_before + 1
    assert w.company.get("Payment", zero_id) == edited  # nothing resent on the fresh version
    assert failed.remedy.plan is not None
    new_plan = failed.plans[RemedyKind.UNAPPLY_CREDIT_MEMO]
    assert new_plan.digest() != failed.remedy.plan.digest()  # planned again from the fresh one
    await click_or_confirm(w, failed, RemedyKind.UNAPPLY_CREDIT_MEMO)
    await until_status(w, rec.payment_id, FailureStatus.WAITING_SYNC)
    assert w.company.get("Payment", zero_id) is None


async def click_or_confirm(w: World, rec: Any, kind: RemedyKind) -> None:
    """Click; when the plan is too long for a dialog the confirmation modal is submitted.
    Waits for the button first: the record is saved before its message is redrawn."""
    action_id = REMEDY_ACTIONS[kind].value

    async def drawn() -> bool:
        msg = w.slack.message(rec.slack.channel, rec.slack.ts) if rec.slack else None
        return msg is not None and any(
            el.get("action_id") == action_id for _, el in msg.action_elements()
        )

    await eventually(drawn)
    plan = (await record(w, rec.payment_id)).plans[kind]
    if sum(len(line) + 1 for line in plan.lines()) > 280:
        await click_and_confirm(w, rec, kind)
    else:
        await click(w, rec, kind)


# ---- request ids --------------------------------------------------------------------------------


def test_request_ids_are_hashes_that_never_collide_and_fit() -> None:
    long_id = "pmt_" + "x" * 80
    ids = [request_id(long_id, "0123456789abcdef", "qbo_create_payment", n) for n in (1, 2, 9)]
    assert len(set(ids)) == 3
    assert all(len(i) <= 50 and i.startswith("fp-") for i in ids)
    assert request_id(long_id, "0123456789abcdef", "qbo_create_payment", 1) == ids[0]
    other_plan = request_id(long_id, "fedcba9876543210", "qbo_create_payment", 1)
    other_step = request_id(long_id, "0123456789abcdef", "qbo_unapply:77", 1)
    assert len({ids[0], other_plan, other_step}) == 3
    # ids that differ only past a would-be cut still differ
    a = request_id("p" * 60 + "1", "d", "s", 1)
    b = request_id("p" * 60 + "2", "d", "s", 1)
    assert a != b


# ---- BOOKS_TIMEZONE -----------------------------------------------------------------------------


async def test_check_warns_while_books_timezone_is_unset(
    redis_url: str, redis_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with world(redis_url, redis_prefix, "credit-memo", bots=0) as w:
        assert await run_checks(w.settings(), app_module.build_services) == 0
        out = capsys.readouterr().out
        assert BOOKS_TIMEZONE_WARNING in out.splitlines()
        assert (
            await run_checks(
                w.settings(books_timezone="America/New_York"), app_module.build_services
            )
            == 0
        )
        assert "BOOKS_TIMEZONE" not in capsys.readouterr().out


def test_books_timezone_must_be_an_iana_name(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (
        ("SLACK_BOT_TOKEN", "xoxb-1"),
        ("SLACK_SIGNING_SECRET", "s"),
        ("FAILED_PAYMENTS_CHANNEL", "C1"),
        ("ALERT_CHANNEL", "C2"),
        ("FINANCE_USERS", "U1"),
        ("QBO_CLIENT_ID", "c"),
        ("QBO_CLIENT_SECRET", "s"),
        ("QBO_REALM_ID", "1"),
        ("CB_BASE_URL", "https://cb.example"),
        ("CB_API_KEY", "k"),
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BOOKS_TIMEZONE", "Mars/Olympus_Mons")
    with pytest.raises(SettingsError) as bad:
        load_settings(_env_file=None)
    assert any(line.startswith("BOOKS_TIMEZONE") for line in bad.value.lines)
    monkeypatch.setenv("BOOKS_TIMEZONE", "America/New_York")
    assert load_settings(_env_file=None).books_tz == ZoneInfo("America/New_York")
    monkeypatch.delenv("BOOKS_TIMEZONE")
    assert load_settings(_env_file=None).books_tz == ZoneInfo("UTC")


async def test_the_recreated_payment_is_dated_in_the_books_time_zone(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    async with world(redis_url, redis_prefix, "all-causes", bots=0) as w:
        assert w.scenario is not None
        pid = next(p for p, c in w.scenario.expected.items() if c == "recreated")
        paid = w.cb.payments[pid].paid_at
        # a zone where that moment falls on another day than in UTC
        zone = "Pacific/Kiritimati" if paid.hour >= 10 else "Pacific/Pago_Pago"
        local = paid.astimezone(ZoneInfo(zone)).date()
        assert local != paid.date()
        await w.start_bot(books_timezone=zone)
        rec = (await seed(w, ["recreated"]))["recreated"]
        plan = rec.plans[RemedyKind.RECREATE_PAYMENT]
        assert any(local.isoformat() in line for line in plan.lines())  # shown as written
        await click(w, rec, RemedyKind.RECREATE_PAYMENT)
        await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
        [created] = qbo_payments(w, rec.payment.reference)
        assert created["TxnDate"] == local.isoformat()


async def test_a_multi_currency_company_gets_currency_and_rate_on_the_payment(
    w: World,
) -> None:
    w.company.preferences["CurrencyPrefs"] = {
        "MultiCurrencyEnabled": True,
        "HomeCurrency": {"value": "USD"},
    }
    rec = (await seed(w, ["recreated"]))["recreated"]
    plan = rec.plans[RemedyKind.RECREATE_PAYMENT]
    [create] = [x for x in plan.writes if x.kind == WriteKind.QBO_CREATE_PAYMENT]
    assert create.body is not None and create.body["CurrencyRef"] == {"value": "USD"}
    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    [created] = qbo_payments(w, rec.payment.reference)
    assert created["CurrencyRef"]["value"] == "USD" and created["ExchangeRate"] == 1


# ---- Reactivate customer ------------------------------------------------------------------------


async def test_reactivate_customer_is_a_sparse_update_then_waits_for_the_sync(w: World) -> None:
    rec = (await seed(w, ["inactive-customer"]))["inactive-customer"]
    cust = rec.payment.customer.qb_customer_id or ""
    before = w.company.get("Customer", cust)
    assert before is not None and before["Active"] is False
    plan = rec.plans[RemedyKind.REACTIVATE_CUSTOMER]
    assert [x.kind for x in plan.writes] == [WriteKind.QBO_UPDATE_CUSTOMER, WriteKind.CB_RESYNC]
    await click_or_confirm(w, rec, RemedyKind.REACTIVATE_CUSTOMER)
    done = await until_status(w, rec.payment_id, FailureStatus.WAITING_SYNC)
    assert done.remedy is not None and done.remedy.outcome == "ok"
    after = w.company.get("Customer", cust)
    assert after is not None and after["Active"] is True
    assert after["DisplayName"] == before["DisplayName"]  # sparse: the rest untouched
    assert int(after["SyncToken"]) == int(before["SyncToken"]) + 1
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.PENDING
    report = await w.cb.sync_run(only=[rec.payment_id])
    assert report.synced == [rec.payment_id]
    assert len(qbo_payments(w, rec.payment.reference)) == 1
