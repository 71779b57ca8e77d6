"""The Query API's wire format: the form it takes and the XML it answers.

``parse_response`` reads ``<nm_response>`` into :class:`~gateway.models.Transaction` objects
or raises: ``<error_response>`` → :class:`~gateway.errors.Rejected` (or
:class:`~gateway.errors.AuthenticationFailed`), anything that is not that XML →
:class:`~gateway.errors.MalformedResponse`. A body with a DTD is refused before parsing (the
Query API never sends one, and entities are how XML bombs work).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree import ElementTree as ET

from pydantic import ValidationError

from gateway.errors import MalformedResponse, rejection
from gateway.models import Action, Transaction

TIME_FORMAT = "%Y%m%d%H%M%S"
MONEY_FIELDS = frozenset({"amount", "requested_amount"})


def gateway_time(value: datetime) -> str:
    """``YYYYMMDDhhmmss`` in UTC, as ``start_date``/``end_date`` expect."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("gateway times must carry a time zone")
    return value.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(raw: str) -> datetime:
    """A ``YYYYMMDDhhmmss`` UTC time (MalformedResponse when it is not one)."""
    try:
        return datetime.strptime(raw.strip(), TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise MalformedResponse(f"a date that is not YYYYMMDDhhmmss: {raw[:20]!r}") from exc


def _money(raw: str) -> Decimal:
    try:
        return Decimal(raw.strip() or "0")
    except InvalidOperation as exc:
        raise MalformedResponse(f"an amount that is not a number: {raw[:20]!r}") from exc


def _action(el: ET.Element) -> Action:
    data: dict[str, Any] = {}
    for child in el:
        text = (child.text or "").strip()
        if child.tag in MONEY_FIELDS:
            data[child.tag] = _money(text) if text else None
        elif child.tag == "date":
            data["date"] = parse_time(text)
        elif child.tag == "success":
            data["success"] = text == "1"
        else:
            data[child.tag] = text
    if data.get("amount") is None:
        data.pop("amount", None)
    try:
        return Action.model_validate(data)
    except ValidationError as exc:
        raise MalformedResponse(f"an action that does not parse: {exc.errors()[0]['msg']}") from exc


def _transaction(el: ET.Element) -> Transaction:
    data: dict[str, Any] = {"actions": []}
    for child in el:
        if child.tag == "action":
            data["actions"].append(_action(child))
        elif len(child) == 0:
            data[child.tag] = (child.text or "").strip()
    data["actions"].sort(key=lambda a: a.date)
    if not data.get("transaction_id"):
        raise MalformedResponse("a transaction without a transaction_id")
    try:
        return Transaction.model_validate(data)
    except ValidationError as exc:
        raise MalformedResponse(
            f"a transaction that does not parse: {exc.errors()[0]['msg']}"
        ) from exc


def parse_response(body: bytes) -> list[Transaction]:
    """The transactions of one ``<nm_response>`` (raises for ``<error_response>`` or a body
    that is not the Query API's XML)."""
    head = body[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in body.lower():
        raise MalformedResponse("the answer carries a DTD; the Query API never sends one")
    try:
        root = ET.fromstring(body)  # noqa: S314 - DTDs refused above
    except ET.ParseError as exc:
        raise MalformedResponse(f"the answer is not XML ({exc})") from exc
    if root.tag != "nm_response":
        raise MalformedResponse(f"the answer's root is <{root.tag[:40]}>, not <nm_response>")
    err = root.find("error_response")
    if err is not None:
        raise rejection((err.text or "").strip() or "error_response without text")
    return [_transaction(t) for t in root.findall("transaction")]


def render_response(transactions: list[Transaction]) -> bytes:
    """The XML the Query API answers for ``transactions`` (the stand-in speaks it)."""
    root = ET.Element("nm_response")
    for t in transactions:
        tel = ET.SubElement(root, "transaction")
        for name, value in t.model_dump(exclude={"actions"}).items():
            ET.SubElement(tel, name).text = str(value)
        for a in t.actions:
            ael = ET.SubElement(tel, "action")
            for name, value in a.model_dump().items():
                if name == "date":
                    text = gateway_time(value)
                elif name == "success":
                    text = "1" if value else "0"
                elif value is None:
                    text = ""
                else:
                    text = str(value)
                ET.SubElement(ael, name).text = text
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def render_error(text: str) -> bytes:
    """``<nm_response><error_response>text</error_response></nm_response>``."""
    root = ET.Element("nm_response")
    ET.SubElement(root, "error_response").text = text
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
