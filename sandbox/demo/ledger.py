"""The ledger view: the QBO stand-in's books for one customer, as the page's side panel
shows them beside a failed payment.

:func:`qbo_books` answers the customer, their invoices (the payment's own first, deleted ones
marked), their payments (those applied to the payment's invoices first, each line labelled
with the invoice or credit memo it applies to) and their credit memos, newest first, each
list cut at :data:`~sandbox.demo.workspace.MAX_LEDGER_ROWS`. Amounts are exact decimal
strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sandbox.demo.workspace import MAX_LEDGER_ROWS
from sandbox.qbo import SandboxCompany

Row = dict[str, Any]


def qbo_books(
    co: SandboxCompany,
    customer_id: str | None,
    invoice_ids: list[str],
    invoice_numbers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The QBO sandbox's invoices, payments and credit memos of one customer, newest first
    (the payment's own invoices always included, deleted ones marked)."""
    books = _CustomerBooks.of(co, customer_id, invoice_ids, invoice_numbers or {})
    customer = co.get("Customer", customer_id) if customer_id else None
    return {
        "company": co.name,
        "realm_id": co.realm_id,
        "customer": (
            {
                "id": str(customer["Id"]),
                "name": customer.get("DisplayName"),
                "balance": _money(customer.get("Balance")),
            }
            if customer
            else None
        ),
        "invoices": books.invoice_rows(),
        "payments": books.payment_rows(),
        "credit_memos": books.memo_rows(),
    }


@dataclass
class _CustomerBooks:
    """One customer's objects in the company, and the payment being looked at."""

    invoices: list[Row]
    payments: list[Row]
    memos: list[Row]
    invoice_ids: list[str]
    invoice_numbers: dict[str, str]

    @classmethod
    def of(
        cls,
        co: SandboxCompany,
        customer_id: str | None,
        invoice_ids: list[str],
        invoice_numbers: dict[str, str],
    ) -> _CustomerBooks:
        def mine(entity: str) -> list[Row]:
            return [o for o in co.all(entity) if _ref(o, "CustomerRef") == customer_id]

        return cls(
            mine("Invoice"), mine("Payment"), mine("CreditMemo"), invoice_ids, invoice_numbers
        )

    def invoice_rows(self) -> list[Row]:
        """The invoices, the payment's own first; one it names that is gone, marked
        deleted."""
        wanted = set(self.invoice_ids)
        rows = [
            {
                "id": str(i["Id"]),
                "doc_number": i.get("DocNumber"),
                "txn_date": i.get("TxnDate"),
                "total": _money(i.get("TotalAmt")),
                "balance": _money(i.get("Balance")),
                "voided": i.get("PrivateNote") == "Voided",
                "deleted": False,
                "in_payment": str(i["Id"]) in wanted,
            }
            for i in _newest(self.invoices, wanted)
        ]
        live = {r["id"] for r in rows} | {str(i["Id"]) for i in self.invoices}
        for iid in self.invoice_ids:
            if iid not in live:
                rows.insert(
                    0,
                    {
                        "id": iid,
                        "doc_number": self.invoice_numbers.get(iid),
                        "txn_date": None,
                        "total": None,
                        "balance": None,
                        "voided": False,
                        "deleted": True,
                        "in_payment": True,
                    },
                )
        return rows

    def payment_rows(self) -> list[Row]:
        """The payments, those applied to the payment's invoices first."""
        wanted = set(self.invoice_ids)
        linked = {
            str(p["Id"])
            for p in self.payments
            for line in p.get("Line") or []
            for lt in line.get("LinkedTxn") or []
            if lt.get("TxnType") == "Invoice" and str(lt.get("TxnId")) in wanted
        }
        rows = []
        for p in _newest(self.payments, linked):
            ref = str(p.get("PaymentRefNum") or "")
            rows.append(
                {
                    "id": str(p["Id"]),
                    "ref": ref,
                    "txn_date": p.get("TxnDate"),
                    "total": _money(p.get("TotalAmt")),
                    "unapplied": _money(p.get("UnappliedAmt")),
                    "cb": ref.startswith("CB"),
                    "zero": Decimal(_money(p.get("TotalAmt"))) == 0,
                    "deleted": False,
                    "lines": self._lines(p),
                }
            )
        return rows

    def _lines(self, payment: Row) -> list[Row]:
        """What each line of ``payment`` applies to, labelled with its document number."""
        docs = {
            ("Invoice", str(i["Id"])): str(i.get("DocNumber") or i["Id"]) for i in self.invoices
        }
        docs.update(
            {("CreditMemo", str(c["Id"])): str(c.get("DocNumber") or c["Id"]) for c in self.memos}
        )
        lines = []
        for line in payment.get("Line") or []:
            for lt in line.get("LinkedTxn") or []:
                kind, tid = str(lt.get("TxnType")), str(lt.get("TxnId"))
                label = {"Invoice": "invoice", "CreditMemo": "credit memo"}.get(kind, kind)
                number = docs.get((kind, tid), self.invoice_numbers.get(tid, tid))
                lines.append(
                    {
                        "type": kind,
                        "id": tid,
                        "amount": _money(line.get("Amount")),
                        "label": f"{label} {number}",
                    }
                )
        return lines

    def memo_rows(self) -> list[Row]:
        """The credit memos, newest first."""
        return [
            {
                "id": str(c["Id"]),
                "doc_number": c.get("DocNumber"),
                "txn_date": c.get("TxnDate"),
                "total": _money(c.get("TotalAmt")),
                "remaining": _money(c.get("RemainingCredit")),
            }
            for c in _newest(self.memos, set())
        ]


def _newest(rows: list[Row], keep: set[str]) -> list[Row]:
    """``rows`` newest first, those in ``keep`` before the rest, at most
    ``MAX_LEDGER_ROWS`` (every kept one included)."""
    rows = sorted(rows, key=lambda r: (str(r.get("TxnDate") or ""), int(r["Id"])), reverse=True)
    kept = [r for r in rows if str(r["Id"]) in keep]
    rest = [r for r in rows if str(r["Id"]) not in keep]
    return kept + rest[: max(0, MAX_LEDGER_ROWS - len(kept))]


def _ref(obj: Row, key: str) -> str | None:
    ref = obj.get(key)
    return str(ref.get("value")) if isinstance(ref, dict) and ref.get("value") else None


def _money(v: Any) -> str:
    return str(v if isinstance(v, Decimal) else Decimal(str(v or 0)))
