"""The ConnectBooster sandbox's sync run writes into the QBO sandbox over real HTTP, and a
remedy made in QBO (through the ``qb/`` client) lets the next sync succeed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from cb import CBClient
from cb.models import SyncStatus
from qb.auth import MemoryTokenStore, OAuthClient, TokenRecord
from qb.client import QBOClient
from qb.models import CreditMemo, Invoice
from qb.models import Payment as QBPayment
from sandbox import scenarios
from sandbox.cb import CBSandbox
from sandbox.qbo import QBOSandbox
from sandbox.serving import serve

KEY = "cb-e2e-key"
REALM = "9341453000000777"


@dataclass
class Stack:
    qbo: QBOSandbox
    cb: CBSandbox
    qbo_url: str
    cb_url: str
    session: aiohttp.ClientSession

    def cb_client(self) -> CBClient:
        return CBClient(self.session, base_url=self.cb_url, api_key=SecretStr(KEY))

    def qb_client(self) -> QBOClient:
        store = MemoryTokenStore(
            TokenRecord(
                refresh_token=SecretStr(self.qbo.issue_refresh_token(REALM)), realm_id=REALM
            )
        )
        auth = OAuthClient(
            self.session,
            client_id=self.qbo.client_id,
            client_secret=SecretStr(self.qbo.client_secret),
            token_url=f"{self.qbo_url}/oauth2/v1/tokens/bearer",
            store=store,
        )
        return QBOClient(
            self.session, realm_id=REALM, base_url=self.qbo_url, auth=auth, environment="sandbox"
        )

    async def sync_over_http(self) -> dict[str, Any]:
        async with self.session.post(f"{self.cb_url}/sandbox/sync-run") as resp:
            assert resp.status == 200
            data: dict[str, Any] = await resp.json()
            return data


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    qbo = QBOSandbox(seed=1)
    qbo.add_company(REALM, "Brightpath IT Services LLC")
    qbo_runner, qbo_url = await serve(qbo.make_app())
    cb = CBSandbox(
        api_key=KEY,
        qbo_url=qbo_url,
        qbo_realm=REALM,
        qbo_access_token=lambda: qbo.issue_access_token(REALM),
    )
    cb_runner, cb_url = await serve(cb.make_app())
    async with aiohttp.ClientSession() as session:
        yield Stack(qbo, cb, qbo_url, cb_url, session)
    await cb_runner.cleanup()
    await qbo_runner.cleanup()


async def test_credit_memo_fails_then_syncs_after_unapplying(stack: Stack) -> None:
    world = scenarios.build("credit-memo", stack.qbo, stack.cb, run_sync=False)
    assert all(p.sync.status == SyncStatus.PENDING for p in stack.cb.payments.values())
    [pid] = world.expected
    cbc, qbc = stack.cb_client(), stack.qb_client()

    # First sync run: QBO rejects the receipt; ConnectBooster records QBO's fault.
    report = await stack.sync_over_http()
    assert set(report["failed"]) == {pid}
    assert len(report["synced"]) == len(stack.cb.payments) - 1
    failed = await cbc.get_payment(pid)
    assert failed.sync.status == SyncStatus.FAILED and failed.sync.attempts == 1
    assert failed.sync.error is not None and failed.sync.error.code == "6000"
    assert "exceeds the open balance" in failed.sync.error.message
    assert failed.sync.qb_payment_id is None
    assert [p.id async for p in cbc.list_payments("failed")] == [pid]

    # The healthy ones are real QBO payments: reference CB…, Undeposited Funds.
    synced = [p for p in stack.cb.payments.values() if p.sync.status == SyncStatus.SYNCED]
    qb_pay = await qbc.get(QBPayment, synced[0].sync.qb_payment_id or "")
    assert qb_pay.payment_ref_num == synced[0].reference
    assert qb_pay.total_amt == synced[0].amount
    assert qb_pay.deposit_to_account_ref is not None
    assert qb_pay.deposit_to_account_ref.value == world.company.undeposited_funds["Id"]
    assert qb_pay.linked_ids("Invoice") == [a.qb_invoice_id for a in synced[0].applications]

    # Remedy in QBO through qb/: delete the $0 payment applying the credit memo.
    [app] = failed.applications
    invoice = await qbc.get(Invoice, app.qb_invoice_id)
    assert invoice.balance < app.amount
    zero = None
    for lt in invoice.linked_txn:
        if lt.txn_type == "Payment":
            cand = await qbc.get(QBPayment, lt.txn_id)
            if cand.total_amt == 0 and cand.linked_ids("CreditMemo"):
                zero = cand
    assert zero is not None and zero.id and zero.sync_token
    memo_id = zero.linked_ids("CreditMemo")[0]
    await qbc.delete_payment(zero.id, zero.sync_token, request_id=f"unapply-{zero.id}")
    assert (await qbc.get(Invoice, app.qb_invoice_id)).balance == app.amount

    # Same payment, second run: synced now, invoice paid in full.
    report = await stack.sync_over_http()
    assert report["synced"] == [pid] and report["failed"] == {}
    done = await cbc.get_payment(pid)
    assert done.sync.status == SyncStatus.SYNCED and done.sync.attempts == 2
    assert done.sync.error is None and done.sync.qb_payment_id
    assert (await qbc.get(Invoice, app.qb_invoice_id)).balance == Decimal("0")
    memo = await qbc.get(CreditMemo, memo_id)
    assert memo.balance == memo.total_amt  # the credit is available again
    receipt = await qbc.get(QBPayment, done.sync.qb_payment_id)
    assert receipt.payment_ref_num == done.reference

    # Nothing left to do: a further run attempts nothing.
    report = await stack.sync_over_http()
    assert report["attempted"] == 0


async def test_resync_of_a_failed_payment_and_still_failing(stack: Stack) -> None:
    world = scenarios.build("credit-memo", stack.qbo, stack.cb)  # synced in process
    [pid] = world.expected
    cbc = stack.cb_client()
    assert (await cbc.get_payment(pid)).sync.status == SyncStatus.FAILED
    queued = await cbc.resync(pid)
    assert queued.sync.status == SyncStatus.PENDING
    report = await stack.cb.sync_run()  # the cause is still there
    assert report.failed[pid].code == "6000"
    again = await cbc.get_payment(pid)
    assert again.sync.status == SyncStatus.FAILED and again.sync.attempts == 2


async def test_sync_stops_untouched_when_qbo_is_down(stack: Stack) -> None:
    scenarios.build("credit-memo", stack.qbo, stack.cb, run_sync=False)
    before = {k: v.model_copy() for k, v in stack.cb.payments.items()}
    stack.qbo.outage = True
    report = await stack.cb.sync_run()
    assert report.aborted and "503" in report.aborted
    assert report.synced == [] and report.failed == {}
    assert stack.cb.payments == before  # no attempt recorded
    stack.qbo.outage = False
    report = await stack.cb.sync_run()
    assert report.aborted is None and len(report.synced) == len(before) - 1


async def test_lost_answer_leaves_cb_payment_in_qbo(stack: Stack) -> None:
    world = scenarios.build("credit-memo", stack.qbo, stack.cb, run_sync=False)
    healthy = next(p for p in stack.cb.payments.values() if p.id not in world.expected)
    stack.cb.lose_response_for.add(healthy.id)
    await stack.cb.sync_run()
    first = stack.cb.payments[healthy.id]
    assert first.sync.status == SyncStatus.FAILED and first.sync.error is not None
    assert first.sync.error.code is None  # a timeout, not a QBO fault
    qbc = stack.qb_client()
    existing = await qbc.query(QBPayment, f"PaymentRefNum = '{healthy.reference}'")
    assert len(existing) == 1
    await stack.cb.sync_run()
    second = stack.cb.payments[healthy.id]
    assert second.sync.status == SyncStatus.FAILED and second.sync.error is not None
    assert second.sync.error.code == "6000"  # QBO: the invoice is already paid
    assert len(await qbc.query(QBPayment, f"PaymentRefNum = '{healthy.reference}'")) == 1


async def test_periodic_sync_runs_after_resync(stack: Stack) -> None:
    world = scenarios.build("credit-memo", stack.qbo, stack.cb)
    [pid] = world.expected
    cb = CBSandbox(
        api_key=KEY,
        qbo_url=stack.qbo_url,
        qbo_realm=REALM,
        qbo_access_token=lambda: stack.qbo.issue_access_token(REALM),
    )
    for p in stack.cb.payments.values():
        cb.add_payment(p)
    cb.sync_interval = 3600  # only a resync wakes it within the test
    runner, url = await serve(cb.make_app())
    try:
        client = CBClient(stack.session, base_url=url, api_key=SecretStr(KEY))
        await client.resync(pid)
        deadline = asyncio.get_running_loop().time() + 5
        while cb.payments[pid].sync.attempts < 2:
            assert asyncio.get_running_loop().time() < deadline, "no sync after resync"
            await asyncio.sleep(0.01)
        assert cb.sync_runs == 1 and cb.payments[pid].sync.status == SyncStatus.FAILED
    finally:
        await runner.cleanup()


async def test_state_and_knobs_routes(stack: Stack) -> None:
    scenarios.build("credit-memo", stack.qbo, stack.cb)
    async with stack.session.get(f"{stack.cb_url}/sandbox/state") as resp:
        state = await resp.json()
    assert state["counts"] == {"pending": 0, "synced": 5, "failed": 1, "dismissed": 0}
    assert len(state["payments"]) == 6
    failed = [p for p in state["payments"] if p["sync"]["status"] == "failed"]
    assert failed[0]["sync"]["error"]["code"] == "6000"

    async with stack.session.post(
        f"{stack.cb_url}/sandbox/knobs", json={"rate_limit": 2, "rate_window": 60}
    ) as resp:
        assert resp.status == 200
    async with stack.session.post(f"{stack.cb_url}/sandbox/knobs", json={"error_rate": 3}) as resp:
        assert resp.status == 422
    client = CBClient(stack.session, base_url=stack.cb_url, api_key=SecretStr(KEY), max_retries=0)
    await client.list_page()
    await client.list_page()
    from cb import RateLimited

    with pytest.raises(RateLimited) as exc:
        await client.list_page()
    assert exc.value.retry_after is not None and 1 <= exc.value.retry_after <= 60


async def test_wrong_key_is_401_and_changes_nothing(stack: Stack) -> None:
    world = scenarios.build("credit-memo", stack.qbo, stack.cb)
    [pid] = world.expected
    async with stack.session.post(
        f"{stack.cb_url}/v1/payments/{pid}/dismiss-sync", headers={"Authorization": "Bearer nope"}
    ) as resp:
        assert resp.status == 401
        body = await resp.json()
    assert body["error"]["code"] == "unauthorized"
    assert stack.cb.payments[pid].sync.status == SyncStatus.FAILED


async def test_dismiss_during_a_sync_attempt_stands(stack: Stack) -> None:
    world = scenarios.build("credit-memo", stack.qbo, stack.cb, run_sync=False)
    healthy = next(pid for pid in stack.cb.payments if pid not in world.expected)
    await stack.cb.sync_run(only=[])  # looks up Undeposited Funds once
    stack.qbo.latency = 0.3
    task = asyncio.create_task(stack.cb.sync_run(only=[healthy]))
    deadline = asyncio.get_running_loop().time() + 5
    while stack.qbo.stats.in_flight < 1:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.005)
    await stack.cb_client().dismiss_sync(healthy)
    report = await task
    assert report.skipped == [healthy] and report.synced == []
    assert stack.cb.payments[healthy].sync.status == SyncStatus.DISMISSED
