"""Why QuickBooks rejected a ConnectBooster payment: a pure decision over QBO facts.

``diagnose`` takes one failed ConnectBooster payment and the QuickBooks facts already fetched
for it (``QBOFacts``, see ``bot.diagnosis.fetch.fetch_facts``) and returns a ``Diagnosis``:
one finding per invoice the payment applies to, with the QBO objects it rests on, the ordered
remedies and one sentence a finance person understands. It does no I/O, so it is tested as a table.

Per invoice (application of ``applied`` dollars), in this order:

1. The invoice id is not readable (deleted). Another invoice with the same ``DocNumber`` (and the
   same customer, when known) → ``recreated`` (certain when exactly one; likely when several).
   Failing that, an open invoice of the same customer whose total or balance equals the
   application and that was created after the deletion (or after the payment run when the
   deletion time is unknown) → ``recreated``, likely. Otherwise ``deleted``.
2. The invoice is voided (zero totals, note "Voided") → ``voided``.
3. Its balance still covers the application (to the cent) → ``none``.
4. The shortfall is explained by QBO transactions linked to the invoice and created after the
   payment run (``paid_at``); those created before the run are not the cause:
   - a $0 payment linking the invoice and a credit memo, if un-applying the credit memos alone
     restores a balance that covers the application → ``credit-memo``;
   - else a payment whose reference is not ``CB…`` that, taken away, restores the balance →
     ``paid-manually``;
   - else both together: the larger contributor wins (ties → paid manually), likely.
5. Nothing explains it and the invoice was edited after the run → ``amount-changed`` (likely when
   QBO gives no update time); edited before the run → ``unknown``.

A QBO payment already carrying the payment's ``CB…`` reference overrides everything:
``already-in-qbo`` on every invoice.

Dominant cause of a payment with several invoices (the first that occurs wins):
``already-in-qbo`` > ``recreated`` > ``deleted`` > ``voided`` > ``amount-changed`` >
``paid-manually`` > ``credit-memo`` > ``unknown``. The order puts first the causes whose remedy
the others cannot do without: a payment with a deleted or changed invoice has to be recreated by
hand whatever else happened, which also covers the manually paid and credited invoices; un-applying
a credit memo only helps when every other invoice is fine. When no invoice shows a cause, the
payment's cause is ``unknown`` and QBO's fault code and text from the sync attempt are shown.

Where the rules live: ``bot.diagnosis.deleted`` (rule 1), ``bot.diagnosis.invoice`` (rules 2-5),
``bot.diagnosis.unknown`` (no invoice explains it) and ``bot.diagnosis.wording`` (money, evidence
objects, next-step sentences). This module holds the facts, the already-in-QBO override, the
dominant cause and the remedies and sentences of the whole payment.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from bot.diagnosis.deleted import deleted_finding
from bot.diagnosis.facts import QBOFacts, id_key, time_key
from bot.diagnosis.invoice import invoice_finding
from bot.diagnosis.unknown import unknown_diagnosis
from bot.diagnosis.wording import (
    CENT,
    Evidence,
    cents,
    iso_date,
    lower_first,
    money,
    recreate_step,
)
from bot.models import Cause, Certainty, Diagnosis, Finding, RemedyKind
from cb.models import Payment as CBPayment
from qb.models import Payment as QBPayment

DEFAULT_THRESHOLD = Decimal("0.10")

#: Dominant-cause precedence, strongest first (see the module docstring).
CAUSE_PRECEDENCE: tuple[Cause, ...] = (
    Cause.ALREADY_IN_QBO,
    Cause.RECREATED,
    Cause.DELETED,
    Cause.VOIDED,
    Cause.AMOUNT_CHANGED,
    Cause.PAID_MANUALLY,
    Cause.CREDIT_MEMO,
    Cause.UNKNOWN,
    Cause.NONE,
)

#: Causes whose remedy is recording the payment in QBO by hand, then dismissing the sync.
RECREATE_CAUSES = frozenset({Cause.RECREATED, Cause.DELETED, Cause.VOIDED, Cause.AMOUNT_CHANGED})


def _already_findings(
    payment: CBPayment, existing: list[QBPayment], facts: QBOFacts, ev: Evidence
) -> list[Finding]:
    found = existing[0]
    findings = []
    for app in payment.applications:
        evidence = [
            ev.payment(
                p,
                f"Already in QuickBooks with reference {p.payment_ref_num} ({money(p.total_amt)}).",
            )
            for p in existing
        ]
        inv = facts.invoices.get(app.qb_invoice_id)
        if inv is not None:
            evidence.append(ev.invoice(inv, "The invoice the payment applies to."))
        findings.append(
            Finding(
                invoice_id=app.qb_invoice_id,
                invoice_number=app.invoice_number,
                applied=app.amount,
                cause=Cause.ALREADY_IN_QBO,
                certainty=Certainty.CERTAIN,
                summary=(
                    f"The payment is already in QuickBooks as payment {found.id} "
                    f"({found.payment_ref_num}); only ConnectBooster's sync state is stale."
                ),
                evidence=evidence,
            )
        )
    return findings


def _dominant(findings: Iterable[Finding]) -> Cause:
    causes = {f.cause for f in findings}
    for cause in CAUSE_PRECEDENCE:
        if cause in causes and cause is not Cause.NONE:
            return cause
    return Cause.UNKNOWN


def _dedupe(kinds: Iterable[RemedyKind]) -> list[RemedyKind]:
    return list(dict.fromkeys(kinds))


def diagnose(
    payment: CBPayment,
    facts: QBOFacts,
    *,
    failure_rate: Decimal | None = None,
    threshold: Decimal = DEFAULT_THRESHOLD,
) -> Diagnosis:
    """Decide why QuickBooks rejected ``payment``, from ``facts`` alone (no I/O).

    ``failure_rate`` is the share of recent payments failing to sync (``None``: not known, taken
    as isolated); at or over ``threshold`` an unexplained failure points at a setting rather than
    at this payment. Amounts are compared to the cent. See the module docstring for the rules
    and the dominant-cause precedence.
    """
    ev = Evidence(facts)
    error = payment.sync.error
    code = error.code if error else None
    message = error.message if error and error.message else None
    applied_total = sum((a.amount for a in payment.applications), Decimal(0))
    remainder = cents(payment.amount - applied_total)
    common: dict[str, Any] = {
        "payment_id": payment.id,
        "reference": payment.reference,
        "sync_error_code": code,
        "sync_error_message": message,
    }

    existing = [
        p
        for p in facts.existing_by_reference.get(payment.reference, [])
        if (p.payment_ref_num or "").strip().upper() == payment.reference.strip().upper()
    ]
    existing.sort(key=lambda p: (time_key(p.created_at), id_key(p.id)))
    if existing:
        found = existing[0]
        return Diagnosis(
            **common,
            cause=Cause.ALREADY_IN_QBO,
            certainty=Certainty.CERTAIN,
            findings=_already_findings(payment, existing, facts, ev),
            remedies=[RemedyKind.DISMISS_SYNC, RemedyKind.RECHECK],
            summary=(
                f"{payment.reference} ({money(payment.amount)}) is already in QuickBooks as "
                f"payment {found.id} dated {iso_date(found.txn_date) or 'unknown'}; only "
                "ConnectBooster's sync state is out of date."
            ),
            next_step=(
                "Dismiss Syncing in ConnectBooster: the payment is already recorded, so sending "
                "it again would record it twice."
            ),
            existing_qbo_payment_id=found.id,
        )

    used: set[str] = {a.qb_invoice_id for a in payment.applications}
    findings: list[Finding] = []
    for app in payment.applications:
        inv = facts.invoices.get(app.qb_invoice_id)
        if inv is None:
            findings.append(deleted_finding(payment, app, facts, ev, used))
        else:
            findings.append(invoice_finding(payment, app, inv, facts, ev))

    cause = _dominant(findings)
    problems = [f for f in findings if f.cause is not Cause.NONE]
    certainty = (
        Certainty.LIKELY
        if any(f.certainty is Certainty.LIKELY for f in problems) or not problems
        else Certainty.CERTAIN
    )
    inactive = (
        payment.customer.qb_customer_id
        if payment.customer.qb_customer_id in facts.inactive_customer_ids
        else None
    )
    tail = ""
    if remainder > 0:
        tail = (
            f" The other {money(remainder)} of the payment is not applied to any invoice: it is "
            "the client's credit."
        )
    elif remainder < 0:
        tail = (
            f" Note: the applications add up to {money(applied_total)}, {money(-remainder)} "
            f"more than the {money(payment.amount)} paid."
        )

    if cause is Cause.UNKNOWN:
        return unknown_diagnosis(
            payment,
            findings,
            common,
            failure_rate,
            threshold,
            inactive,
            ev,
            tail,
            certainty=Certainty.CERTAIN if inactive else Certainty.LIKELY,
        )

    kinds = {f.cause for f in problems}
    fine = [f for f in findings if f.cause is Cause.NONE]
    if len(problems) == 1:
        describe = lower_first(problems[0].summary.rstrip("."))
    else:
        describe = f"{len(problems)} of its invoices changed in QuickBooks: " + "; ".join(
            f"invoice {f.invoice_number}: {f.cause.label[0].lower()}{f.cause.label[1:]}"
            f" ({money(f.applied)} applied)"
            for f in problems
        )
    remedies: list[RemedyKind]
    if cause is Cause.CREDIT_MEMO and kinds == {Cause.CREDIT_MEMO}:
        remedies = [RemedyKind.UNAPPLY_CREDIT_MEMO, RemedyKind.RECHECK]
        next_step = (
            "Un-apply the credit memo in QuickBooks (the bot deletes or trims the $0 payment that "
            "applies it); ConnectBooster's next sync then records the payment, and the credit "
            "stays available for another invoice."
        )
    elif cause is Cause.PAID_MANUALLY and kinds == {Cause.PAID_MANUALLY} and not fine:
        remedies = [RemedyKind.DISMISS_SYNC, RemedyKind.DELETE_HISTORY, RemedyKind.RECHECK]
        next_step = (
            "Dismiss Syncing in ConnectBooster: the client already has credit for this payment "
            "in QuickBooks. Delete it from the portal history too if you don't want it listed."
        )
    elif cause is Cause.PAID_MANUALLY and kinds <= {Cause.PAID_MANUALLY, Cause.CREDIT_MEMO}:
        # Some invoices were paid by hand, others are still open in QBO: dismissing alone would
        # leave the client's payment on those unrecorded.
        open_part = sum(
            (f.applied for f in findings if f.cause is not Cause.PAID_MANUALLY), Decimal(0)
        )
        numbers = ", ".join(
            f.invoice_number for f in findings if f.cause is not Cause.PAID_MANUALLY
        )
        remedies = [RemedyKind.RECREATE_PAYMENT, RemedyKind.DISMISS_SYNC]
        if Cause.CREDIT_MEMO in kinds:
            remedies.append(RemedyKind.UNAPPLY_CREDIT_MEMO)
        remedies += [RemedyKind.DELETE_HISTORY, RemedyKind.RECHECK]
        next_step = (
            f"Record in QuickBooks the {money(open_part)} this payment applies to invoice(s) "
            f"{numbers}, which were not paid there, then Dismiss Syncing: the rest was already "
            "paid in QuickBooks."
        )
    else:
        remedies = [RemedyKind.RECREATE_PAYMENT, RemedyKind.DISMISS_SYNC]
        if Cause.CREDIT_MEMO in kinds:
            remedies.append(RemedyKind.UNAPPLY_CREDIT_MEMO)
        remedies.append(RemedyKind.RECHECK)
        next_step = recreate_step(payment, findings)

    if failure_rate is not None and failure_rate >= threshold:
        next_step += (
            f" {failure_rate * 100:.1f}% of payments are failing to sync: see the failure-rate "
            "alert, a setting may need attention."
        )
    summary = (
        f"QuickBooks rejected {payment.reference} ({money(payment.amount)} from "
        f"{payment.customer.name}) because {describe}.{tail}"
    )
    return Diagnosis(
        **common,
        cause=cause,
        certainty=certainty,
        findings=findings,
        remedies=_dedupe(remedies),
        summary=summary,
        next_step=next_step,
    )


__all__ = [
    "CAUSE_PRECEDENCE",
    "CENT",
    "DEFAULT_THRESHOLD",
    "RECREATE_CAUSES",
    "diagnose",
    "money",
]
