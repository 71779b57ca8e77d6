"""The rule for an invoice QuickBooks can no longer read (``bot.diagnosis.decide``, rule 1).

``deleted_finding``: another invoice with the same ``DocNumber`` (and the same customer, when
known) → ``recreated``, certain when exactly one, likely when several. Failing that, an open
invoice of the same customer whose total or balance equals the application and that was created
after the deletion (or after the payment run when the deletion time is unknown) → ``recreated``,
likely; each such invoice is matched to one deleted invoice only (``used``). Otherwise
``deleted``, with the customer's open invoices as candidates for the money.
"""

from __future__ import annotations

from datetime import datetime

from bot.diagnosis.facts import QBOFacts, id_key, time_key
from bot.diagnosis.wording import Evidence
from bot.formats import cents, iso_date, money
from bot.models import Cause, Certainty, EvidenceObject, Finding
from cb.models import Application
from cb.models import Payment as CBPayment
from qb.models import Invoice


def _oldest_first(invoices: list[Invoice]) -> list[Invoice]:
    return sorted(invoices, key=lambda i: (time_key(i.created_at), id_key(i.id)))


def deleted_finding(
    payment: CBPayment, app: Application, facts: QBOFacts, ev: Evidence, used: set[str]
) -> Finding:
    """The finding for an application to an invoice QBO no longer has: ``recreated``
    or ``deleted`` (see the module docstring). Adds a matched replacement to ``used``."""
    deleted_at = facts.deleted_invoice_ids.get(app.qb_invoice_id)
    evidence = [ev.deleted_invoice(app, deleted_at)]
    customer_id = payment.customer.qb_customer_id
    found = _same_number_finding(app, customer_id, facts, ev, evidence)
    if found is not None:
        return found
    open_invoices = _oldest_first(
        [
            inv
            for inv in (facts.invoices_by_customer.get(customer_id, []) if customer_id else [])
            if inv.id and inv.id != app.qb_invoice_id and not inv.is_voided and inv.balance > 0
        ]
    )
    found = _same_amount_finding(
        app, open_invoices, deleted_at or payment.paid_at, ev, evidence, used
    )
    if found is not None:
        return found
    return _gone_finding(app, deleted_at, open_invoices, evidence)


def _same_number_finding(
    app: Application,
    customer_id: str | None,
    facts: QBOFacts,
    ev: Evidence,
    evidence: list[EvidenceObject],
) -> Finding | None:
    """``recreated`` when other invoices carry the deleted one's number (and customer)."""
    same_number = _oldest_first(
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
        ]
    )
    if not same_number:
        return None
    first = same_number[0]
    certain = len(same_number) == 1
    for inv in same_number:
        evidence.append(ev.invoice(inv, f"Same number {app.invoice_number}, created anew."))
    summary = (
        f"Invoice {app.invoice_number} was deleted in QuickBooks and recreated with the same "
        f"number (id {first.id}, balance {money(first.balance)})"
        + ("." if certain else f"; {len(same_number)} invoices carry that number.")
    )
    return Finding(
        invoice_id=app.qb_invoice_id,
        invoice_number=app.invoice_number,
        applied=app.amount,
        cause=Cause.RECREATED,
        certainty=Certainty.CERTAIN if certain else Certainty.LIKELY,
        summary=summary,
        evidence=evidence,
        replacement_invoice_id=first.id if certain else None,
        replacement_candidates=[i.id for i in same_number if i.id],
    )


def _same_amount_finding(
    app: Application,
    open_invoices: list[Invoice],
    since: datetime,
    ev: Evidence,
    evidence: list[EvidenceObject],
    used: set[str],
) -> Finding | None:
    """``recreated`` (likely) when an open invoice of the customer, not yet matched to another
    deleted invoice, has the application's amount and was created after ``since``."""
    applied = cents(app.amount)
    same_amount = [
        inv
        for inv in open_invoices
        if inv.id not in used
        and applied in (cents(inv.total_amt), cents(inv.balance))
        and (inv.created_at is None or inv.created_at > since)
    ]
    if not same_amount:
        return None
    first = same_amount[0]
    used.add(first.id or "")
    for inv in same_amount:
        evidence.append(
            ev.invoice(
                inv,
                f"Same customer and amount ({money(app.amount)}), created after the deletion.",
            )
        )
    summary = (
        f"Invoice {app.invoice_number} was deleted in QuickBooks; invoice "
        f"{first.doc_number or first.id} for the same customer and amount "
        f"({money(app.amount)}) was created afterwards and is probably its replacement."
    )
    return Finding(
        invoice_id=app.qb_invoice_id,
        invoice_number=app.invoice_number,
        applied=app.amount,
        cause=Cause.RECREATED,
        certainty=Certainty.LIKELY,
        summary=summary,
        evidence=evidence,
        replacement_invoice_id=first.id if len(same_amount) == 1 else None,
        replacement_candidates=[i.id for i in same_amount if i.id],
    )


def _gone_finding(
    app: Application,
    deleted_at: datetime | None,
    open_invoices: list[Invoice],
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
            f"{money(app.amount)} applied to it has nowhere to go."
        ),
        evidence=evidence,
        replacement_candidates=[i.id for i in open_invoices if i.id],
    )


__all__ = ["deleted_finding"]
