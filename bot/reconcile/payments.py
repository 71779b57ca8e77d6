"""A flagged gateway sale as the payment the rest of the bot handles.

Diagnosis, cards, records and remedies all work on a ConnectBooster ``Payment``; a failed
transfer found at the gateway becomes one (:func:`as_payment`): id ``gw-<transaction id>``,
reference ``gateway #<transaction id>`` (ConnectBooster's own ``CB…`` number is not on the
gateway), the matched QBO customer (none when ambiguous: the card shows the candidates), the
invoices from :mod:`bot.reconcile.allocate`, sync state ``failed`` and, in place of
QuickBooks' fault text, the gateway's evidence line ("transaction 10458822771, $1,250.00,
settled 3 Nov, no ConnectBooster receipt in QuickBooks").
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.diagnosis.refunded import REFUND_CODE
from bot.formats import fmt_date, money
from bot.reconcile.customers import CustomerIndex
from bot.reconcile.fetch import BooksView
from bot.reconcile.receipts import payment_id_for
from bot.reconcile.verdicts import Reconciled, Verdict
from cb.models import Application, Customer, Payment, SyncError, SyncState, SyncStatus
from gateway.models import Transaction
from qb.models import Payment as QBPayment

GATEWAY_CODE = "gateway"
"""The ``sync.error.code`` of a failure the gateway found (QuickBooks said nothing)."""
ALLOCATION_WORDS = {
    "pattern": "",
    "likely": ". Invoices inferred from the open balances (likely)",
    "ask": ". Which invoices it paid is not known: Recreate asks",
}


def gateway_reference(transaction_id: str) -> str:
    return f"gateway #{transaction_id}"


def evidence(r: Reconciled, names: CustomerIndex) -> str:
    """The gateway's evidence line for the card."""
    t = r.txn
    amount = money(t.amount, t.currency)
    settled = t.settled_at
    when = f"settled {fmt_date(settled)}" if settled else f"paid {fmt_date(t.paid_at or now_of(t))}"
    head = f"transaction {t.transaction_id}, {amount}, {when}"
    if r.verdict is Verdict.REFUNDED:
        back = t.reversals[-1] if t.reversals else None
        kinds = {"void": "voided", "return": "returned"}
        kind = kinds.get(back.action_type if back else "", "refunded")
        at = f" {fmt_date(back.date)}" if back else ""
        receipt = r.receipt
        ref = receipt.payment_ref_num if receipt is not None else "its receipt"
        back_amount = money(t.reversed_amount, t.currency)
        return (
            f"{head}, {kind}{at} ({back_amount}) at the gateway; {ref} still stands in QuickBooks"
        )
    words = f"{head}, no ConnectBooster receipt in QuickBooks"
    if r.customer.ambiguous:
        who = ", ".join(names.name(c) for c in r.customer.ids)
        words += f"; the payer matches several customers ({who}): not guessed, pick one"
    elif not r.customer.ids:
        words += f"; no QuickBooks customer matches the payer ({payer(t)})"
    if r.allocation is not None:
        words += ALLOCATION_WORDS.get(r.allocation.how, "")
    return words


def now_of(t: Transaction) -> datetime:
    """The transaction's last modification (a sale always has one)."""
    assert t.modified_at is not None
    return t.modified_at


def payer(t: Transaction) -> str:
    person = f"{t.first_name} {t.last_name}".strip()
    return ", ".join(x for x in (t.company, person, t.email) if x) or "no name"


def as_payment(r: Reconciled, view: BooksView, now: datetime) -> Payment:
    """The flagged sale ``r`` as a failed payment (see the module docstring)."""
    t = r.txn
    assert t.paid_at is not None
    names = view.customers
    if r.verdict is Verdict.REFUNDED and r.receipt is not None:
        return _refund_payment(r, r.receipt, view, now)
    cid = r.customer.one
    name = names.name(cid) if cid else (t.company or payer(t))
    apps = [
        Application(invoice_number=p.number, qb_invoice_id=p.invoice_id, amount=p.amount)
        for p in (r.allocation.parts if r.allocation is not None else ())
    ]
    return _payment(r, t.amount, gateway_reference(t.transaction_id), cid, name, apps, now, names)


def _refund_payment(r: Reconciled, receipt: QBPayment, view: BooksView, now: datetime) -> Payment:
    """A sale refunded while its receipt stands: the receipt's reference and invoices, and
    A = what the client kept (``bot.diagnosis.refunded``)."""
    t = r.txn
    cid = receipt.customer_ref.value if receipt.customer_ref else r.customer.one
    name = view.customers.name(cid) if cid else (t.company or payer(t))
    apps: list[Application] = []
    for line in receipt.line:
        for lt in line.linked_txn:
            if lt.txn_type == "Invoice":
                inv = view.invoices.get(lt.txn_id)
                number = (inv.doc_number if inv is not None else None) or lt.txn_id
                apps.append(
                    Application(invoice_number=number, qb_invoice_id=lt.txn_id, amount=line.amount)
                )
    kept = max(t.amount - t.reversed_amount, Decimal(0))
    ref = receipt.payment_ref_num or gateway_reference(t.transaction_id)
    return _payment(r, kept, ref, cid, name, apps, now, view.customers, code=REFUND_CODE)


def _payment(
    r: Reconciled,
    amount: Decimal,
    reference: str,
    cid: str | None,
    name: str,
    apps: list[Application],
    now: datetime,
    names: CustomerIndex,
    *,
    code: str = GATEWAY_CODE,
) -> Payment:
    t = r.txn
    assert t.paid_at is not None
    return Payment(
        id=payment_id_for(t.transaction_id),
        reference=reference,
        customer=Customer(id=f"gw:{cid or 'unmatched'}", name=name, qb_customer_id=cid),
        amount=amount,
        currency=t.currency or "USD",
        method="ach" if t.transaction_type == "ck" else "card",
        paid_at=t.paid_at,
        applications=apps,
        sync=SyncState(
            status=SyncStatus.FAILED,
            attempts=1,
            last_attempt_at=t.modified_at or now,
            error=SyncError(code=code, message=evidence(r, names)),
        ),
        updated_at=t.modified_at or now,
    )
