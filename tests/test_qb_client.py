"""The QBO client against the sandbox over real HTTP: every operation, every error kind."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from qb.auth import MemoryTokenStore, OAuthClient, TokenRecord
from qb.client import QBOClient
from qb.errors import (
    AuthorizationError,
    NotFoundError,
    ReconnectRequired,
    ServerError,
    StaleObjectError,
    TransportError,
    ValidationError,
)
from qb.models import Account, CreditMemo, Customer, Invoice, LinkedTxn, Payment, PaymentLine, Ref
from qb.wire import BatchItem
from sandbox.qbo import QBOSandbox
from tests.qbo_fixtures import QBOEnv, connected_record, seed_invoice, start_qbo


@pytest.fixture
async def env() -> AsyncIterator[QBOEnv]:
    async with start_qbo() as e:
        yield e


def _payment(cust: str, inv: str, amount: str) -> Payment:
    return Payment(
        customer_ref=Ref(value=cust),
        total_amt=Decimal(amount),
        payment_ref_num="CB1001",
        line=[
            PaymentLine(
                amount=Decimal(amount), linked_txn=[LinkedTxn(txn_id=inv, txn_type="Invoice")]
            )
        ],
    )


def _customer(env: QBOEnv, name: str = "Northwind") -> str:
    return str(env.company.create("Customer", {"DisplayName": name})["Id"])


class Recorder:
    """Sleeps that only record (so 60 s throttle waits cost nothing)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


async def test_read_query_count_and_links(env: QBOEnv) -> None:
    cust = _customer(env)
    inv = seed_invoice(env.company, cust, "123.45", doc="INV-1")
    got = await env.client.get(Invoice, inv["Id"])
    assert got.total_amt == Decimal("123.45") and got.doc_number == "INV-1"
    assert [i.id for i in await env.client.query(Invoice, "DocNumber = 'INV-1'")] == [inv["Id"]]
    assert await env.client.count(Invoice) == 1
    assert await env.client.count(Invoice, "Balance > '200'") == 0
    ar = await env.client.account_by_name("Undeposited Funds")
    assert isinstance(ar, Account) and ar.account_sub_type == "UndepositedFunds"
    assert await env.client.account_by_name("No Such Account") is None
    prefs = await env.client.preferences()
    assert prefs.sales_forms_prefs.auto_apply_credit is True
    env.company.preferences["SalesFormsPrefs"]["AutoApplyCredit"] = False
    assert (await env.client.preferences()).sales_forms_prefs.auto_apply_credit is False
    info = await env.client.company_info()
    assert info.company_name == "Sandbox MSP LLC"
    assert env.client.web_url("Invoice", "42") == (
        "https://app.sandbox.qbo.intuit.com/app/invoice?txnId=42"
    )
    assert env.client.web_url("payment", "7").endswith("/app/recvpayment?txnId=7")
    assert env.client.web_url("CreditMemo", "9").endswith("/app/creditmemo?txnId=9")
    assert env.client.stats.requests == 9


async def test_every_call_sends_minorversion_accept_bearer_and_post_requestid() -> None:
    seen: list[tuple[str, dict[str, str], dict[str, str]]] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/v3/"):
            seen.append((request.method, dict(request.query), dict(request.headers)))
        return await handler(request)

    sbx = QBOSandbox()
    app = sbx.make_app()
    app.middlewares.insert(0, record)
    co = sbx.add_company()
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        store = MemoryTokenStore(connected_record(sbx))
        auth = OAuthClient(
            session,
            client_id=sbx.client_id,
            client_secret=SecretStr(sbx.client_secret),
            token_url=str(server.make_url("/oauth2/v1/tokens/bearer")),
            store=store,
        )
        client = QBOClient(
            session, realm_id=co.realm_id, base_url=str(server.make_url("")), auth=auth
        )
        cust = co.create("Customer", {"DisplayName": "A"})["Id"]
        inv = seed_invoice(co, cust, "10.00")
        p = await client.create_payment(_payment(cust, inv["Id"], "10.00"), request_id="cb-1")
        await client.get(Payment, str(p.id))
        await client.query(Invoice)
        await client.batch([BatchItem("q1", query="select * from Invoice")])
    await server.close()
    assert [m for m, _, _ in seen] == ["POST", "GET", "GET", "POST"]
    for method, query, headers in seen:
        assert query["minorversion"] == "75"
        assert headers["Accept"] == "application/json"
        assert headers["Authorization"].startswith("Bearer eyJ")
        if method == "POST":
            assert 0 < len(query["requestid"]) <= 50


async def test_query_pages_past_1000_rows(env: QBOEnv) -> None:
    cust = _customer(env)
    for _ in range(2050):
        seed_invoice(env.company, cust, "1.00")
    rows = await env.client.query(Invoice)
    assert len(rows) == 2050 and len({r.id for r in rows}) == 2050
    assert env.sandbox.stats.by_kind["query"] == 3  # 1000 + 1000 + 50


async def test_query_in_splits_and_escapes(env: QBOEnv) -> None:
    cust = _customer(env)
    ids = [seed_invoice(env.company, cust, "2.00")["Id"] for _ in range(250)]
    env.company.create("Customer", {"DisplayName": "O'Neil"})
    wanted = [*ids[:230], "99999"]
    rows = await env.client.query_in(Invoice, "Id", wanted, extra_where="Balance > '1'")
    assert sorted(str(r.id) for r in rows) == sorted(ids[:230])
    assert env.sandbox.stats.by_kind["query"] == 3  # 231 values in chunks of 100
    named = await env.client.query_in(Customer, "DisplayName", ["O'Neil"])
    assert [c.display_name for c in named] == ["O'Neil"]


async def test_create_update_delete_payment(env: QBOEnv) -> None:
    cust = _customer(env)
    a = seed_invoice(env.company, cust, "100.00")
    b = seed_invoice(env.company, cust, "100.00")
    p = await env.client.create_payment(_payment(cust, a["Id"], "40.00"), request_id="cb-p-1")
    assert p.id and p.sync_token == "0" and p.total_amt == Decimal("40.00")
    assert (await env.client.get(Invoice, a["Id"])).balance == Decimal("60.00")
    again = await env.client.create_payment(_payment(cust, a["Id"], "40.00"), request_id="cb-p-1")
    assert again.id == p.id and len(env.company.all("Payment")) == 1  # requestid replay

    moved = Payment(
        id=p.id,
        sync_token=p.sync_token,
        line=[
            PaymentLine(
                amount=Decimal("40.00"), linked_txn=[LinkedTxn(txn_id=b["Id"], txn_type="Invoice")]
            )
        ],
    )
    updated = await env.client.update_payment(moved, request_id="cb-u-1")
    assert updated.sync_token == "1" and updated.linked_ids("Invoice") == [b["Id"]]
    assert updated.payment_ref_num == "CB1001"  # sparse: untouched fields kept
    assert (await env.client.get(Invoice, a["Id"])).balance == Decimal("100.00")

    await env.client.delete_payment(str(p.id), str(updated.sync_token), request_id="cb-d-1")
    assert env.company.all("Payment") == []
    with pytest.raises(NotFoundError) as gone:
        await env.client.get(Payment, str(p.id))
    assert gone.value.deleted and gone.value.code == "610"
    assert (await env.client.get(Invoice, b["Id"])).balance == Decimal("100.00")


async def test_update_on_stale_synctoken_rereads_and_reapplies_once(env: QBOEnv) -> None:
    cust = _customer(env)
    inv = seed_invoice(env.company, cust, "100.00")
    p = await env.client.create_payment(_payment(cust, inv["Id"], "40.00"), request_id="s-1")
    # someone else edits the payment meanwhile: SyncToken 0 -> 1
    env.company.update("Payment", {"Id": p.id, "SyncToken": "0", "PaymentRefNum": "CB2"})
    change = Payment(id=p.id, sync_token="0", private_note="fixed by bot")
    out = await env.client.update_payment(change, request_id="s-2")
    assert out.private_note == "fixed by bot" and out.payment_ref_num == "CB2"
    assert out.sync_token == "2"
    assert env.sandbox.stats.by_kind["read"] == 1  # the re-read


async def test_stale_update_is_retried_only_once() -> None:
    @web.middleware
    async def meddle(request: web.Request, handler: Any) -> web.StreamResponse:
        resp = await handler(request)
        if request.method == "GET" and "/payment/" in request.path:
            co = sbx.company(request.match_info["realm"])
            cur = co.get("Payment", request.match_info["id"])
            assert cur is not None
            co.update("Payment", {"Id": cur["Id"], "SyncToken": cur["SyncToken"]})
        return resp

    sbx = QBOSandbox()
    async with start_qbo(sandbox=sbx, middlewares=[meddle]) as env:
        cust = _customer(env)
        inv = seed_invoice(env.company, cust, "100.00")
        p = env.company.create("Payment", _payment(cust, inv["Id"], "10.00").to_qbo())
        env.company.update("Payment", {"Id": p["Id"], "SyncToken": "0"})
        with pytest.raises(StaleObjectError):
            await env.client.update_payment(
                Payment(id=p["Id"], sync_token="0", private_note="x"), request_id="s-9"
            )
        assert env.sandbox.stats.by_kind["write"] == 2
        assert env.sandbox.stats.by_kind["read"] == 1


async def test_batch_splits_into_30s_and_keeps_item_faults(env: QBOEnv) -> None:
    cust = _customer(env)
    invs = [seed_invoice(env.company, cust, "10.00") for _ in range(33)]
    gone = seed_invoice(env.company, cust, "10.00")
    env.company.delete("Invoice", gone["Id"])
    items = [
        BatchItem(f"q{i}", query=f"select * from Invoice where Id = '{inv['Id']}'")
        for i, inv in enumerate(invs)
    ]
    items.append(
        BatchItem("pay-ok", operation="create", entity=_payment(cust, invs[0]["Id"], "5.00"))
    )
    items.append(
        BatchItem("pay-gone", operation="create", entity=_payment(cust, gone["Id"], "5.00"))
    )
    items.append(BatchItem("bad-query", query="select * from Nothing"))
    results = await env.client.batch(items)
    assert env.sandbox.stats.by_kind["batch"] == 2
    by = {r.bid: r for r in results}
    assert [r.bid for r in results] == [i.bid for i in items]
    assert by["q0"].entities[0].id == invs[0]["Id"] and by["q0"].error is None
    assert isinstance(by["pay-ok"].entity, Payment) and by["pay-ok"].error is None
    err = by["pay-gone"].error
    assert isinstance(err, NotFoundError) and err.deleted
    assert isinstance(by["bad-query"].error, ValidationError)
    assert by["bad-query"].error.code == "4001"


async def test_cdc_includes_deletions(env: QBOEnv) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    cust = _customer(env)
    keep = seed_invoice(env.company, cust, "10.00")
    drop = seed_invoice(env.company, cust, "20.00")
    env.company.delete("Invoice", drop["Id"])
    cm = env.company.create(
        "CreditMemo", {"CustomerRef": {"value": cust}, "TotalAmt": Decimal("5")}
    )
    out = await env.client.cdc(["Invoice", "Payment", "CreditMemo"], since)
    inv = {e.id: e for e in out["Invoice"]}
    assert set(inv) == {keep["Id"], drop["Id"]}
    assert inv[drop["Id"]].is_deleted and not inv[keep["Id"]].is_deleted
    assert isinstance(inv[keep["Id"]], Invoice)
    assert out["Payment"] == []
    assert [c.id for c in out["CreditMemo"]] == [cm["Id"]]
    assert isinstance(out["CreditMemo"][0], CreditMemo)
    with pytest.raises(ValueError, match="time zone"):
        await env.client.cdc(["Invoice"], datetime(2026, 1, 1))


async def test_validation_faults(env: QBOEnv) -> None:
    cust = _customer(env)
    inv = seed_invoice(env.company, cust, "50.00")
    with pytest.raises(ValidationError) as over:
        await env.client.create_payment(_payment(cust, inv["Id"], "50.01"), request_id="v-1")
    assert over.value.code == "6000" and "open balance" in (over.value.detail or "")
    assert over.value.intuit_tid and over.value.status == 400
    with pytest.raises(ValidationError) as q:
        await env.client.query(Payment, "UnappliedAmt > '0'")
    assert q.value.code == "4001"
    env.company.update("Customer", {"Id": cust, "SyncToken": "0", "Active": False})
    with pytest.raises(NotFoundError) as inactive:
        await env.client.create_payment(_payment(cust, inv["Id"], "1.00"), request_id="v-2")
    assert inactive.value.inactive and not inactive.value.deleted


async def test_expired_access_token_on_server_refreshes_once_and_retries(env: QBOEnv) -> None:
    cust = _customer(env)
    inv = seed_invoice(env.company, cust, "10.00")
    env.sandbox.expire_access_tokens()  # client still believes its token is good
    got = await env.client.get(Invoice, inv["Id"])
    assert got.id == inv["Id"]
    assert env.sandbox.stats.refreshes == 1 and env.client.stats.refreshes == 1


async def test_invalid_grant_raises_reconnect_required(env: QBOEnv) -> None:
    dead = env.sandbox.issue_refresh_token(env.company.realm_id)
    env.sandbox._refresh_tokens.pop(dead)  # used up / revoked
    store = MemoryTokenStore(TokenRecord(refresh_token=dead, realm_id=env.company.realm_id))
    client = env.new_client(auth=env.new_auth(store))
    with pytest.raises(ReconnectRequired) as exc:
        await client.get(Invoice, "1")
    assert "python app.py qbo-connect" in str(exc.value)
    assert dead not in str(exc.value)


async def test_wrong_company_is_authorization_error(env: QBOEnv) -> None:
    other = env.sandbox.add_company("4620816365000000", "Other Co")
    client = QBOClient(
        env.session, realm_id=other.realm_id, base_url=env.base_url, auth=env.auth, max_retries=0
    )
    with pytest.raises(AuthorizationError) as exc:
        await client.company_info()
    assert exc.value.code == "3100" and exc.value.status == 403


async def test_429_waits_throttle_default_or_retry_after() -> None:
    rec = Recorder()
    async with start_qbo(sleep=rec, throttle_wait=60.0) as env:
        env.sandbox.throttle(2)
        assert (await env.client.company_info()).company_name
        assert rec.waits == [60.0, 60.0]  # QBO's advice without Retry-After
        env.sandbox.retry_after = 3
        env.sandbox.throttle(1)
        await env.client.company_info()
        assert rec.waits[-1] == 3.0
        assert env.client.stats.throttled == 3 and env.sandbox.stats.throttled == 3


async def test_5xx_retries_with_capped_backoff_then_gives_up() -> None:
    rec = Recorder()
    async with start_qbo(sleep=rec, backoff_base=1.0, backoff_cap=4.0, max_retries=4) as env:
        env.sandbox.storm(3, status=503)
        assert (await env.client.company_info()).company_name
        assert len(rec.waits) == 3
        assert all(0 < w <= 4.0 for w in rec.waits) and rec.waits[0] <= 2.0
        env.sandbox.storm(10, status=500)
        with pytest.raises(ServerError) as exc:
            await env.client.company_info()
        assert exc.value.status == 500 and exc.value.code == "10000"
        env.sandbox.storm(0)
        env.sandbox.error_rate = 1.0
        with pytest.raises(ServerError):
            await env.client.company_info()
        env.sandbox.error_rate = 0.0
        assert (await env.client.company_info()).company_name
        env.sandbox.outage = True
        with pytest.raises(ServerError) as down:
            await env.client.get(Invoice, "1")
        assert down.value.status == 503


async def test_refused_connection_is_transport_error(env: QBOEnv) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = QBOClient(
        env.session,
        realm_id=env.company.realm_id,
        base_url=f"http://127.0.0.1:{port}",
        auth=env.auth,
        max_retries=1,
        backoff_base=0.001,
        backoff_cap=0.001,
    )
    with pytest.raises(TransportError) as exc:
        await client.company_info()
    assert isinstance(exc.value.__cause__, aiohttp.ClientError)
    assert client.stats.retries == 1


async def test_timeout_is_transport_error() -> None:
    async with start_qbo(timeout=0.05, max_retries=0) as env:
        env.sandbox.latency = 0.5
        with pytest.raises(TransportError) as exc:
            await env.client.company_info()
        assert isinstance(exc.value.__cause__, TimeoutError)


async def test_create_retried_after_dropped_connection_leaves_one_payment(env: QBOEnv) -> None:
    cust = _customer(env)
    inv = seed_invoice(env.company, cust, "100.00")
    env.sandbox.drop_responses = 1  # commit, then hang up before answering
    p = await env.client.create_payment(_payment(cust, inv["Id"], "40.00"), request_id="cb-x")
    payments = env.company.all("Payment")
    assert len(payments) == 1 and payments[0]["Id"] == p.id
    assert env.client.stats.retries == 1
    assert env.sandbox.stats.by_kind["write"] == 2  # it really was sent twice
    assert (await env.client.get(Invoice, inv["Id"])).balance == Decimal("60.00")


async def test_burst_of_2000_reads_stays_inside_limits() -> None:
    sbx = QBOSandbox(seed=7)
    sbx.limit_in_flight = 10
    sbx.limit_per_window = 400
    sbx.window_seconds = 0.25
    sbx.retry_after = 0.05
    async with start_qbo(
        sandbox=sbx, max_in_flight=10, per_minute=400, rate_window_seconds=0.25, max_retries=6
    ) as env:
        cust = _customer(env)
        ids = [seed_invoice(env.company, cust, "1.00")["Id"] for _ in range(50)]
        sbx.throttle(3)
        sbx.storm(3, status=503)
        results = await asyncio.gather(*(env.client.get(Invoice, ids[i % 50]) for i in range(2000)))
    assert len(results) == 2000 and all(r.total_amt == Decimal("1.00") for r in results)
    assert sbx.stats.max_in_flight <= 10
    assert env.client.stats.max_in_flight <= 10
    assert sbx.stats.injected_errors == 3 and sbx.stats.throttled >= 3
    assert env.client.stats.retries >= 6
    assert env.client.stats.requests == sbx.stats.requests - 0  # every try reached the sandbox


async def _until(condition: Any, what: str) -> None:
    """Let the loop run until ``condition()`` holds, for 10 s at most (then fail: ``what``)."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"not within 10 s: {what}")


@pytest.mark.parametrize("covers_work", [False, True])
async def test_the_stand_ins_latency_before_or_around_the_work(covers_work: bool) -> None:
    """``latency_covers_work`` (the diagnosis bench's model): the stand-in does the work at
    once and answers when the call's latency is up; otherwise it waits, then works."""
    async with start_qbo(max_retries=0, timeout=60) as env:
        cust = _customer(env)
        inv = seed_invoice(env.company, cust, "100.00")
        env.sandbox.latency, env.sandbox.latency_covers_work = 30.0, covers_work
        call = asyncio.create_task(
            env.client.create_payment(_payment(cust, inv["Id"], "40.00"), request_id="lat-1")
        )
        try:
            await _until(lambda: env.sandbox.stats.by_kind["write"] == 1, "the write arrived")
            if covers_work:
                await _until(lambda: bool(env.company.all("Payment")), "committed before answering")
            else:
                for _ in range(20):
                    await asyncio.sleep(0)
                assert env.company.all("Payment") == []  # still waiting out the latency
            assert not call.done()  # the answer waits out the rest of the 30 s either way
        finally:
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await call
