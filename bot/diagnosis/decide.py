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

Where the rules live: ``bot.diagnosis.deleted`` (rule 1), ``bot.diagnosis.invoice`` (rules 2-5,
over ``bot.diagnosis.linked``: which linked payments came after the run and what they took),
``bot.diagnosis.unknown`` (no invoice explains it) and ``bot.diagnosis.wording`` (evidence
objects, next-step sentences); amounts and dates are written by ``bot.formats``. This module
holds the already-in-QBO override, the dominant cause and the remedies and sentences of the
whole payment.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from bot.diagnosis.deleted import deleted_finding
from bot.diagnosis.facts import QBOFacts, id_key, time_key
from bot.diagnosis.invoice import invoice_finding
from bot.diagnosis.unknown import unknown_diagnosis
from bot.diagnosis.wording import Evidence, lower_first, recreate_step
from bot.formats import cents, iso_date, money
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
    Cause.INACTIVE_CUSTOMER,
    Cause.UNKNOWN,
    Cause.NONE,
)

#: Causes whose remedy is recording the payment in QBO by hand, then dismissing the sync.
RECREATE_CAUSES = frozenset({Cause.RECREATED, Cause.DELETED, Cause.VOIDED, Cause.AMOUNT_CHANGED})


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
    common: dict[str, Any] = {
        "payment_id": payment.id,
        "reference": payment.reference,
        "sync_error_code": error.code if error else None,
        "sync_error_message": error.message if error and error.message else None,
    }
    existing = _already_recorded(payment, facts)
    if existing:
        return _already_diagnosis(payment, existing, facts, ev, common)

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
    tail = _unapplied_tail(payment)
    if cause is Cause.UNKNOWN:
        inactive = (
            payment.customer.qb_customer_id
            if payment.customer.qb_customer_id in facts.inactive_customer_ids
            else None
        )
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

    remedies, next_step = _remedies_and_step(payment, cause, findings)
    if failure_rate is not None and failure_rate >= threshold:
        next_step += (
            f" {failure_rate * 100:.1f}% of payments are failing to sync: see the failure-rate "
            "alert, a setting may need attention."
        )
    summary = (
        f"QuickBooks rejected {payment.reference} ({money(payment.amount)} from "
        f"{payment.customer.name}) because {_describe(problems)}.{tail}"
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


def _already_recorded(payment: CBPayment, facts: QBOFacts) -> list[QBPayment]:
    """QBO payments carrying exactly this payment's reference, oldest first."""
    wanted = payment.reference.strip().upper()
    existing = [
        p
        for p in facts.existing_by_reference.get(payment.reference, [])
        if (p.payment_ref_num or "").strip().upper() == wanted
    ]
    existing.sort(key=lambda p: (time_key(p.created_at), id_key(p.id)))
    return existing


def _already_diagnosis(
    payment: CBPayment,
    existing: list[QBPayment],
    facts: QBOFacts,
    ev: Evidence,
    common: dict[str, Any],
) -> Diagnosis:
    """``already-in-qbo`` on every invoice: only ConnectBooster's sync state is stale."""
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


def _unapplied_tail(payment: CBPayment) -> str:
    """The summary's last sentence when the applications do not add up to the payment."""
    applied_total = sum((a.amount for a in payment.applications), Decimal(0))
    remainder = cents(payment.amount - applied_total)
    if remainder > 0:
        return (
            f" The other {money(remainder)} of the payment is not applied to any invoice: it is "
            "the client's credit."
        )
    if remainder < 0:
        return (
            f" Note: the applications add up to {money(applied_total)}, {money(-remainder)} "
            f"more than the {money(payment.amount)} paid."
        )
    return ""


def _describe(problems: list[Finding]) -> str:
    """What went wrong, to follow "because": the one finding's sentence, or a list."""
    if len(problems) == 1:
        return lower_first(problems[0].summary.rstrip("."))
    return f"{len(problems)} of its invoices changed in QuickBooks: " + "; ".join(
        f"invoice {f.invoice_number}: {f.cause.label[0].lower()}{f.cause.label[1:]}"
        f" ({money(f.applied)} applied)"
        for f in problems
    )


def _remedies_and_step(
    payment: CBPayment, cause: Cause, findings: list[Finding]
) -> tuple[list[RemedyKind], str]:
    """The remedies, in order, and the next-step sentence for a payment whose dominant
    ``cause`` is known (not ``unknown``)."""
    kinds = {f.cause for f in findings if f.cause is not Cause.NONE}
    fine = [f for f in findings if f.cause is Cause.NONE]
    if cause is Cause.CREDIT_MEMO and kinds == {Cause.CREDIT_MEMO}:
        return [RemedyKind.UNAPPLY_CREDIT_MEMO, RemedyKind.RECHECK], (
            "Un-apply the credit memo in QuickBooks (the bot deletes or trims the $0 payment that "
            "applies it); ConnectBooster's next sync then records the payment, and the credit "
            "stays available for another invoice."
        )
    if cause is Cause.PAID_MANUALLY and kinds == {Cause.PAID_MANUALLY} and not fine:
        return [RemedyKind.DISMISS_SYNC, RemedyKind.DELETE_HISTORY, RemedyKind.RECHECK], (
            "Dismiss Syncing in ConnectBooster: the client already has credit for this payment "
            "in QuickBooks. Delete it from the portal history too if you don't want it listed."
        )
    remedies = [RemedyKind.RECREATE_PAYMENT, RemedyKind.DISMISS_SYNC]
    if Cause.CREDIT_MEMO in kinds:
        remedies.append(RemedyKind.UNAPPLY_CREDIT_MEMO)
    if cause is Cause.PAID_MANUALLY and kinds <= {Cause.PAID_MANUALLY, Cause.CREDIT_MEMO}:
        # Some invoices were paid by hand, others are still open in QBO: dismissing alone would
        # leave the client's payment on those unrecorded.
        unpaid = [f for f in findings if f.cause is not Cause.PAID_MANUALLY]
        open_part = sum((f.applied for f in unpaid), Decimal(0))
        numbers = ", ".join(f.invoice_number for f in unpaid)
        remedies += [RemedyKind.DELETE_HISTORY, RemedyKind.RECHECK]
        return remedies, (
            f"Record in QuickBooks the {money(open_part)} this payment applies to invoice(s) "
            f"{numbers}, which were not paid there, then Dismiss Syncing: the rest was already "
            "paid in QuickBooks."
        )
    remedies.append(RemedyKind.RECHECK)
    return remedies, recreate_step(payment, findings)


__all__ = [
    "CAUSE_PRECEDENCE",
    "DEFAULT_THRESHOLD",
    "RECREATE_CAUSES",
    "diagnose",
]
