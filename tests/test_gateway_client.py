"""The gateway client against the gateway stand-in (query.php), over real HTTP: paging both
ways, modified-time semantics, de-duplication, error_response, malformed XML and 429."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from cb.models import Payment
from gateway import (
    AuthenticationFailed,
    GatewayClient,
    MalformedResponse,
    RateLimited,
    Rejected,
    Transaction,
    parse_response,
    render_response,
)
from gateway.models import Action, Condition
from sandbox.cb import CBSandbox
from sandbox.gateway import GatewaySandbox, transaction_id_for

KEY = "gw-test-key-0123456789"
T0 = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)
NOW = T0 + timedelta(days=2)


def portal_payment(i: int) -> dict[str, Any]:
    when = T0 + timedelta(minutes=7 * i)
    return {
        "id": f"pmt_{i:05d}",
        "reference": f"CB{10000 + i}",
        "customer": {"id": f"cus_{i % 9}", "name": f"Client {i % 9}", "qb_customer_id": "58"},
        "amount": f"{100 + i}.25",
        "paid_at": when.isoformat(),
        "applications": [
            {"invoice_number": f"{1000 + i}", "qb_invoice_id": f"{i}", "amount": f"{100 + i}.25"}
        ],
        "sync": {"status": "synced", "attempts": 1, "qb_payment_id": "9"},
        "updated_at": when.isoformat(),
    }


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def portal() -> CBSandbox:
    cb = CBSandbox(api_key="cb")
    for i in range(23):
        cb.add_payment(Payment.model_validate(portal_payment(i)))
    return cb


@pytest.fixture(params=[0, 1], ids=["pages-from-0", "pages-from-1"])
def gw(request: pytest.FixtureRequest, portal: CBSandbox, clock: Clock) -> GatewaySandbox:
    return GatewaySandbox(portal, security_key=KEY, first_page=request.param, clock=clock)


@pytest.fixture
async def server(gw: GatewaySandbox) -> AsyncIterator[TestServer]:
    srv = TestServer(gw.make_app())
    await srv.start_server()
    yield srv
    await srv.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(
    server: TestServer, session: aiohttp.ClientSession, sleeps: Sleeps
) -> Callable[..., GatewayClient]:
    def make(**kw: Any) -> GatewayClient:
        kw.setdefault("security_key", SecretStr(KEY))
        kw.setdefault("sleep", sleeps)
        kw.setdefault("rng", __import__("random").Random(1))
        return GatewayClient(session, url=str(server.make_url("/api/query.php")), **kw)

    return make


@pytest.mark.parametrize("client_first", [0, 1])
async def test_pages_every_transaction_once_whichever_way_pages_count(
    gw: GatewaySandbox, make_client: Callable[..., GatewayClient], client_first: int
) -> None:
    client = make_client(page_size=5, first_page=client_first)
    got = await client.query()
    if client_first == 1 and gw.first_page == 0:
        # a client counting from 1 at a server counting from 0 would skip the first page:
        # that is why the client counts from 0 by default (safe both ways, de-duplicated)
        assert len(got) == 18
        return
    assert len(got) == 23
    assert len({t.transaction_id for t in got}) == 23
    assert {t.transaction_id for t in got} == {
        transaction_id_for(f"pmt_{i:05d}") for i in range(23)
    }
    sale = next(t for t in got if t.transaction_id == transaction_id_for("pmt_00003"))
    assert sale.amount == Decimal("103.25") and isinstance(sale.amount, Decimal)
    assert sale.paid_at == T0 + timedelta(minutes=21) and sale.paid_at.tzinfo is not None
    assert sale.condition == Condition.COMPLETE and sale.settled_at is not None
    assert sale.order_id == "1003"


async def test_modified_since_brings_back_a_refunded_sale_and_only_it(
    gw: GatewaySandbox, make_client: Callable[..., GatewayClient], clock: Clock
) -> None:
    client = make_client(page_size=7)
    cursor = NOW
    clock.now = NOW + timedelta(hours=1)
    tid = gw.reverse("pmt_00004", "refund", NOW + timedelta(minutes=30), Decimal("50.00"))
    assert await client.modified_since(NOW + timedelta(minutes=31)) == []
    got = await client.modified_since(cursor - timedelta(minutes=10), clock.now)
    assert [t.transaction_id for t in got] == [tid]
    assert got[0].reversed_amount == Decimal("50.00")
    assert [a.action_type for a in got[0].actions] == ["sale", "settle", "refund"]
    # a void makes the whole sale go back and the transaction canceled
    gw.reverse("pmt_00005", "void", NOW + timedelta(minutes=40))
    voided = await client.by_ids([transaction_id_for("pmt_00005")])
    assert voided[0].condition == Condition.CANCELED
    assert voided[0].reversed_amount == voided[0].amount


async def test_a_refused_key_is_an_authentication_error_never_retried(
    gw: GatewaySandbox, make_client: Callable[..., GatewayClient]
) -> None:
    client = make_client(security_key=SecretStr("wrong-key-abcdef"))
    with pytest.raises(AuthenticationFailed) as err:
        await client.query()
    assert client.stats.requests == 1 and gw.failed_auth == 1
    assert "wrong-key" not in str(err.value) and KEY not in repr(client)
    assert "Authentication Failed" in str(err.value)


async def test_error_response_and_malformed_xml_are_typed_errors(
    gw: GatewaySandbox, make_client: Callable[..., GatewayClient]
) -> None:
    client = make_client()
    gw.inject("error:Invalid condition specified")
    with pytest.raises(Rejected) as rejected:
        await client.query(condition="nonsense")
    assert not isinstance(rejected.value, AuthenticationFailed)
    gw.inject("malformed")
    with pytest.raises(MalformedResponse):
        await client.query()
    assert client.stats.rejected == 1 and client.stats.malformed == 1
    assert len(await client.query()) == 23  # the next query is fine: nothing stuck


async def test_429_waits_before_each_retry_then_gives_up_with_rate_limited(
    gw: GatewaySandbox, make_client: Callable[..., GatewayClient], sleeps: Sleeps
) -> None:
    client = make_client(max_retries=3)
    gw.inject("429", "429")
    assert len(await client.query()) == 23  # two 429s, then the answer
    assert len(sleeps) == 2 and all(s >= 0.5 for s in sleeps)
    sleeps.clear()
    gw.inject(*["429"] * 10)
    with pytest.raises(RateLimited):
        await client.query()
    assert len(sleeps) == 3 and sleeps == sorted(sleeps)  # never at once, backing off
    assert client.stats.rate_limited == 6


def test_parse_refuses_a_dtd_and_reads_empty_answers() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><nm_response>&a;</nm_response>'
    with pytest.raises(MalformedResponse):
        parse_response(bomb)
    assert parse_response(b"<nm_response/>") == []
    assert parse_response(b"<nm_response></nm_response>") == []
    with pytest.raises(MalformedResponse):
        parse_response(b"<html>Service Unavailable</html>")
    with pytest.raises(MalformedResponse):
        parse_response(
            b"<nm_response><transaction><condition>complete</condition></transaction></nm_response>"
        )


def test_round_trip_keeps_money_and_times_exact() -> None:
    t = Transaction(
        transaction_id="10458822771",
        condition="complete",
        company="Northwind Dental, LLC",
        actions=[
            Action(action_type="sale", amount=Decimal("1250.00"), date=T0, username="cb"),
            Action(action_type="settle", amount=Decimal("1250.00"), date=T0 + timedelta(hours=3)),
        ],
    )
    [back] = parse_response(render_response([t]))
    assert back == t
    assert back.made_by({"CB"}) and not back.made_by({"frontdesk"}) and back.made_by(set())


async def test_the_stand_in_filters_as_query_php_does(
    gw: GatewaySandbox, make_client: Callable[..., GatewayClient], clock: Clock
) -> None:
    client = make_client(page_size=100)
    gw.add_transaction(
        Transaction(
            transaction_id="5000000001",
            transaction_type="ck",
            condition="pendingsettlement",
            order_id="INV-77",
            email="ap@frontdesk.example",
            actions=[Action(action_type="sale", amount=Decimal("9.99"), date=T0, username="desk")],
        )
    )
    gw.reverse("pmt_00002", "void", NOW - timedelta(minutes=1))
    assert [t.transaction_id for t in await client.query(transaction_type="ck")] == ["5000000001"]
    assert len(await client.query(order_id="INV-77")) == 1
    assert len(await client.query(email="AP@frontdesk.example")) == 1
    canceled = await client.query(condition="canceled")
    assert [t.transaction_id for t in canceled] == [transaction_id_for("pmt_00002")]
    assert len(await client.query(action_type="void,refund")) == 1
    both = await client.query(transaction_id=f"5000000001,{transaction_id_for('pmt_00001')}")
    assert len(both) == 2
    newest_first = gw.select({"result_order": "reverse", "result_limit": "3"})
    assert newest_first[0].actions[0].date >= newest_first[-1].actions[0].date
    with pytest.raises(Rejected):
        await client.query(start_date="yesterday")
    first, second = (
        gw.select({"result_limit": "2", "page_number": str(gw.first_page + k)}) for k in (0, 1)
    )
    assert first != second and len(first) == len(second) == 2
