"""The rule for an invoice QuickBooks can no longer read (``bot.diagnosis.decide``, rule 1).

``find_replacement`` looks for the invoice that took a deleted one's place, and
``deleted_finding`` says what it found. A replacement is always created after the deletion (or,
when CDC no longer knows the deletion time, after the payment run, which still saw the invoice):
an older invoice with the same number is another invoice.

- Another invoice with the same ``DocNumber`` (and the same customer, when known), created no
  earlier than the deletion → ``recreated``: certain when exactly one, created at a known
  time, whose total fits the application (the money can go there: ``Replacement.invoice``);
  likely when several carry the number (a person picks) or the one there is smaller than the
  application.
- Failing that, an open invoice of the same customer whose total or balance equals the
  application and that was created after the deletion → ``recreated``, likely; each such
  invoice is matched to one deleted invoice only (``used``).
- Otherwise ``deleted``, with the customer's open invoices as candidates for the money.

``bot.diagnosis.books`` uses the same ``find_replacement`` for where a need can go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.diagnosis.facts import QBOFacts, id_key, time_key
from bot.diagnosis.wording import Evidence
from bot.formats import cents, iso_date
from bot.models import Cause, Certainty, EvidenceObject, Finding
from cb.models import Application
from cb.models import Payment as CBPayment
from qb.models import Invoice


def _oldest_first(invoices: list[Invoice]) -> list[Invoice]:
    return sorted(invoices, key=lambda i: (time_key(i.created_at), id_key(i.id)))


@dataclass(frozen=True)
class Replacement:
    """What QuickBooks offers in place of a deleted invoice, for one application."""

    deleted_at: datetime | None  # when CDC saw it deleted (None: beyond CDC's reach)
    by_number: list[Invoice]  # same number (and customer), created after the deletion
    by_amount: list[Invoice]  # else: the customer's open invoices of that amount, created after
    open_invoices: list[Invoice]  # the customer's open invoices: candidates for the money
    invoice: Invoice | None  # the one replacement the money can go to; None: a person picks

    @property
    def recreated(self) -> bool:
        return bool(self.by_number or self.by_amount)

    @property
    def certain(self) -> bool:
        """One same-number invoice, created (at a known time) after the deletion, that fits."""
        return (
            self.invoice is not None
            and len(self.by_number) == 1
            and self.invoice.created_at is not None
        )


def find_replacement(
    payment: CBPayment, app: Application, facts: QBOFacts, used: set[str]
) -> Replacement:
    """The replacement of the deleted invoice ``app`` applies to (see the module docstring).
    A same-amount match is taken by one deleted invoice only: it is added to ``used``."""
    deleted_at = facts.deleted_invoice_ids.get(app.qb_invoice_id)
    since = deleted_at or payment.paid_at
    customer_id = payment.customer.qb_customer_id
    applied = cents(app.amount)
    by_number = _oldest_first(
        [
            inv
            for inv in facts.replacements_by_number.get(app.invoice_number, [])
            if inv.id
            and inv.id != app.qb_invoice_id
            and not inv.is_voided
            and (
                customer_id is None
                or inv.customer_ref is None
                or inv.customer_ref.value == customer_id
            )
            and (inv.created_at is None or inv.created_at >= since)
        ]
    )
    open_invoices = _oldest_first(
        [
            inv
            for inv in (facts.invoices_by_customer.get(customer_id, []) if customer_id else [])
            if inv.id and inv.id != app.qb_invoice_id and not inv.is_voided and inv.balance > 0
        ]
    )
    if by_number:
        only = by_number[0] if len(by_number) == 1 else None
        fits = only is not None and cents(only.total_amt) >= applied
        return Replacement(deleted_at, by_number, [], open_invoices, only if fits else None)
    by_amount = [
        inv
        for inv in open_invoices
        if inv.id not in used
        and applied in (cents(inv.total_amt), cents(inv.balance))
        and (inv.created_at is None or inv.created_at > since)
    ]
    if by_amount:
        used.add(by_amount[0].id or "")
    chosen = by_amount[0] if len(by_amount) == 1 else None
    return Replacement(deleted_at, [], by_amount, open_invoices, chosen)


def deleted_finding(
    payment: CBPayment, app: Application, facts: QBOFacts, ev: Evidence, used: set[str]
) -> Finding:
    """The finding for an application to an invoice QBO no longer has: ``recreated``
    or ``deleted`` (see the module docstring). Adds a matched replacement to ``used``."""
    found = find_replacement(payment, app, facts, used)
    evidence = [ev.deleted_invoice(app, found.deleted_at)]
    if found.by_number:
        return _same_number_finding(app, found, ev, evidence)
    if found.by_amount:
        return _same_amount_finding(app, found, ev, evidence)
    return _gone_finding(app, found.deleted_at, found.open_invoices, ev, evidence)


def _same_number_finding(
    app: Application, found: Replacement, ev: Evidence, evidence: list[EvidenceObject]
) -> Finding:
    """``recreated``: other invoices carry the deleted one's number (and customer), created
    after the deletion; certain when exactly one, known to be newer, fits the application."""
    same_number = found.by_number
    first = same_number[0]
    for inv in same_number:
        evidence.append(
            ev.invoice(inv, f"Same number {app.invoice_number}, created after the deletion.")
        )
    summary = (
        f"Invoice {app.invoice_number} was deleted in QuickBooks and recreated with the same "
        f"number (id {first.id}, balance {ev.money(first.balance)})"
    )
    if len(same_number) > 1:
        summary += f"; {len(same_number)} invoices carry that number."
    elif found.invoice is None:
        summary += (
            f", but for {ev.money(first.total_amt)}, less than the {ev.money(app.amount)} applied: "
            "pick where the money goes."
        )
    else:
        summary += "."
    return Finding(
        invoice_id=app.qb_invoice_id,
        invoice_number=app.invoice_number,
        applied=app.amount,
        cause=Cause.RECREATED,
        certainty=Certainty.CERTAIN if found.certain else Certainty.LIKELY,
        summary=summary,
        evidence=evidence,
        replacement_invoice_id=found.invoice.id if found.invoice is not None else None,
        replacement_candidates=[i.id for i in same_number if i.id],
    )


def _same_amount_finding(
    app: Application, found: Replacement, ev: Evidence, evidence: list[EvidenceObject]
) -> Finding:
    """``recreated`` (likely) when an open invoice of the customer, not yet matched to another
    deleted invoice, has the application's amount and was created after the deletion."""
    same_amount = found.by_amount
    first = same_amount[0]
    for inv in same_amount:
        evidence.append(
            ev.invoice(
                inv,
                f"Same customer and amount ({ev.money(app.amount)}), created after the deletion.",
            )
        )
    summary = (
        f"Invoice {app.invoice_number} was deleted in QuickBooks; invoice "
        f"{first.doc_number or first.id} for the same customer and amount "
        f"({ev.money(app.amount)}) was created afterwards and is probably its replacement."
    )
    return Finding(
        invoice_id=app.qb_invoice_id,
        invoice_number=app.invoice_number,
        applied=app.amount,
        cause=Cause.RECREATED,
        certainty=Certainty.LIKELY,
        summary=summary,
        evidence=evidence,
        replacement_invoice_id=found.invoice.id if found.invoice is not None else None,
        replacement_candidates=[i.id for i in same_amount if i.id],
    )


def _gone_finding(
    app: Application,
    deleted_at: datetime | None,
    open_invoices: list[Invoice],
    ev: Evidence,
    evidence: list[EvidenceObject],
) -> Finding:
    """``deleted``: no replacement; the customer's open invoices are candidates for the money."""
    when = f" on {iso_date(deleted_at.date())}" if deleted_at else ""
    # str.capitalize() also lower-cases the rest ("INV-7A" reads "inv-7a"): as messages always were
    label = f"invoice {app.invoice_number}".capitalize()
    return Finding(
        invoice_id=app.qb_invoice_id,
        invoice_number=app.invoice_number,
        applied=app.amount,
        cause=Cause.DELETED,
        certainty=Certainty.CERTAIN,
        summary=(
            f"{label} was deleted in QuickBooks{when} and no replacement was found, so the "
            f"{ev.money(app.amount)} applied to it has nowhere to go."
        ),
        evidence=evidence,
        replacement_candidates=[i.id for i in open_invoices if i.id],
    )


__all__ = ["Replacement", "deleted_finding", "find_replacement"]
