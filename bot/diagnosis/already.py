"""The payment is already in QuickBooks: a QBO payment carries its reference (in any spelling,
``CB-10234`` is ``CB10234``) or the bot's recreated-payment marker.

``already_diagnosis`` overrides the per-invoice rules, by how much QuickBooks records (R,
``bot.diagnosis.books``) against the payment's amount A:

- R = A to the cent: ``already-in-qbo`` on every invoice, certain; only ConnectBooster's sync
  state is stale → Dismiss Syncing, Re-check.
- R > A: ``already-in-qbo`` on every invoice, likely: it is recorded twice → Re-check once a
  person deleted the extra payment.
- R < A (a ``CB…`` payment for only part of the amount): ``already-in-qbo``, likely, on the
  invoices it covers in full; the others keep their own findings; the card says how much is
  recorded nowhere and where → Recreate payment in QuickBooks (it carries A − R), Re-check.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.diagnosis.advice import books_sentence, money_remedies
from bot.diagnosis.facts import QBOFacts
from bot.diagnosis.wording import Evidence, recreate_step
from bot.formats import cents, iso_date, money
from bot.models import (
    Books,
    Cause,
    Certainty,
    Diagnosis,
    Finding,
    InvoiceNeed,
    RecordedKind,
    RemedyKind,
)
from cb.models import Payment as CBPayment
from qb.models import Payment as QBPayment


def already_diagnosis(
    payment: CBPayment,
    books: Books,
    own: list[QBPayment],
    findings: list[Finding],
    facts: QBOFacts,
    ev: Evidence,
    common: dict[str, Any],
) -> Diagnosis:
    """``already-in-qbo`` (see the module docstring); ``own`` are the payment's own QBO
    payments, oldest first, ``findings`` the per-invoice findings the rules made."""
    found = own[0]
    cur = payment.currency
    whole = books.reconciled or books.unrecorded < 0
    out = [
        _already_finding(payment, n, need, own, facts, ev, certain=books.reconciled)
        if whole or cents(need.need) <= 0 or _own_on(books, findings[n]) > 0
        else findings[n]
        for n, need in enumerate(books.needs)
    ]
    amount = money(payment.amount, cur)
    if books.reconciled:
        remedies = [RemedyKind.DISMISS_SYNC, RemedyKind.RECHECK]
        summary = (
            f"{payment.reference} ({amount}) is already in QuickBooks as payment {found.id} "
            f"dated {iso_date(found.txn_date) or 'unknown'}; only ConnectBooster's sync state "
            "is out of date."
        )
        next_step = (
            "Dismiss Syncing in ConnectBooster: the payment is already recorded, so sending "
            "it again would record it twice."
        )
    else:
        decided = money_remedies(books)
        if decided is None:
            decided = (
                [RemedyKind.RECREATE_PAYMENT, RemedyKind.RECHECK],
                recreate_step(payment, out, books),
            )
        remedies, next_step = decided
        how = "and more than once" if books.unrecorded < 0 else "but not for its whole amount"
        summary = (
            f"{payment.reference} ({amount}) is already in QuickBooks as payment {found.id} "
            f"dated {iso_date(found.txn_date) or 'unknown'}, {how}." + books_sentence(books)
        )
    return Diagnosis(
        **common,
        cause=Cause.ALREADY_IN_QBO,
        certainty=Certainty.CERTAIN if books.reconciled else Certainty.LIKELY,
        findings=out,
        remedies=remedies,
        summary=summary,
        next_step=next_step,
        existing_qbo_payment_id=found.id,
    )


def _own_on(books: Books, finding: Finding) -> Decimal:
    """What the payment's own QBO payments put on the invoice of one finding (or on its
    replacement)."""
    ids = {finding.invoice_id, finding.replacement_invoice_id}
    return sum(
        (
            amount
            for r in books.recorded
            if r.kind is not RecordedKind.BY_HAND
            for inv_id, amount in r.invoice_amounts.items()
            if inv_id in ids
        ),
        Decimal(0),
    )


def _already_finding(
    payment: CBPayment,
    n: int,
    need: InvoiceNeed,
    own: list[QBPayment],
    facts: QBOFacts,
    ev: Evidence,
    *,
    certain: bool,
) -> Finding:
    """One invoice's ``already-in-qbo`` finding, with the payment's own QBO payments."""
    cur = payment.currency
    app = payment.applications[n]
    found = own[0]
    evidence = [
        ev.payment(
            p,
            f"Already in QuickBooks with reference {p.payment_ref_num} "
            f"({money(p.total_amt, cur)}).",
        )
        for p in own
    ]
    inv = facts.invoices.get(app.qb_invoice_id)
    if inv is not None:
        evidence.append(ev.invoice(inv, "The invoice the payment applies to."))
    summary = (
        f"The payment is already in QuickBooks as payment {found.id} "
        f"({found.payment_ref_num}); only ConnectBooster's sync state is stale."
    )
    if not certain:
        summary = (
            f"QuickBooks records {money(need.recorded, cur)} of the {money(need.applied, cur)} "
            f"applied to invoice {need.invoice_number} (payment {found.id}, "
            f"{found.payment_ref_num})."
        )
    return Finding(
        invoice_id=app.qb_invoice_id,
        invoice_number=app.invoice_number,
        applied=app.amount,
        cause=Cause.ALREADY_IN_QBO,
        certainty=Certainty.CERTAIN if certain else Certainty.LIKELY,
        summary=summary,
        evidence=evidence,
    )


__all__ = ["already_diagnosis"]
