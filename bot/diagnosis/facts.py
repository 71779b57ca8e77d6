"""The QuickBooks facts a diagnosis reads (``QBOFacts``), and the sort keys its rules share.

``bot.diagnosis.fetch`` fills a ``QBOFacts`` for a whole batch of failed payments in bulk; the
pure rules (``decide``, ``deleted``, ``invoice``, ``unknown``, ``wording``) only read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from qb.models import CreditMemo, Invoice
from qb.models import Payment as QBPayment


def time_key(t: datetime | None) -> float:
    """Sort key for a time; unknown sorts first."""
    return t.timestamp() if t is not None else float("-inf")


def id_key(i: str | None) -> tuple[int, str]:
    """Sort key for a QBO id: numeric ids by number, others after."""
    s = i or ""
    return (int(s), s) if s.isdigit() else (1 << 62, s)


def _no_url(entity_type: str, entity_id: str) -> str:
    return ""


@dataclass(frozen=True)
class QBOFacts:
    """What QuickBooks holds about a batch of failed payments, fetched in bulk.

    - ``invoices``: invoices still readable, by id.
    - ``deleted_invoice_ids``: invoice ids that are gone (read answers 610, or CDC lists them as
      deleted), with the deletion time when CDC shows it.
    - ``payments``: every QBO payment linked to those invoices, $0 credit-memo payments included.
    - ``credit_memos``: the credit memos those payments link.
    - ``replacements_by_number``: invoices by ``DocNumber``, for numbers of deleted invoices.
    - ``invoices_by_customer``: open invoices by QBO customer id (amount matches, the picker).
    - ``existing_by_reference``: QBO payments whose ``PaymentRefNum`` is a CB reference.
    - ``inactive_customer_ids``: QBO customer ids that are inactive.
    - ``web_url``: (entity type, id) → a link into QBO's web app.
    """

    invoices: dict[str, Invoice] = field(default_factory=dict)
    deleted_invoice_ids: dict[str, datetime | None] = field(default_factory=dict)
    payments: dict[str, QBPayment] = field(default_factory=dict)
    credit_memos: dict[str, CreditMemo] = field(default_factory=dict)
    replacements_by_number: dict[str, list[Invoice]] = field(default_factory=dict)
    invoices_by_customer: dict[str, list[Invoice]] = field(default_factory=dict)
    existing_by_reference: dict[str, list[QBPayment]] = field(default_factory=dict)
    inactive_customer_ids: set[str] = field(default_factory=set)
    web_url: Callable[[str, str], str] = _no_url

    def payments_linking(self, invoice_id: str) -> list[QBPayment]:
        """The QBO payments whose lines link this invoice, oldest first (by id on ties)."""
        found = [p for p in self.payments.values() if invoice_id in p.linked_ids("Invoice")]
        return sorted(found, key=lambda p: (time_key(p.created_at), id_key(p.id)))
