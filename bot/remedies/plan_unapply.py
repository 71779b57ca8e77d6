"""The plan of *Unapply Credit Memo* (pure): take every $0 credit application off the
invoices, keep what else the $0 payments apply balanced, then ask ConnectBooster to sync.

QuickBooks records a credit memo applied to an invoice as a $0 payment: lines linking the
invoice(s) and lines linking the credit memo(s), the two sides equal. The plan:

1. **Which applications**: every $0 credit application the diagnosis found on the payment's
   credit-memo invoices (``Finding.credit_applications``; for a finding without that list,
   its ``credit_memo_payment_id`` and every $0 payment in the facts that links the invoice
   and a credit memo and was made after the payment run). A payment mixing money and credit
   is not a $0 application: it stays (the invoice's room check then refuses if it matters).
2. **Per $0 payment** (re-read in the facts): delete it when it links nothing but these
   invoices and their credit memos; otherwise update it with its full line list (QuickBooks
   replaces lines whole) without the invoices' lines and with as much taken off its credit
   memo lines (the named credit memos first), so its invoice lines still total its credit
   memo lines. Refused when it is gone or no longer $0, or its lines cannot be split that way.
3. **Then** ``cb_resync``: ConnectBooster's next sync records the payment.

Refused when ConnectBooster dismissed or synced the payment meanwhile (the record's payment
is re-read at click time), when QuickBooks already records part of the payment (a resync
would record it twice), when another invoice of the payment has a problem unapplying cannot
fix, or when an invoice would still lack room for its application without the credit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.diagnosis.facts import QBOFacts
from bot.formats import cents
from bot.models import Cause, Finding, PlannedWrite, RemedyPlan, WriteKind
from bot.remedies.plan_common import PORTAL_RETRY_NOTE, STEP_QBO_UNAPPLY, ZERO, Frame
from qb.models import Payment as QBPayment
from qb.models import PaymentLine


@dataclass
class ZeroPlan:
    """What to take off one $0 payment: its invoices (by id) and the credit memos named."""

    payment_id: str
    invoice_ids: list[str] = field(default_factory=list)
    credit_memo_ids: list[str] = field(default_factory=list)

    def add(self, invoice_id: str, credit_memo_id: str | None) -> None:
        if invoice_id not in self.invoice_ids:
            self.invoice_ids.append(invoice_id)
        if credit_memo_id and credit_memo_id not in self.credit_memo_ids:
            self.credit_memo_ids.append(credit_memo_id)


def credit_applications(
    findings: list[Finding], facts: QBOFacts, paid_at_ts: float
) -> dict[str, ZeroPlan]:
    """The $0 payments to change, by id, each with the invoices to take off it."""
    out: dict[str, ZeroPlan] = {}
    for f in findings:
        for app in f.credit_applications:
            if cents(app.payment_money) == 0:  # a payment mixing money and credit stays
                out.setdefault(app.payment_id, ZeroPlan(app.payment_id)).add(
                    f.invoice_id, app.credit_memo_id
                )
        if f.credit_applications:
            continue
        if f.credit_memo_payment_id:
            out.setdefault(f.credit_memo_payment_id, ZeroPlan(f.credit_memo_payment_id)).add(
                f.invoice_id, f.credit_memo_id
            )
        for p in facts.payments_linking(f.invoice_id):
            made = p.created_at.timestamp() if p.created_at is not None else None
            if (
                p.id
                and cents(p.total_amt) == 0
                and p.linked_ids("CreditMemo")
                and (made is None or made >= paid_at_ts)
            ):
                out.setdefault(p.id, ZeroPlan(p.id)).add(f.invoice_id, None)
    return out


def plan_unapply(f: Frame, facts: QBOFacts) -> RemedyPlan:
    """The plan of Unapply Credit Memo (see the module docstring)."""
    refusal = f.books_refusal() or f.status_refusal(allow_dismissed=False) or _refusal(f)
    if refusal is not None:
        return f.refuse(refusal)
    assert f.rec.diagnosis is not None
    credited = [x for x in f.rec.diagnosis.findings if x.cause == Cause.CREDIT_MEMO]
    zeros = credit_applications(credited, facts, f.payment.paid_at.timestamp())
    if not zeros:
        return f.refuse(
            "the diagnosis names no credit memo application to remove: press *Re-check*"
        )
    writes: list[PlannedWrite] = []
    removed: dict[str, Decimal] = {}
    for zero in zeros.values():
        write, taken, why = _unapply_one(f, facts, zero)
        if why is not None:
            return f.refuse(why)
        if write is None:
            continue
        writes.append(write)
        for inv_id, amount in taken.items():
            removed[inv_id] = removed.get(inv_id, ZERO) + amount
    if not writes:
        return f.refuse("no credit memo is applied to the invoices any more: press *Re-check*")
    short = _still_short(f, facts, credited, removed)
    if short is not None:
        return f.refuse(short)
    writes.extend(f.cb_writes(f.resync_write()))
    note = "The credit stays on the customer in QuickBooks, available for another invoice."
    notes = (note, PORTAL_RETRY_NOTE) if f.portal_only else (note,)
    return f.plan(tuple(writes), recorded_after=f.amount, notes=notes)


def _refusal(f: Frame) -> str | None:
    """Why unapplying and resyncing would not record exactly A, or None."""
    assert f.books is not None and f.rec.diagnosis is not None
    if f.recorded != 0:
        return (
            f"QuickBooks already records {f.money(f.recorded)} of this payment, so "
            "ConnectBooster's sync would record it twice: use *Recreate payment in "
            "QuickBooks* for the rest instead"
        )
    others = [x for x in f.rec.diagnosis.findings if x.cause not in (Cause.CREDIT_MEMO, Cause.NONE)]
    if others:
        names = ", ".join(f"invoice {x.invoice_number} ({x.cause.label.lower()})" for x in others)
        return (
            f"un-applying the credit memo alone would not let ConnectBooster's sync "
            f"through: {names}. Use *Recreate payment in QuickBooks*"
        )
    return None


def _unapply_one(
    f: Frame, facts: QBOFacts, zero: ZeroPlan
) -> tuple[PlannedWrite | None, dict[str, Decimal], str | None]:
    """The write for one $0 payment, the amounts it takes off each invoice, or a refusal."""
    pay = facts.payments.get(zero.payment_id)
    if pay is None or pay.id is None or pay.sync_token is None:
        return (
            None,
            {},
            (
                f"QuickBooks payment {zero.payment_id}, which applied the credit "
                "memo, is gone (removed by hand?): press *Re-check*"
            ),
        )
    if cents(pay.total_amt) != 0:
        return (
            None,
            {},
            (
                f"QuickBooks payment {pay.id} is not a $0 credit memo application "
                f"any more ({f.money(pay.total_amt)}): press *Re-check*"
            ),
        )
    split = _split(pay, zero)
    if isinstance(split, str):
        return None, {}, split
    kept, taken = split.kept, split.invoices
    if not taken:
        return None, {}, None  # it no longer applies anything to these invoices
    step = f"{STEP_QBO_UNAPPLY}:{pay.id}"
    what = _what_it_applies(f, facts, split)
    if not any(lt.txn_type == "Invoice" for ln in kept for lt in ln.linked_txn):
        body: dict[str, Any] = {"Id": pay.id, "SyncToken": pay.sync_token}
        return (
            PlannedWrite(
                step=step,
                kind=WriteKind.QBO_DELETE_PAYMENT,
                target_id=pay.id,
                body=body,
                reads_as=f"Delete QuickBooks payment {pay.id} ({f.money(ZERO)}), which {what}",
            ),
            taken,
            None,
        )
    body = {
        "Id": pay.id,
        "SyncToken": pay.sync_token,
        "sparse": True,
        "TotalAmt": ZERO,
        "Line": [_line_body(ln) for ln in kept],
    }
    rest = ", ".join(
        _link_words(facts, lt.txn_type, lt.txn_id, f.money(ln.amount))
        for ln in kept
        for lt in ln.linked_txn
    )
    return (
        PlannedWrite(
            step=step,
            kind=WriteKind.QBO_UPDATE_PAYMENT,
            target_id=pay.id,
            body=body,
            reads_as=f"Update QuickBooks payment {pay.id} "
            f"({f.money(ZERO)}) so it no longer {what}; it keeps {rest}",
        ),
        taken,
        None,
    )


@dataclass
class Split:
    """One $0 payment split: the lines it keeps, and what comes off each invoice and each
    credit memo."""

    kept: list[PaymentLine]
    invoices: dict[str, Decimal]
    credit_memos: dict[str, Decimal]


def _split(pay: QBPayment, zero: ZeroPlan) -> Split | str:
    """The $0 payment's lines without ``zero``'s invoices and with as much taken off its
    credit memo lines (named ones first). A refusal (text) when its lines link more than one
    transaction each or do not balance."""
    if any(len(ln.linked_txn) != 1 for ln in pay.line):
        return (
            f"QuickBooks payment {pay.id} has lines that link several transactions at "
            "once; un-apply the credit memo there by hand"
        )
    inv_total = sum((ln.amount for ln in pay.line if ln.linked_txn[0].txn_type == "Invoice"), ZERO)
    cm_total = sum(
        (ln.amount for ln in pay.line if ln.linked_txn[0].txn_type == "CreditMemo"), ZERO
    )
    if cents(inv_total) != cents(cm_total):
        return (
            f"QuickBooks payment {pay.id} applies {inv_total} to invoices but {cm_total} "
            "of credit: it does not balance, so it is left alone. Fix it by hand"
        )
    taken: dict[str, Decimal] = {}
    kept: list[PaymentLine] = []
    for ln in pay.line:
        lt = ln.linked_txn[0]
        if lt.txn_type == "Invoice" and lt.txn_id in zero.invoice_ids:
            taken[lt.txn_id] = taken.get(lt.txn_id, ZERO) + cents(ln.amount)
        else:
            kept.append(ln.model_copy(deep=True))
    owed = sum(taken.values(), ZERO)
    named = [
        ln
        for ln in kept
        if ln.linked_txn[0].txn_type == "CreditMemo"
        and ln.linked_txn[0].txn_id in zero.credit_memo_ids
    ]
    named_ids = {id(ln) for ln in named}
    other = [
        ln for ln in kept if ln.linked_txn[0].txn_type == "CreditMemo" and id(ln) not in named_ids
    ]
    cut_memos: dict[str, Decimal] = {}
    for ln in [*named, *other]:
        cut = min(owed, ln.amount)
        if cut <= 0:
            continue
        memo = ln.linked_txn[0].txn_id
        cut_memos[memo] = cut_memos.get(memo, ZERO) + cents(cut)
        ln.amount = cents(ln.amount - cut)
        owed -= cut
    if owed > 0:
        return f"QuickBooks payment {pay.id} does not hold enough credit to take off"
    return Split([ln for ln in kept if ln.amount > 0], taken, cut_memos)


def _line_body(ln: PaymentLine) -> dict[str, Any]:
    link: dict[str, Any] = {"TxnId": ln.linked_txn[0].txn_id, "TxnType": ln.linked_txn[0].txn_type}
    if ln.linked_txn[0].txn_line_id is not None:
        link["TxnLineId"] = ln.linked_txn[0].txn_line_id
    return {"Amount": cents(ln.amount), "LinkedTxn": [link]}


def _link_words(facts: QBOFacts, txn_type: str, txn_id: str, amount: str) -> str:
    if txn_type == "Invoice":
        inv = facts.invoices.get(txn_id)
        number = inv.doc_number if inv is not None and inv.doc_number else txn_id
        return f"invoice {number} ({amount})"
    cm = facts.credit_memos.get(txn_id)
    number = cm.doc_number if cm is not None and cm.doc_number else txn_id
    return f"credit memo {number} ({amount})"


def _what_it_applies(f: Frame, facts: QBOFacts, split: Split) -> str:
    """``applies credit memo CM1001 ($200.00) to invoice 1001 ($200.00)``."""
    memos = ", ".join(
        _link_words(facts, "CreditMemo", c, f.money(a)) for c, a in split.credit_memos.items()
    )
    invoices = ", ".join(
        _link_words(facts, "Invoice", i, f.money(a)) for i, a in split.invoices.items()
    )
    return f"applies {memos} to {invoices}"


def _still_short(
    f: Frame, facts: QBOFacts, credited: list[Finding], removed: dict[str, Decimal]
) -> str | None:
    """A refusal when an invoice would still lack room for its application."""
    for x in credited:
        inv = facts.invoices.get(x.invoice_id)
        if inv is None:
            return f"invoice {x.invoice_number} cannot be read in QuickBooks: press *Re-check*"
        room = cents(inv.balance) + removed.get(x.invoice_id, ZERO)
        if room < cents(x.applied):
            return (
                f"even without the credit memo, invoice {x.invoice_number} would have "
                f"only {f.money(room)} open of the {f.money(x.applied)} this payment "
                "applies to it, so the sync would fail again. Use *Recreate payment in "
                "QuickBooks*"
            )
    return None


__all__ = ["ZeroPlan", "credit_applications", "plan_unapply"]
