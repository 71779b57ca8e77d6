"""Why QuickBooks rejected a ConnectBooster payment: a pure decision over QBO facts.

``diagnose`` takes one failed ConnectBooster payment and the QuickBooks facts already fetched
for it (``QBOFacts``, see ``bot.facts.fetch_facts``) and returns a ``Diagnosis``: one finding per
invoice the payment applies to, with the QBO objects it rests on, the ordered remedies and one
sentence a finance person understands. It does no I/O, so it is tested as a table.

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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bot.models import Cause, Certainty, Diagnosis, EvidenceObject, Finding, RemedyKind
from cb.models import Application
from cb.models import Payment as CBPayment
from qb.models import CreditMemo, Invoice
from qb.models import Payment as QBPayment

CENT = Decimal("0.01")
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
        return sorted(found, key=lambda p: (_time_key(p.created_at), _id_key(p.id)))


# --------------------------------------------------------------------------- small helpers


def money(value: Decimal) -> str:
    """``$1,250.00`` (negative: ``-$3.00``), rounded half-up to the cent."""
    q = _cents(value)
    sign = "-" if q < 0 else ""
    return f"{sign}${abs(q):,.2f}"


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _time_key(t: datetime | None) -> float:
    return t.timestamp() if t is not None else float("-inf")


def _id_key(i: str | None) -> tuple[int, str]:
    s = i or ""
    return (int(s), s) if s.isdigit() else (1 << 62, s)


def _is_cb_reference(ref: str | None) -> bool:
    return (ref or "").strip().upper().startswith("CB")


def _after_run(created: datetime | None, txn_date: date | None, paid_at: datetime) -> bool:
    """Whether a QBO transaction came after the payment run. Creation time decides; without it,
    a transaction dated after the run's day counts as after, the same day as after too (the run
    read the balance, so a same-day change without a time is the likelier culprit)."""
    if created is not None:
        return created > paid_at
    if txn_date is not None:
        return txn_date >= paid_at.date()
    return True


def _amount_on(p: QBPayment, txn_type: str, txn_id: str) -> Decimal:
    """What a payment's lines apply to one transaction."""
    total = Decimal(0)
    for line in p.line:
        if any(lt.txn_type == txn_type and lt.txn_id == txn_id for lt in line.linked_txn):
            total += line.amount
    return total


def _credit_memo_ids(p: QBPayment) -> list[str]:
    return list(dict.fromkeys(p.linked_ids("CreditMemo")))


def _is_credit_memo_payment(p: QBPayment) -> bool:
    return bool(_credit_memo_ids(p))


def _d(t: date | None) -> str | None:
    return t.isoformat() if t is not None else None


class _Evidence:
    """Builds evidence objects with links, each object once."""

    def __init__(self, facts: QBOFacts) -> None:
        self.facts = facts

    def _url(self, kind: str, entity_id: str) -> str | None:
        if not entity_id:
            return None
        try:
            return self.facts.web_url(kind, entity_id) or None
        except ValueError:  # no web page for this kind of object
            return None

    def invoice(self, inv: Invoice, note: str) -> EvidenceObject:
        return EvidenceObject(
            type="Invoice",
            id=inv.id or "",
            number=inv.doc_number,
            amount=inv.total_amt,
            balance=inv.balance,
            date=_d(inv.txn_date),
            created_at=inv.created_at,
            updated_at=inv.updated_at,
            url=self._url("Invoice", inv.id or ""),
            note=note,
        )

    def deleted_invoice(self, app: Application, deleted_at: datetime | None) -> EvidenceObject:
        when = f" at {deleted_at.isoformat()}" if deleted_at else ""
        return EvidenceObject(
            type="Invoice",
            id=app.qb_invoice_id,
            number=app.invoice_number,
            updated_at=deleted_at,
            deleted=True,
            note=f"Deleted in QuickBooks{when}; it can no longer be read.",
        )

    def payment(self, p: QBPayment, note: str) -> EvidenceObject:
        return EvidenceObject(
            type="Payment",
            id=p.id or "",
            number=p.payment_ref_num,
            amount=p.total_amt,
            balance=p.unapplied_amt,
            date=_d(p.txn_date),
            created_at=p.created_at,
            updated_at=p.updated_at,
            url=self._url("Payment", p.id or ""),
            note=note,
        )

    def credit_memo(self, cm: CreditMemo, note: str) -> EvidenceObject:
        return EvidenceObject(
            type="CreditMemo",
            id=cm.id or "",
            number=cm.doc_number,
            amount=cm.total_amt,
            balance=cm.remaining_credit if cm.remaining_credit is not None else cm.balance,
            date=_d(cm.txn_date),
            created_at=cm.created_at,
            updated_at=cm.updated_at,
            url=self._url("CreditMemo", cm.id or ""),
            note=note,
        )

    def customer(self, customer_id: str, name: str, note: str) -> EvidenceObject:
        return EvidenceObject(
            type="Customer",
            id=customer_id,
            number=name,
            url=self._url("Customer", customer_id),
            note=note,
        )


# --------------------------------------------------------------------------- per invoice


@dataclass(frozen=True)
class _Base:
    invoice_id: str
    invoice_number: str
    applied: Decimal

    def fields(self) -> dict[str, Any]:
        return {
            "invoice_id": self.invoice_id,
            "invoice_number": self.invoice_number,
            "applied": self.applied,
        }


def _label(app: Application) -> str:
    return f"invoice {app.invoice_number}"


def _deleted_finding(
    payment: CBPayment, app: Application, facts: QBOFacts, ev: _Evidence, used: set[str]
) -> Finding:
    deleted_at = facts.deleted_invoice_ids.get(app.qb_invoice_id)
    evidence = [ev.deleted_invoice(app, deleted_at)]
    customer_id = payment.customer.qb_customer_id
    label = _label(app)

    same_number = [
        inv
        for inv in facts.replacements_by_number.get(app.invoice_number, [])
        if inv.id
        and inv.id != app.qb_invoice_id
        and not inv.is_voided
        and (
            customer_id is None or inv.customer_ref is None or inv.customer_ref.value == customer_id
        )
    ]
    same_number.sort(key=lambda i: (_time_key(i.created_at), _id_key(i.id)))
    if same_number:
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

    open_invoices = [
        inv
        for inv in (facts.invoices_by_customer.get(customer_id, []) if customer_id else [])
        if inv.id and inv.id != app.qb_invoice_id and not inv.is_voided and inv.balance > 0
    ]
    open_invoices.sort(key=lambda i: (_time_key(i.created_at), _id_key(i.id)))
    since = deleted_at or payment.paid_at
    applied = _cents(app.amount)
    same_amount = [
        inv
        for inv in open_invoices
        if inv.id not in used
        and applied in (_cents(inv.total_amt), _cents(inv.balance))
        and (inv.created_at is None or inv.created_at > since)
    ]
    if same_amount:
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

    when = f" on {deleted_at.date().isoformat()}" if deleted_at else ""
    return Finding(
        invoice_id=app.qb_invoice_id,
        invoice_number=app.invoice_number,
        applied=app.amount,
        cause=Cause.DELETED,
        certainty=Certainty.CERTAIN,
        summary=(
            f"{label.capitalize()} was deleted in QuickBooks{when} and no replacement was found, "
            f"so the {money(app.amount)} applied to it has nowhere to go."
        ),
        evidence=evidence,
        replacement_candidates=[i.id for i in open_invoices if i.id],
    )


def _invoice_finding(
    payment: CBPayment, app: Application, inv: Invoice, facts: QBOFacts, ev: _Evidence
) -> Finding:
    applied = _cents(app.amount)
    balance = _cents(inv.balance)
    number = inv.doc_number or app.invoice_number
    base = _Base(app.qb_invoice_id, number, app.amount)
    customer_id = payment.customer.qb_customer_id

    if inv.is_voided:
        open_invoices = [
            i
            for i in (facts.invoices_by_customer.get(customer_id, []) if customer_id else [])
            if i.id and i.id != inv.id and not i.is_voided and i.balance > 0
        ]
        return Finding(
            **base.fields(),
            cause=Cause.VOIDED,
            certainty=Certainty.CERTAIN,
            summary=(
                f"Invoice {number} was voided in QuickBooks, so the {money(applied)} applied to it "
                "cannot be recorded there."
            ),
            evidence=[ev.invoice(inv, "Voided: total and balance are zero.")],
            replacement_candidates=[i.id for i in open_invoices if i.id],
        )

    if balance >= applied:
        return Finding(
            **base.fields(),
            cause=Cause.NONE,
            certainty=Certainty.CERTAIN,
            summary=(
                f"Invoice {number} is fine: its balance {money(balance)} still covers the "
                f"{money(applied)} applied."
            ),
            evidence=[ev.invoice(inv, "Balance still covers the application.")],
        )

    shortfall = applied - balance
    linked = [
        p
        for p in facts.payments_linking(inv.id or app.qb_invoice_id)
        if p.payment_ref_num != payment.reference
    ]
    after = [p for p in linked if _after_run(p.created_at, p.txn_date, payment.paid_at)]
    before = [p for p in linked if p not in after]
    cm_payments = [p for p in after if _is_credit_memo_payment(p)]
    manual = [
        p
        for p in after
        if not _is_credit_memo_payment(p) and not _is_cb_reference(p.payment_ref_num)
    ]
    other_cb = [
        p for p in after if not _is_credit_memo_payment(p) and _is_cb_reference(p.payment_ref_num)
    ]
    inv_id = inv.id or app.qb_invoice_id
    credited = sum((_amount_on(p, "Invoice", inv_id) for p in cm_payments), Decimal(0))
    paid = sum((_amount_on(p, "Invoice", inv_id) for p in manual), Decimal(0))

    evidence = [
        ev.invoice(
            inv,
            f"Balance {money(balance)} is {money(shortfall)} short of the "
            f"{money(applied)} applied.",
        )
    ]
    for p in cm_payments:
        evidence.append(
            ev.payment(
                p,
                f"$0 payment applying a credit memo: {money(_amount_on(p, 'Invoice', inv_id))} "
                f"to invoice {number}, after the payment run.",
            )
        )
        for cm_id in _credit_memo_ids(p):
            cm = facts.credit_memos.get(cm_id)
            if cm is not None:
                evidence.append(ev.credit_memo(cm, "The credit memo applied."))
    for p in manual:
        evidence.append(
            ev.payment(
                p,
                f"Payment recorded in QuickBooks after the payment run: "
                f"{money(_amount_on(p, 'Invoice', inv_id))} to invoice {number}.",
            )
        )
    for p in other_cb:
        evidence.append(
            ev.payment(p, f"Another ConnectBooster payment ({p.payment_ref_num}) on this invoice.")
        )
    for p in before:
        evidence.append(
            ev.payment(p, "Recorded before the payment run: the run already saw it; not the cause.")
        )

    cm_fixes = credited > 0 and balance + credited >= applied
    manual_fixes = paid > 0 and balance + paid >= applied
    if cm_fixes or (not manual_fixes and credited > 0 and credited > paid):
        return _credit_memo_finding(
            base,
            number,
            applied,
            balance,
            cm_payments,
            inv_id,
            facts,
            evidence,
            certain=cm_fixes,
            paid=paid,
        )
    if manual_fixes or paid > 0:
        note = ""
        if _cents(paid) < applied:
            note = (
                f" The payments recorded there total {money(paid)}, less than the "
                f"{money(applied)} ConnectBooster applied: check the {money(applied - paid)} "
                "difference before dismissing."
            )
        if credited > 0:
            note += f" A credit memo also took {money(credited)} off it."
        refs = ", ".join(p.payment_ref_num or f"id {p.id}" for p in manual)
        return Finding(
            **base.fields(),
            cause=Cause.PAID_MANUALLY,
            certainty=Certainty.CERTAIN if manual_fixes else Certainty.LIKELY,
            summary=(
                f"Invoice {number} was already paid in QuickBooks after the payment run "
                f"(payment {refs}, {money(paid)}), leaving {money(balance)} open where "
                f"{money(applied)} was applied.{note}"
            ),
            evidence=evidence,
        )

    updated = inv.updated_at
    if other_cb:
        refs = ", ".join(p.payment_ref_num or "" for p in other_cb)
        return Finding(
            **base.fields(),
            cause=Cause.UNKNOWN,
            certainty=Certainty.LIKELY,
            summary=(
                f"Invoice {number} has {money(balance)} open where {money(applied)} was applied; "
                f"another ConnectBooster payment ({refs}) was recorded on it."
            ),
            evidence=evidence,
        )
    if updated is None or updated > payment.paid_at:
        when = f" on {updated.date().isoformat()}" if updated else ""
        return Finding(
            **base.fields(),
            cause=Cause.AMOUNT_CHANGED,
            certainty=Certainty.CERTAIN if updated is not None else Certainty.LIKELY,
            summary=(
                f"Invoice {number} was changed in QuickBooks after the payment run{when}: its "
                f"balance is now {money(balance)} (total {money(inv.total_amt)}), "
                f"{money(shortfall)} less than the {money(applied)} applied, and no payment "
                "or credit explains it."
            ),
            evidence=evidence,
        )
    return Finding(
        **base.fields(),
        cause=Cause.UNKNOWN,
        certainty=Certainty.LIKELY,
        summary=(
            f"Invoice {number} has {money(balance)} open where {money(applied)} was applied, and "
            "nothing recorded after the payment run explains it."
        ),
        evidence=evidence,
    )


def _credit_memo_finding(
    base: _Base,
    number: str,
    applied: Decimal,
    balance: Decimal,
    cm_payments: list[QBPayment],
    inv_id: str,
    facts: QBOFacts,
    evidence: list[EvidenceObject],
    *,
    certain: bool,
    paid: Decimal,
) -> Finding:
    # The remedy acts on one $0 payment: the one taking the most off this invoice (newest on ties).
    main = max(
        cm_payments,
        key=lambda p: (_amount_on(p, "Invoice", inv_id), _time_key(p.created_at), _id_key(p.id)),
    )
    cm_ids = _credit_memo_ids(main)
    cm_id = cm_ids[0] if cm_ids else None
    cm_amount = _amount_on(main, "Invoice", inv_id)
    cm = facts.credit_memos.get(cm_id) if cm_id else None
    cm_name = (
        f"credit memo {cm.doc_number}" if cm is not None and cm.doc_number else "a credit memo"
    )
    credited = sum((_amount_on(p, "Invoice", inv_id) for p in cm_payments), Decimal(0))
    extra = ""
    if len(cm_payments) > 1:
        extra = f" ({len(cm_payments)} credit applications take {money(credited)} in all)"
    if paid > 0:
        extra += f"; a payment recorded in QuickBooks also took {money(paid)}"
    return Finding(
        **base.fields(),
        cause=Cause.CREDIT_MEMO,
        certainty=Certainty.CERTAIN if certain else Certainty.LIKELY,
        summary=(
            f"After the payment run, {cm_name} was applied to invoice {number} for "
            f"{money(cm_amount)}{extra}, leaving {money(balance)} open where "
            f"{money(applied)} was applied."
        ),
        evidence=evidence,
        credit_memo_payment_id=main.id,
        credit_memo_id=cm_id,
        credit_memo_amount=cm_amount,
    )


def _already_findings(
    payment: CBPayment, existing: list[QBPayment], facts: QBOFacts, ev: _Evidence
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


# --------------------------------------------------------------------------- whole payment


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
    ev = _Evidence(facts)
    error = payment.sync.error
    code = error.code if error else None
    message = error.message if error and error.message else None
    applied_total = sum((a.amount for a in payment.applications), Decimal(0))
    remainder = _cents(payment.amount - applied_total)
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
    existing.sort(key=lambda p: (_time_key(p.created_at), _id_key(p.id)))
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
                f"payment {found.id} dated {_d(found.txn_date) or 'unknown'}; only "
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
            findings.append(_deleted_finding(payment, app, facts, ev, used))
        else:
            findings.append(_invoice_finding(payment, app, inv, facts, ev))

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
        return _unknown(
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
        describe = _lower_first(problems[0].summary.rstrip("."))
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
        next_step = _recreate_step(payment, findings)

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


def _lower_first(s: str) -> str:
    if s.startswith(("Invoice", "After", "The")):
        return s[0].lower() + s[1:]
    return s


def _recreate_step(payment: CBPayment, findings: list[Finding]) -> str:
    parts: list[str] = []
    for f in findings:
        if f.cause is Cause.RECREATED:
            target = f.replacement_invoice_id or " or ".join(f.replacement_candidates) or "?"
            parts.append(
                f"{money(f.applied)} on the new invoice (id {target}) for {f.invoice_number}"
            )
        elif f.cause in (Cause.DELETED, Cause.VOIDED):
            parts.append(
                f"{money(f.applied)} as the customer's credit or on an invoice you pick "
                f"(instead of {f.invoice_number})"
            )
        elif f.cause is Cause.AMOUNT_CHANGED:
            balance = next(
                (e.balance for e in f.evidence if e.type == "Invoice" and e.balance is not None),
                Decimal(0),
            )
            covered = min(max(balance, Decimal(0)), f.applied)
            parts.append(
                f"{money(covered)} on invoice {f.invoice_number} (its new balance) and "
                f"{money(f.applied - covered)} as the customer's credit"
            )
        elif f.cause is Cause.PAID_MANUALLY:
            parts.append(f"nothing for invoice {f.invoice_number} (already paid in QuickBooks)")
        elif f.cause is Cause.CREDIT_MEMO:
            parts.append(
                f"{money(f.applied)} on invoice {f.invoice_number} once its credit memo is "
                "un-applied, or as credit"
            )
        else:
            parts.append(f"{money(f.applied)} on invoice {f.invoice_number}")
    return (
        f"Recreate the received payment {payment.reference} in QuickBooks by hand — "
        + "; ".join(parts)
        + " — then Dismiss Syncing in ConnectBooster so it is not sent again."
    )


def _unknown(
    payment: CBPayment,
    findings: list[Finding],
    common: dict[str, Any],
    failure_rate: Decimal | None,
    threshold: Decimal,
    inactive: str | None,
    ev: _Evidence,
    tail: str,
    *,
    certainty: Certainty,
) -> Diagnosis:
    code = common["sync_error_code"]
    message = common["sync_error_message"]
    text = (message or "no message").rstrip(". ")
    fault = f"QuickBooks answered {code or 'with no code'}: {text}."
    why = ""
    if inactive:
        why = f" The customer {payment.customer.name} is inactive in QuickBooks."
        for f in findings:
            f.evidence.append(
                ev.customer(inactive, payment.customer.name, "Inactive in QuickBooks.")
            )
    widespread = failure_rate is not None and failure_rate >= threshold
    if widespread:
        rate = f"{(failure_rate or Decimal(0)) * 100:.1f}%"
        remedies = [RemedyKind.RECHECK, RemedyKind.RECREATE_PAYMENT, RemedyKind.DISMISS_SYNC]
        next_step = (
            f"{rate} of payments are failing to sync (threshold {threshold * 100:.0f}%): see the "
            "failure-rate alert — a setting needs attention. Fix it, then Recheck before "
            "recreating payments by hand."
        )
    else:
        remedies = [RemedyKind.RECREATE_PAYMENT, RemedyKind.DISMISS_SYNC, RemedyKind.RECHECK]
        next_step = (
            "This failure looks isolated: recreate the received payment in QuickBooks by hand, "
            "then Dismiss Syncing in ConnectBooster."
        )
        if inactive:
            next_step = (
                f"Make the customer {payment.customer.name} active again in QuickBooks and "
                "Recheck, or recreate the payment by hand and Dismiss Syncing."
            )
    if all(f.cause is Cause.NONE for f in findings):
        # No invoice explains the failure: each is marked unknown, not "fine".
        findings = [
            f.model_copy(
                update={
                    "cause": Cause.UNKNOWN,
                    "certainty": certainty,
                    "summary": (
                        f"Invoice {f.invoice_number} still has the {money(f.applied)} applied "
                        "open, so it does not explain the failure."
                    ),
                }
            )
            for f in findings
        ]
    summary = (
        f"QuickBooks rejected {payment.reference} ({money(payment.amount)} from "
        f"{payment.customer.name}) and its invoices do not explain why. {fault}{why}{tail}"
    )
    return Diagnosis(
        **common,
        cause=Cause.UNKNOWN,
        certainty=certainty,
        findings=findings,
        remedies=remedies,
        summary=summary,
        next_step=next_step,
    )
