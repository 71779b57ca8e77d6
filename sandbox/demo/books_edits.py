"""Edits a bookkeeper makes by hand in QuickBooks, for the demo's books panel.

:func:`edit_books` applies one to the QBO stand-in's company (``delete``, ``void``, ``note``
— a new ``PrivateNote`` — and ``unapply``: take a credit memo off every payment that applies
it). Each goes through :class:`~sandbox.qbo.company.SandboxCompany`'s own writes, so the
company tells its change listeners and the stand-in sends its signed webhook, as QuickBooks
does after an edit in its own screens.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from sandbox.qbo.company import SandboxCompany, payment_links
from sandbox.qbo.wire import money

BOOK_EDITS = ("delete", "void", "note", "unapply")
ENTITIES = ("Invoice", "Payment", "CreditMemo", "Customer")
_NAMES = {"Invoice": "invoice", "Payment": "payment", "CreditMemo": "credit memo"}
_DONE = {"delete": "deleted", "void": "voided", "note": "memo changed"}


class EditRefused(Exception):
    """An edit this entity cannot take (said to the person at the page)."""


def edit_books(co: SandboxCompany, entity: str, id_: str, op: str, note: str = "") -> str:
    """Apply ``op`` to ``entity`` ``id_``; answer what was done, in words.

    Raises :class:`EditRefused` for an op the entity does not take, and lets the company's
    ``SandboxFault`` through when QuickBooks itself refuses.
    """
    current = co.get(entity, id_)
    if current is None:
        raise LookupError(f"no {entity} {id_} in the books")
    what = f"{_NAMES.get(entity, entity)} {current.get('DocNumber') or id_}"
    if op == "delete":
        co.delete(entity, id_)
    elif op == "void":
        co.void(entity, id_)
    elif op == "note":
        text = (note or "Edited in the demo")[:200]
        co.update(entity, {"Id": id_, "SyncToken": current["SyncToken"], "PrivateNote": text})
    elif op == "unapply":
        if entity != "CreditMemo":
            raise EditRefused("only a credit memo can be unapplied")
        count = unapply_credit_memo(co, id_)
        return f"{what} unapplied from {count} payment{'' if count == 1 else 's'}"
    return f"{what} {_DONE[op]}"


def unapply_credit_memo(co: SandboxCompany, memo_id: str) -> int:
    """Take credit memo ``memo_id`` off every payment that applies it, as a bookkeeper does by
    unticking it in Receive Payment: the invoice lines give back the same amount, and a $0
    payment left applying nothing is deleted (QuickBooks does not keep an empty one).
    Answers how many payments changed; refuses when none applies it."""
    key = ("CreditMemo", str(memo_id))
    touched = [p for p in co.all("Payment") if key in payment_links(p)]
    if not touched:
        raise EditRefused(f"credit memo {memo_id} is not applied to any payment")
    for payment in touched:
        lines = _without_memo(payment, str(memo_id), payment_links(payment)[key])
        if not lines and money(payment.get("TotalAmt")) == 0:
            co.delete("Payment", str(payment["Id"]))
            continue
        body = {"Id": payment["Id"], "SyncToken": payment["SyncToken"], "Line": lines}
        co.update("Payment", body)
    return len(touched)


def _without_memo(payment: dict[str, Any], memo_id: str, amount: Decimal) -> list[Any]:
    """The payment's lines without the credit memo, the invoice lines lowered by ``amount``
    (the last ones first): what the memo paid is open again."""
    lines: list[dict[str, Any]] = []
    for line in copy.deepcopy(payment.get("Line") or []):
        links = [
            lt
            for lt in line.get("LinkedTxn") or []
            if not (lt.get("TxnType") == "CreditMemo" and str(lt.get("TxnId")) == memo_id)
        ]
        if links:
            lines.append({**line, "LinkedTxn": links})
    left = amount
    for line in reversed(lines):
        if left <= 0:
            break
        if not any(lt.get("TxnType") == "Invoice" for lt in line["LinkedTxn"]):
            continue
        take = min(left, money(line.get("Amount")))
        line["Amount"] = money(line.get("Amount")) - take
        left -= take
    return [line for line in lines if money(line.get("Amount")) > 0]
