"""Every QBO sample body parses: faults into the right error, entities into models."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qb.errors import (
    AuthenticationError,
    AuthorizationError,
    NotFoundError,
    QBOError,
    ServerError,
    StaleObjectError,
    ThrottledError,
    ValidationError,
    fault_from_dict,
    loads,
    parse_fault,
)
from qb.models import CreditMemo, Invoice, Payment
from qb.wire import parse_entity
from tests.conftest import QBO_SAMPLES

TID = {"intuit_tid": "1-abc-tid"}

FAULT_SAMPLES = {
    "fault_4001_invalid_query.json": (400, ValidationError, "4001", "invalid context declaration"),
    "fault_401_3200_token_expired.json": (401, AuthenticationError, "3200", "Token expired"),
    "fault_403_3100_authorization_failed_oauth_jsclient_issue2.json": (
        403,
        AuthorizationError,
        "3100",
        None,
    ),
    "fault_429_3001_throttle_exceeded_php_sdk_issue54.xml": (
        429,
        ThrottledError,
        "3001",
        "The request limit was reached",
    ),
    "fault_validation_2010_unsupported_property.json": (
        400,
        ValidationError,
        "2010",
        'Unrecognized field "BadJson"',
    ),
    "fault_validation_6240_duplicate_name.json": (
        400,
        ValidationError,
        "6240",
        "The name supplied already exists",
    ),
}
SUCCESS_SAMPLES = [
    "batch_response_with_610_and_5010_faults.json",
    "cdc_response_estimate.json",
    "creditmemo_object_intuit_docs_sample.json",
    "invoice_create_response.json",
    "invoice_delete_response.json",
    "invoice_void_response.json",
    "oauth_refresh_token_response_dotnet_sdk.json",
    "payment_read_response_ledgersync.json",
    "query_count_response.json",
    "query_response_salesreceipt.json",
    "webhook_cloudevents_payload_intuit_blog.json",
    "webhook_legacy_payload_intuit_blog.json",
]


def test_every_sample_is_covered() -> None:
    names = {p.name for p in QBO_SAMPLES.iterdir() if p.suffix in (".json", ".xml")}
    assert names == set(FAULT_SAMPLES) | set(SUCCESS_SAMPLES)


@pytest.mark.parametrize("name", sorted(FAULT_SAMPLES))
def test_fault_samples_map_to_their_class(name: str) -> None:
    status, cls, code, detail = FAULT_SAMPLES[name]
    err = parse_fault(status, (QBO_SAMPLES / name).read_bytes(), TID)
    assert type(err) is cls
    assert err.code == code
    assert err.status == status
    assert err.intuit_tid == "1-abc-tid"
    if detail is None:
        assert err.detail is None
    else:
        assert detail in (err.detail or "")
    assert err.message
    assert "1-abc-tid" in str(err)


@pytest.mark.parametrize("name", SUCCESS_SAMPLES)
def test_success_samples_are_not_faults(name: str) -> None:
    assert parse_fault(200, (QBO_SAMPLES / name).read_bytes(), {}) is None


def test_fault_inside_200_answer_is_an_error() -> None:
    body = b'{"Fault":{"Error":[{"Message":"m","Detail":"Stale","code":"5010"}]},"time":"x"}'
    err = parse_fault(200, body, {})
    assert isinstance(err, StaleObjectError)


def test_batch_sample_item_faults() -> None:
    data = loads((QBO_SAMPLES / "batch_response_with_610_and_5010_faults.json").read_bytes())
    items = {i["bId"]: i for i in data["BatchItemResponse"]}
    inactive = fault_from_dict(items["bid2"]["Fault"])
    assert isinstance(inactive, NotFoundError)
    assert inactive.code == "610" and inactive.inactive and not inactive.deleted
    assert inactive.element is None  # "" in the body means no element
    stale = fault_from_dict(items["bid3"]["Fault"])
    assert isinstance(stale, StaleObjectError) and stale.code == "5010"
    rows = items["bid4"]["QueryResponse"]["SalesReceipt"]
    receipts = [parse_entity("SalesReceipt", r) for r in rows]
    assert [r.id for r in receipts] == ["17", "11"]


def test_not_found_deleted_vs_inactive() -> None:
    body = (
        b'{"Fault":{"Error":[{"Message":"Object Not Found","Detail":"Object Not Found : '
        b'Another user has deleted this transaction.","code":"610","element":"Line"}]}}'
    )
    err = parse_fault(400, body, {})
    assert isinstance(err, NotFoundError) and err.deleted and not err.inactive
    assert err.element == "Line"


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (503, b"<html>Service Unavailable</html>", ServerError),
        (500, b"", ServerError),
        (429, b"", ThrottledError),
        (401, b"", AuthenticationError),
        (403, b"Forbidden", AuthorizationError),
        (400, b'{"Fault":{"Error":[{"Message":"x","code":"6000"}]}}', ValidationError),
        (400, b'{"Fault":{"Error":[{"Message":"x","code":"6210"}]}}', ValidationError),
        (400, b'{"Fault":{"Error":[{"Message":"x","code":"2030"}]}}', ValidationError),
        (
            500,
            b'{"Fault":{"Error":[{"Message":"x","code":"10000"}],"type":"SystemFault"}}',
            ServerError,
        ),
        (418, b"odd", ValidationError),
    ],
)
def test_status_and_code_mapping(status: int, body: bytes, cls: type[QBOError]) -> None:
    err = parse_fault(status, body, {})
    assert type(err) is cls


def test_retry_after_header_is_read() -> None:
    err = parse_fault(429, b"", {"Retry-After": "7"})
    assert isinstance(err, ThrottledError) and err.retry_after == 7.0


def test_entity_samples_parse_exact_decimals() -> None:
    inv = Invoice.model_validate(
        loads((QBO_SAMPLES / "invoice_create_response.json").read_bytes())["Invoice"]
    )
    assert inv.total_amt == Decimal("100.00") and inv.balance == Decimal("100.00")
    assert inv.customer_ref is not None and inv.customer_ref.value == "1"
    assert inv.created_at is not None and inv.created_at.utcoffset() is not None

    voided = Invoice.model_validate(
        loads((QBO_SAMPLES / "invoice_void_response.json").read_bytes())["Invoice"]
    )
    assert voided.is_voided and voided.sync_token == "1"

    deleted = Invoice.model_validate(
        loads((QBO_SAMPLES / "invoice_delete_response.json").read_bytes())["Invoice"]
    )
    assert deleted.is_deleted and deleted.id == "266"

    pay = Payment.model_validate(
        loads((QBO_SAMPLES / "payment_read_response_ledgersync.json").read_bytes())["Payment"]
    )
    assert pay.total_amt == Decimal("100.00") and pay.unapplied_amt == Decimal("0")
    assert pay.linked_ids("Invoice") == ["123"]
    assert pay.line[0].amount == Decimal("100.00")

    cm = CreditMemo.model_validate(
        loads((QBO_SAMPLES / "creditmemo_object_intuit_docs_sample.json").read_bytes())
    )
    assert cm.total_amt == Decimal("100.0") and cm.remaining_credit == Decimal("0")
    assert cm.doc_number == "1026"


def test_cdc_and_query_samples_parse() -> None:
    cdc = loads((QBO_SAMPLES / "cdc_response_estimate.json").read_bytes())
    rows = cdc["CDCResponse"][0]["QueryResponse"][0]["Estimate"]
    estimates = [parse_entity("Estimate", r) for r in rows]
    assert [e.id for e in estimates] == ["48", "46", "41", "100"]
    assert rows[3]["TotalAmt"] == Decimal("351.81")  # exact, not a float
    count = loads((QBO_SAMPLES / "query_count_response.json").read_bytes())
    assert count["QueryResponse"]["totalCount"] == 41
    q = loads((QBO_SAMPLES / "query_response_salesreceipt.json").read_bytes())
    amounts = [r["TotalAmt"] for r in q["QueryResponse"]["SalesReceipt"]]
    assert amounts == [Decimal("337.50"), Decimal("337.50"), Decimal("140.00"), Decimal("78.75")]
