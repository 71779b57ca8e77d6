"""The QBO sandbox's bookkeeping rules, in process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from qb.auth import basic_auth
from sandbox.qbo import QBOSandbox, SandboxCompany, SandboxFault, dumps, parse_query
from tests.qbo_fixtures import seed_invoice


@pytest.fixture
def co() -> SandboxCompany:
    return QBOSandbox().add_company()


def _pay(co: SandboxCompany, cust: str, lines: list[tuple[str, str, str]], total: str) -> dict:
    return co.create(
        "Payment",
        {
            "CustomerRef": {"value": cust},
            "TotalAmt": Decimal(total),
            "Line": [
                {"Amount": Decimal(a), "LinkedTxn": [{"TxnId": i, "TxnType": t}]}
                for t, i, a in lines
            ],
        },
    )


def test_payment_reduces_invoice_balance_and_bumps_synctoken(co: SandboxCompany) -> None:
    cust = co.create("Customer", {"DisplayName": "Acme"})["Id"]
    inv = seed_invoice(co, cust, "250.00")
    assert inv["Balance"] == Decimal("250.00") and inv["SyncToken"] == "0"
    pay = _pay(co, cust, [("Invoice", inv["Id"], "100.00")], "100.00")
    after = co.get("Invoice", inv["Id"])
    assert after is not None
    assert after["Balance"] == Decimal("150.00")
    assert after["SyncToken"] == "1"
    assert after["LinkedTxn"] == [{"TxnId": pay["Id"], "TxnType": "Payment"}]
    assert pay["DepositToAccountRef"]["name"] == "Undeposited Funds"
    assert pay["UnappliedAmt"] == Decimal("0.00")


def test_zero_dollar_credit_memo_payment(co: SandboxCompany) -> None:
    cust = co.create("Customer", {"DisplayName": "Acme"})["Id"]
    inv = seed_invoice(co, cust, "300.00")
    cm = co.create("CreditMemo", {"CustomerRef": {"value": cust}, "TotalAmt": Decimal("50.00")})
    assert cm["RemainingCredit"] == Decimal("50.00")
    pay = _pay(co, cust, [("Invoice", inv["Id"], "50.00"), ("CreditMemo", cm["Id"], "50.00")], "0")
    assert pay["TotalAmt"] == Decimal("0")
    assert co.get("Invoice", inv["Id"])["Balance"] == Decimal("250.00")  # type: ignore[index]
    cm_now = co.get("CreditMemo", cm["Id"])
    assert cm_now is not None and cm_now["RemainingCredit"] == Decimal("0.00")
    assert cm_now["Balance"] == Decimal("0.00")
    co.delete("Payment", pay["Id"])  # un-apply
    assert co.get("Invoice", inv["Id"])["Balance"] == Decimal("300.00")  # type: ignore[index]
    assert co.get("CreditMemo", cm["Id"])["RemainingCredit"] == Decimal("50.00")  # type: ignore[index]
    assert co.get("Invoice", inv["Id"])["LinkedTxn"] == []  # type: ignore[index]


def test_payment_validation_faults(co: SandboxCompany) -> None:
    cust = co.create("Customer", {"DisplayName": "Acme"})["Id"]
    inv = seed_invoice(co, cust, "100.00")
    with pytest.raises(SandboxFault) as over:
        _pay(co, cust, [("Invoice", inv["Id"], "100.01")], "100.01")
    assert over.value.code == "6000" and "exceeds the open balance" in (over.value.detail or "")
    gone = seed_invoice(co, cust, "10.00")
    co.delete("Invoice", gone["Id"])
    with pytest.raises(SandboxFault) as deleted:
        _pay(co, cust, [("Invoice", gone["Id"], "10.00")], "10.00")
    assert deleted.value.code == "610" and "deleted" in (deleted.value.detail or "")
    co.update("Customer", {**co.get("Customer", cust), "Active": False})  # type: ignore[dict-item]
    with pytest.raises(SandboxFault) as inactive:
        _pay(co, cust, [("Invoice", inv["Id"], "1.00")], "1.00")
    assert inactive.value.code == "610" and "inactive" in (inactive.value.detail or "")


def test_update_checks_synctoken_and_replaces_lines(co: SandboxCompany) -> None:
    cust = co.create("Customer", {"DisplayName": "Acme"})["Id"]
    a = seed_invoice(co, cust, "100.00")
    b = seed_invoice(co, cust, "100.00")
    pay = _pay(co, cust, [("Invoice", a["Id"], "60.00")], "60.00")
    with pytest.raises(SandboxFault) as stale:
        co.update("Payment", {"Id": pay["Id"], "SyncToken": "7", "PrivateNote": "x"})
    assert stale.value.code == "5010"
    moved = co.update(
        "Payment",
        {
            "Id": pay["Id"],
            "SyncToken": "0",
            "Line": [
                {
                    "Amount": Decimal("60.00"),
                    "LinkedTxn": [{"TxnId": b["Id"], "TxnType": "Invoice"}],
                }
            ],
        },
    )
    assert moved["SyncToken"] == "1" and len(moved["Line"]) == 1
    assert co.get("Invoice", a["Id"])["Balance"] == Decimal("100.00")  # type: ignore[index]
    assert co.get("Invoice", b["Id"])["Balance"] == Decimal("40.00")  # type: ignore[index]


def test_void_and_delete_log(co: SandboxCompany) -> None:
    cust = co.create("Customer", {"DisplayName": "Acme"})["Id"]
    inv = seed_invoice(co, cust, "80.00")
    voided = co.void("Invoice", inv["Id"])
    assert voided["TotalAmt"] == 0 and voided["Balance"] == 0
    assert voided["PrivateNote"] == "Voided"
    t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    co.delete("Invoice", inv["Id"], at=t)
    assert co.get("Invoice", inv["Id"]) is None
    assert co.deletions("Invoice") == [(inv["Id"], t)]
    cdc = co.cdc(["Invoice"], t - timedelta(seconds=1))
    rows = cdc["QueryResponse"][0]["Invoice"]
    assert {
        "domain": "QBO",
        "status": "Deleted",
        "Id": inv["Id"],
        "MetaData": {"LastUpdatedTime": t.isoformat()},
    } in rows


def test_query_subset(co: SandboxCompany) -> None:
    cust = co.create("Customer", {"DisplayName": "O'Brien \\ Co"})["Id"]
    ids = [seed_invoice(co, cust, str(10 * i), doc=f"D-{i}")["Id"] for i in range(1, 6)]
    res = co.query(
        f"select * from Invoice where Id in ('{ids[0]}','{ids[2]}') "
        "and TotalAmt >= '10' orderby TotalAmt desc"
    )
    assert [r["Id"] for r in res["Invoice"]] == [ids[2], ids[0]]
    assert co.query("select count(*) from Invoice where Balance > '25'") == {"totalCount": 3}
    assert co.query("select count(*) from Invoice where DocNumber like 'D-%'")["totalCount"] == 5
    assert (
        co.query("select * from Customer where DisplayName = 'O\\'Brien \\\\ Co'")["Customer"][0][
            "Id"
        ]
        == cust
    )
    page = co.query("select * from Invoice startposition 3 maxresults 2")
    assert [r["Id"] for r in page["Invoice"]] == ids[2:4] and page["startPosition"] == 3
    assert co.query("select * from Invoice startposition 99") == {}
    for bad in (
        "select * from Custmoer",
        "select * from Invoice where a = 'x' or b = 'y'",
        "select * from Payment where UnappliedAmt > '0'",
        "delete Invoice",
    ):
        with pytest.raises(SandboxFault) as f:
            co.query(bad)
        assert f.value.code == "4001"


def test_parse_query_parts() -> None:
    q = parse_query(
        "SELECT count(*) FROM Payment WHERE MetaData.LastUpdatedTime > "
        "'2026-01-01T00:00:00Z' ORDERBY Id MAXRESULTS 5"
    )
    assert q.count and q.entity == "Payment" and q.max_results == 5
    assert q.where[0].field == "MetaData.LastUpdatedTime" and q.where[0].op == ">"


def test_dumps_writes_exact_numbers() -> None:
    assert dumps({"a": Decimal("10.50"), "b": [Decimal("0")]}) == '{"a":10.50,"b":[0]}'


async def test_sandbox_enforces_qbo_limits_with_the_xml_throttle_body() -> None:
    from tests.qbo_fixtures import start_qbo

    async with start_qbo() as env:
        sbx = env.sandbox
        token = await env.auth.access_token()
        url = f"{env.base_url}/v3/company/{env.company.realm_id}/companyinfo/{env.company.realm_id}"
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

        async def hit() -> tuple[int, str]:
            async with env.session.get(url, headers=headers, params={"minorversion": "75"}) as r:
                return r.status, await r.text()

        sbx.limit_in_flight = 2
        sbx.latency = 0.05
        answers = await asyncio.gather(*(hit() for _ in range(6)))
        statuses = sorted(s for s, _ in answers)
        assert statuses.count(200) >= 2 and 429 in statuses
        body = next(t for s, t in answers if s == 429)
        assert '<Error code="3001">' in body and "ThrottleExceeded" in body
        sbx.latency = 0
        sbx.limit_in_flight = 10
        sbx.limit_per_window = 3
        sbx.window_seconds = 30
        sequential = [(await hit())[0] for _ in range(3)]
        assert sequential[-1] == 429  # 2+ answered earlier: the window of 3 fills


async def test_sandbox_token_endpoint_rotates_and_rejects_used_tokens() -> None:
    from tests.qbo_fixtures import start_qbo

    async with start_qbo() as env:
        rt = env.sandbox.issue_refresh_token(env.company.realm_id)
        auth = {
            "Authorization": basic_auth(env.sandbox.client_id, SecretStr(env.sandbox.client_secret))
        }
        form = {"grant_type": "refresh_token", "refresh_token": rt}
        async with env.session.post(env.token_url, data=form, headers=auth) as r:
            first = await r.json()
        assert r.status == 200 and first["refresh_token"] != rt
        assert first["expires_in"] == 3600 and first["token_type"] == "bearer"
        async with env.session.post(env.token_url, data=form, headers=auth) as r:
            assert r.status == 400 and (await r.json()) == {"error": "invalid_grant"}
        bad = {"Authorization": basic_auth(env.sandbox.client_id, SecretStr("wrong"))}
        async with env.session.post(env.token_url, data=form, headers=bad) as r:
            assert r.status == 401
