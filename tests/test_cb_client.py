"""The ConnectBooster client against the ConnectBooster sandbox, over real HTTP."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from cb import (
    BadRequest,
    CBClient,
    Conflict,
    Invalid,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from cb.models import Payment, SyncStatus
from sandbox.cb import CBSandbox

KEY = "test-cb-key"
T0 = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)


def payment(i: int, status: str = "failed", *, minutes: int | None = None) -> dict[str, Any]:
    when = T0 + timedelta(minutes=i if minutes is None else minutes)
    return {
        "id": f"pmt_{i:06d}",
        "reference": f"CB{10000 + i}",
        "customer": {"id": f"cus_{i % 40}", "name": f"Client {i % 40}", "qb_customer_id": "58"},
        "amount": "1250.00",
        "currency": "USD",
        "method": "card",
        "paid_at": when.isoformat(),
        "applications": [
            {"invoice_number": "1043", "qb_invoice_id": "130", "amount": "1000.00"},
            {"invoice_number": "1051", "qb_invoice_id": "145", "amount": "250.00"},
        ],
        "sync": {
            "status": status,
            "attempts": 1,
            "last_attempt_at": when.isoformat(),
            "qb_payment_id": "900" if status == "synced" else None,
            "error": {"code": "6000", "message": "The amount applied exceeds the open balance."}
            if status == "failed"
            else None,
        },
        "updated_at": when.isoformat(),
    }


@pytest.fixture
def sandbox() -> CBSandbox:
    return CBSandbox(api_key=KEY, clock=lambda: T0 + timedelta(days=1))


@pytest.fixture
async def server(sandbox: CBSandbox) -> AsyncIterator[TestServer]:
    srv = TestServer(sandbox.make_app())
    await srv.start_server()
    yield srv
    await srv.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(
    server: TestServer, session: aiohttp.ClientSession, sleeps: Sleeps
) -> Callable[..., CBClient]:
    def make(**kw: Any) -> CBClient:
        kw.setdefault("api_key", SecretStr(KEY))
        kw.setdefault("sleep", sleeps)
        return CBClient(session, base_url=str(server.make_url("/")), **kw)

    return make


async def test_pages_through_1050_failed_payments(
    sandbox: CBSandbox, make_client: Callable[..., CBClient]
) -> None:
    # interleave synced ones that must not show up
    for i in range(1050):
        sandbox.add_payment(payment(i, "failed", minutes=2 * i))
    for i in range(1050, 1100):
        sandbox.add_payment(payment(i, "synced", minutes=2 * (i - 1050) + 1))
    client = make_client()

    got = [p async for p in client.list_payments("failed", limit=100)]

    assert len(got) == 1050
    assert len({p.id for p in got}) == 1050
    assert all(p.sync.status == SyncStatus.FAILED for p in got)
    assert [p.updated_at for p in got] == sorted(p.updated_at for p in got)
    assert client.stats.requests == 11  # 10 full pages and one of 50
    first = got[0]
    assert first.amount == Decimal("1250.00") and isinstance(first.amount, Decimal)
    assert first.applications[1].amount == Decimal("250.00")
    assert first.paid_at.tzinfo is not None
    assert first.sync.error is not None and first.sync.error.code == "6000"


async def test_updated_since_and_single_page(
    sandbox: CBSandbox, make_client: Callable[..., CBClient]
) -> None:
    for i in range(30):
        sandbox.add_payment(payment(i))
    client = make_client()
    page = await client.list_page(limit=500, updated_since=T0 + timedelta(minutes=20))
    assert [p.id for p in page.items] == [f"pmt_{i:06d}" for i in range(20, 30)]
    assert page.next_cursor is None


async def test_get_payment_and_stats(
    sandbox: CBSandbox, make_client: Callable[..., CBClient]
) -> None:
    sandbox.add_payment(payment(1, "failed"))
    sandbox.add_payment(payment(2, "synced"))
    sandbox.add_payment(payment(3, "synced"))
    sandbox.add_payment(payment(4, "pending", minutes=-600))  # paid before the window
    client = make_client()

    p = await client.get_payment("pmt_000001")
    assert p.reference == "CB10001" and p.customer.qb_customer_id == "58"

    stats = await client.sync_stats(T0)
    assert (stats.total, stats.synced, stats.failed, stats.pending) == (3, 2, 1, 0)
    assert stats.failure_rate == Decimal(1) / Decimal(3)


async def test_401_wrong_key_is_not_retried(
    sandbox: CBSandbox, make_client: Callable[..., CBClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(api_key=SecretStr("wrong-key-123"))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Unauthorized) as exc:
        await client.get_payment("pmt_000001")
    assert exc.value.status == 401 and exc.value.code == "unauthorized"
    assert client.stats.requests == 1
    assert "wrong-key-123" not in caplog.text and "wrong-key-123" not in repr(client)


async def test_400_404_422(sandbox: CBSandbox, make_client: Callable[..., CBClient]) -> None:
    client = make_client()
    with pytest.raises(NotFound) as nf:
        await client.get_payment("pmt_nope")
    assert nf.value.status == 404 and nf.value.code == "not_found"
    with pytest.raises(BadRequest) as br:
        await client.list_page(cursor="%%%not-a-cursor")
    assert br.value.status == 400
    with pytest.raises(Invalid) as inv:
        await client.list_page("bogus-status")
    assert inv.value.status == 422 and inv.value.code == "invalid"
    assert client.stats.requests == 3  # none of these is retried


async def test_path_ids_cannot_escape_their_segment(
    sandbox: CBSandbox, make_client: Callable[..., CBClient]
) -> None:
    sandbox.add_payment(payment(1, "failed"))
    client = make_client()
    with pytest.raises(NotFound):
        await client.dismiss_sync("pmt_000001/../../pmt_000001")
    assert sandbox.payments["pmt_000001"].sync.status == SyncStatus.FAILED


async def test_429_honours_retry_after(
    sandbox: CBSandbox, make_client: Callable[..., CBClient], sleeps: Sleeps
) -> None:
    sandbox.add_payment(payment(1))
    client = make_client()
    sandbox.inject(429, 2, retry_after=7)
    p = await client.get_payment("pmt_000001")
    assert p.id == "pmt_000001"
    assert sleeps == [7.0, 7.0]
    assert client.stats.rate_limited == 2 and client.stats.requests == 3


async def test_429_gives_up_with_retry_after(
    sandbox: CBSandbox, make_client: Callable[..., CBClient], sleeps: Sleeps
) -> None:
    client = make_client(max_retries=2)
    sandbox.inject(429, 5, retry_after=3)
    with pytest.raises(RateLimited) as exc:
        await client.sync_stats(T0)
    assert exc.value.retry_after == 3.0 and exc.value.status == 429
    assert client.stats.requests == 3 and sleeps == [3.0, 3.0]


async def test_5xx_retried_with_capped_jittered_backoff(
    sandbox: CBSandbox, make_client: Callable[..., CBClient], sleeps: Sleeps
) -> None:
    sandbox.add_payment(payment(1))
    client = make_client(max_retries=6, backoff_base=0.5, backoff_cap=2.0)
    sandbox.inject(503, 5)
    assert (await client.get_payment("pmt_000001")).id == "pmt_000001"
    assert len(sleeps) == 5
    steps = [0.5, 1.0, 2.0, 2.0, 2.0]
    assert all(step / 2 <= s <= step for s, step in zip(sleeps, steps, strict=True))


async def test_5xx_exhausted_raises_server_error(
    sandbox: CBSandbox, make_client: Callable[..., CBClient]
) -> None:
    client = make_client(max_retries=3)
    sandbox.outage = True
    with pytest.raises(ServerError) as exc:
        await client.list_page()
    assert exc.value.status == 503
    assert client.stats.requests == 4
    sandbox.outage = False
    sandbox.inject(500, 10)
    with pytest.raises(ServerError) as exc2:
        await client.get_payment("x")
    assert exc2.value.status == 500


async def test_transport_errors(session: aiohttp.ClientSession, sleeps: Sleeps) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = CBClient(
        session,
        base_url=f"http://127.0.0.1:{port}",
        api_key=SecretStr(KEY),
        sleep=sleeps,
        max_retries=2,
    )
    with pytest.raises(TransportError) as exc:
        await client.get_payment("pmt_1")
    assert isinstance(exc.value.__cause__, aiohttp.ClientError)
    assert client.stats.requests == 3 and len(sleeps) == 2


async def test_timeout_is_a_transport_error(
    sandbox: CBSandbox, make_client: Callable[..., CBClient]
) -> None:
    sandbox.latency = 2.0
    client = make_client(timeout=0.05, max_retries=0)
    with pytest.raises(TransportError) as exc:
        await client.sync_stats(T0)
    assert isinstance(exc.value.__cause__, TimeoutError)


async def test_dismiss_is_idempotent_and_409_on_synced(
    sandbox: CBSandbox, make_client: Callable[..., CBClient]
) -> None:
    sandbox.add_payment(payment(1, "failed"))
    sandbox.add_payment(payment(2, "synced"))
    client = make_client()

    first = await client.dismiss_sync("pmt_000001")
    assert first.sync.status == SyncStatus.DISMISSED
    again = await client.dismiss_sync("pmt_000001")
    assert again == first  # 200, unchanged

    with pytest.raises(Conflict) as exc:
        await client.dismiss_sync("pmt_000002")
    assert exc.value.status == 409 and exc.value.code == "conflict"
    assert sandbox.payments["pmt_000002"].sync.status == SyncStatus.SYNCED
    with pytest.raises(Conflict):
        await client.resync("pmt_000001")  # a dismissed one cannot be resynced
    with pytest.raises(NotFound):
        await client.dismiss_sync("pmt_unknown")


async def test_delete_history_is_idempotent(
    sandbox: CBSandbox, make_client: Callable[..., CBClient]
) -> None:
    sandbox.add_payment(payment(1, "failed"))
    sandbox.add_payment(payment(2, "pending"))
    client = make_client()

    assert await client.delete_history("pmt_000001") is True
    assert await client.delete_history("pmt_000001") is False  # already gone: success
    assert "pmt_000001" not in sandbox.payments
    with pytest.raises(NotFound):
        await client.get_payment("pmt_000001")
    with pytest.raises(Conflict):
        await client.delete_history("pmt_000002")  # pending: 409
    assert "pmt_000002" in sandbox.payments


async def test_idempotent_writes_are_retried_on_5xx(
    sandbox: CBSandbox, make_client: Callable[..., CBClient], sleeps: Sleeps
) -> None:
    sandbox.add_payment(payment(1, "failed"))
    sandbox.add_payment(payment(2, "failed"))
    client = make_client()
    sandbox.inject(502, 1)
    assert (await client.resync("pmt_000001")).sync.status == SyncStatus.PENDING
    sandbox.inject(500, 1)
    assert await client.delete_history("pmt_000002") is True
    assert len(sleeps) == 2


async def test_resync_queues_a_failed_payment(
    sandbox: CBSandbox, make_client: Callable[..., CBClient]
) -> None:
    sandbox.add_payment(payment(1, "failed"))
    client = make_client()
    p = await client.resync("pmt_000001")
    assert p.sync.status == SyncStatus.PENDING
    assert p.updated_at > T0 + timedelta(minutes=1)
    assert [x.id async for x in client.list_payments("pending")] == ["pmt_000001"]
    assert [x.id async for x in client.list_payments("failed")] == []


def test_payment_wire_round_trip() -> None:
    p = Payment.model_validate(payment(5))
    wire = p.to_wire()
    assert wire["amount"] == "1250.00"
    assert wire["applications"][0]["amount"] == "1000.00"
    assert Payment.model_validate(wire) == p
