"""Why QuickBooks rejected a ConnectBooster payment: a pure decision over QBO facts.

``diagnose`` takes one failed ConnectBooster payment and the QuickBooks facts already fetched
for it (``QBOFacts``, see ``bot.diagnosis.fetch.fetch_facts``) and returns a ``Diagnosis``:
one finding per invoice the payment applies to, with the QBO objects it rests on, the ordered
remedies, one sentence a finance person understands, and the books (``Diagnosis.books``, from
``bot.diagnosis.books.account``): what QuickBooks already records of the payment (R) against
its amount (A). It does no I/O, so it is tested as a table.

Per invoice (application of ``applied`` dollars), in this order:

1. The invoice id is not readable (deleted): ``recreated`` when an invoice took its place
   after the deletion (same number, or same customer and amount), else ``deleted``
   (``bot.diagnosis.deleted``).
2. The invoice is voided (zero totals, note "Voided") → ``voided``.
3. Its balance still covers the application (to the cent) → ``none``.
4. The shortfall is explained by QBO transactions linked to the invoice and created after the
   balance the payment run saw (after ``paid_at``, or up to an hour before it: a stale
   balance); those created earlier are not the cause. Credit lines are credit, the rest money:
   - credit applied to the invoice, if un-applying it alone restores a balance that covers
     the application → ``credit-memo``;
   - else money recorded by hand (a reference that is not ``CB…``) that, taken away, restores
     the balance → ``paid-manually``;
   - else both together: the larger contributor wins (ties → paid manually), likely.
5. Nothing explains it and the invoice was edited after the run → ``amount-changed`` (likely when
   QBO gives no update time); edited before the run → ``unknown``.

A payment refunded at the gateway while its receipt stands is ``refunded``
(``bot.diagnosis.refunded``), before any rule.

A QBO payment carrying the payment's reference (in any spelling) or the bot's marker overrides
the rules: ``already-in-qbo`` (``bot.diagnosis.already``), certain only when R = A.

Dominant cause of a payment with several invoices (the first that occurs wins):
``already-in-qbo`` > ``recreated`` > ``deleted`` > ``voided`` > ``amount-changed`` >
``paid-manually`` > ``credit-memo`` > ``unknown``. The order puts first the causes whose remedy
the others cannot do without: a payment with a deleted or changed invoice has to be recreated
whatever else happened, which also covers the manually paid and credited invoices; un-applying
a credit memo only helps when every other invoice is fine. When no invoice shows a cause, the
payment's cause is ``inactive-customer`` when QuickBooks has the customer inactive, else
``unknown``, and QBO's fault code and text from the sync attempt are shown.

The books then decide the remedies (``bot.diagnosis.advice``): Dismiss Syncing and Delete only
when R = A to the cent; while money is unrecorded the summary and the next step say how much
and where, and Recreate payment in QuickBooks (which carries A − R) is recommended unless
un-applying a credit memo alone lets ConnectBooster's sync record the payment. ``paid-manually``
is certain only when the hand payments reconcile with the application to the cent.

Where the rules live: ``bot.diagnosis.deleted`` (rule 1), ``bot.diagnosis.invoice`` (rules 2-5,
over ``bot.diagnosis.linked``), ``bot.diagnosis.already`` (the override),
``bot.diagnosis.unknown`` (no invoice explains it), ``bot.diagnosis.books`` (R and the needs),
``bot.diagnosis.advice`` (remedies and the books' sentences) and ``bot.diagnosis.wording``
(evidence objects, next-step sentences); amounts and dates are written by ``bot.formats``. This
module holds the order of the steps, the dominant cause and the payment's summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from bot.diagnosis.advice import books_sentence, cause_remedies, said_by_findings
from bot.diagnosis.already import already_diagnosis
from bot.diagnosis.books import account, own_payments
from bot.diagnosis.deleted import deleted_finding
from bot.diagnosis.facts import QBOFacts
from bot.diagnosis.invoice import invoice_finding
from bot.diagnosis.refunded import is_refund, refunded_diagnosis
from bot.diagnosis.unknown import inactive_diagnosis, unknown_diagnosis
from bot.diagnosis.wording import Evidence, gateway_wording, lower_first
from bot.formats import cents, money
from bot.models import Cause, Certainty, Diagnosis, Finding, RemedyKind
from cb.models import Payment as CBPayment
from qb.gcpause import gc_paused

DEFAULT_THRESHOLD = Decimal("0.10")

#: Dominant-cause precedence, strongest first (see the module docstring).
CAUSE_PRECEDENCE: tuple[Cause, ...] = (
    Cause.REFUNDED,
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
    d = _decide(payment, facts, failure_rate=failure_rate, threshold=threshold)
    return gateway_wording(d) if payment.id.startswith("gw-") else d


def diagnose_all(
    payments: Sequence[CBPayment],
    facts: QBOFacts,
    *,
    failure_rate: Decimal | None = None,
    threshold: Decimal = DEFAULT_THRESHOLD,
) -> dict[str, Diagnosis]:
    """``diagnose`` for each of ``payments`` over the same facts, by payment id: a backlog's
    decisions in one go, with the cyclic garbage collector paused while its thousands of
    small objects are made (``qb.gcpause``)."""
    with gc_paused():
        return {
            p.id: diagnose(p, facts, failure_rate=failure_rate, threshold=threshold)
            for p in payments
        }


def _decide(
    payment: CBPayment, facts: QBOFacts, *, failure_rate: Decimal | None, threshold: Decimal
) -> Diagnosis:
    ev = Evidence(facts, payment.currency)
    error = payment.sync.error
    books = account(payment, facts)
    common: dict[str, Any] = {
        "payment_id": payment.id,
        "reference": payment.reference,
        "sync_error_code": error.code if error else None,
        "sync_error_message": error.message if error and error.message else None,
        "books": books,
    }
    if is_refund(payment):
        return refunded_diagnosis(payment, facts, books, common)
    used: set[str] = set()
    findings: list[Finding] = []
    for app, need in zip(payment.applications, books.needs, strict=True):
        inv = facts.invoices.get(app.qb_invoice_id)
        if inv is None:
            findings.append(deleted_finding(payment, app, facts, ev, used))
        else:
            findings.append(invoice_finding(payment, app, inv, facts, ev, need))
    own = own_payments(payment, facts)
    if own:
        return already_diagnosis(payment, books, own, findings, facts, ev, common)

    cause = _dominant(findings)
    problems = [f for f in findings if f.cause is not Cause.NONE]
    certainty = (
        Certainty.LIKELY
        if any(f.certainty is Certainty.LIKELY for f in problems) or not problems
        else Certainty.CERTAIN
    )
    tail = _unapplied_tail(payment)
    if cause is Cause.UNKNOWN:
        customer_id = _inactive_customer(payment, facts)
        if customer_id is not None:
            return inactive_diagnosis(payment, findings, common, customer_id, ev, tail)
        return unknown_diagnosis(payment, findings, common, failure_rate, threshold, tail)

    if cause in (Cause.PAID_MANUALLY, Cause.ALREADY_IN_QBO) and not books.reconciled:
        certainty = Certainty.LIKELY  # "certain" only when the amounts reconcile to the cent
    remedies, next_step = cause_remedies(payment, cause, findings, books)
    if failure_rate is not None and failure_rate >= threshold:
        next_step += (
            f" {failure_rate * 100:.1f}% of payments are failing to sync: see the failure-rate "
            "alert, a setting may need attention."
        )
    said = said_by_findings(books, problems)
    books_words = "" if said else books_sentence(books, say_whole=cause is not Cause.PAID_MANUALLY)
    because = _describe(problems, payment.currency)
    summary = (
        f"QuickBooks rejected {payment.reference} ({money(payment.amount, payment.currency)} "
        f"from {payment.customer.name}) because {because}.{books_words}{tail}"
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


def _inactive_customer(payment: CBPayment, facts: QBOFacts) -> str | None:
    """The payment's QBO customer id when QuickBooks has it inactive, else None."""
    cid = payment.customer.qb_customer_id
    if not cid:
        return None
    customer = facts.customers.get(cid)
    if cid in facts.inactive_customer_ids or (customer is not None and not customer.active):
        return cid
    return None


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
    cur = payment.currency
    if remainder > 0:
        return (
            f" The other {money(remainder, cur)} of the payment is not applied to any invoice: "
            "it is the client's credit."
        )
    if remainder < 0:
        return (
            f" Note: the applications add up to {money(applied_total, cur)}, "
            f"{money(-remainder, cur)} more than the {money(payment.amount, cur)} paid."
        )
    return ""


def _describe(problems: list[Finding], currency: str) -> str:
    """What went wrong, to follow "because": the one finding's sentence, or a list."""
    if len(problems) == 1:
        return lower_first(problems[0].summary.rstrip("."))
    return f"{len(problems)} of its invoices changed in QuickBooks: " + "; ".join(
        f"invoice {f.invoice_number}: {f.cause.label[0].lower()}{f.cause.label[1:]}"
        f" ({money(f.applied, currency)} applied)"
        for f in problems
    )


__all__ = [
    "CAUSE_PRECEDENCE",
    "DEFAULT_THRESHOLD",
    "RECREATE_CAUSES",
    "diagnose",
    "diagnose_all",
]
