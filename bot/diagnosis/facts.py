"""The QuickBooks facts a diagnosis reads (``QBOFacts``), and the sort keys its rules share.

``bot.diagnosis.fetch`` fills a ``QBOFacts`` for a whole batch of failed payments in bulk; the
pure rules (``decide``, ``deleted``, ``invoice``, ``unknown``, ``books``, ``wording``) and the
remedy planners only read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from qb.models import CreditMemo, Customer, Invoice
from qb.models import Payment as QBPayment


def time_key(t: datetime | None) -> float:
    """Sort key for a time; unknown sorts first."""
    return t.timestamp() if t is not None else float("-inf")


def id_key(i: str | None) -> tuple[int, str]:
    """Sort key for a QBO id: numeric ids by number, others after."""
    s = i or ""
    return (int(s), s) if s.isdigit() else (1 << 62, s)


def oldest_first(payments: list[QBPayment]) -> list[QBPayment]:
    """Payments by creation time, then by id (unknown times first)."""
    return sorted(payments, key=lambda p: (time_key(p.created_at), id_key(p.id)))


def _no_url(entity_type: str, entity_id: str) -> str:
    return ""


@dataclass(frozen=True)
class QBOFacts:
    """What QuickBooks holds about a batch of failed payments, fetched in bulk.

    - ``invoices``: invoices still readable, by id.
    - ``deleted_invoice_ids``: invoice ids that are gone (read answers 610, or CDC lists them as
      deleted), with the deletion time when CDC shows it.
    - ``payments``: every QBO payment linked to those invoices, $0 credit-memo payments
      included, and every payment of ``customer_payments`` that links an invoice these facts
      hold (a replacement's hand payment, say).
    - ``credit_memos``: the credit memos the linked payments apply.
    - ``replacements_by_number``: invoices by ``DocNumber``, for numbers of deleted invoices.
    - ``invoices_by_customer``: open invoices by QBO customer id (amount matches, the picker).
    - ``existing_by_reference``: QBO payments whose ``PaymentRefNum`` is exactly a CB reference.
    - ``customer_payments``: by QBO customer id, the customer's QBO payments created since
      its earliest failed payment's run less the stale-balance window
      (``bot.diagnosis.linked.STALE_BALANCE_WINDOW``): hand entries of the money under any
      spelling of the reference (``CB-10234``), the bot's recreated payments, hand payments on
      replacement invoices.
    - ``customers``: the QBO customers of the payments (``Id``, ``SyncToken``, ``Active``,
      ``CurrencyRef``), active or not: what a sparse reactivation or a currency check needs.
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
    customers: dict[str, Customer] = field(default_factory=dict)
    customer_payments: dict[str, list[QBPayment]] = field(default_factory=dict)

    @cached_property
    def _by_invoice(self) -> dict[str, list[QBPayment]]:
        """Invoice id → the payments linking it (``payments`` and ``customer_payments``,
        each once), oldest first."""
        seen: dict[str, QBPayment] = dict(self.payments)
        for rows in self.customer_payments.values():
            for p in rows:
                if p.id and p.id not in seen:
                    seen[p.id] = p
        out: dict[str, list[QBPayment]] = {}
        for p in oldest_first(list(seen.values())):
            for inv_id in dict.fromkeys(p.linked_ids("Invoice")):
                out.setdefault(inv_id, []).append(p)
        return out

    def payments_linking(self, invoice_id: str) -> list[QBPayment]:
        """The QBO payments whose lines link this invoice, oldest first (by id on ties)."""
        return list(self._by_invoice.get(invoice_id, ()))

    def find_invoice(self, invoice_id: str) -> Invoice | None:
        """The invoice ``invoice_id`` wherever these facts hold it (read by id, a
        replacement by number, an open invoice of a customer)."""
        if invoice_id in self.invoices:
            return self.invoices[invoice_id]
        pools = [*self.replacements_by_number.values(), *self.invoices_by_customer.values()]
        return next((i for pool in pools for i in pool if i.id == invoice_id), None)

    def payments_of(self, customer_id: str | None) -> list[QBPayment]:
        """The customer's payments in its window (``customer_payments``), oldest first."""
        if not customer_id:
            return []
        return list(self._payments_of_sorted.get(customer_id, ()))

    @cached_property
    def memo(self) -> dict[tuple[object, ...], object]:
        """Values the rules derive from these facts and a payment, kept by the rule under a
        key naming everything the value depends on, so that a backlog's steps that ask twice
        (the books and the override both read a payment's own QBO payments) work it out once.
        The facts never change once fetched."""
        return {}

    @cached_property
    def _payments_of_sorted(self) -> dict[str, list[QBPayment]]:
        """Each customer's payments sorted once (every failure of a customer reads them)."""
        return {c: oldest_first(list(ps)) for c, ps in self.customer_payments.items()}


__all__ = ["QBOFacts", "id_key", "oldest_first", "time_key"]
