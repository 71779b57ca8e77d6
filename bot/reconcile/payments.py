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

from bot.formats import fmt_date, money
from bot.reconcile.customers import CustomerIndex
from bot.reconcile.receipts import payment_id_for
from bot.reconcile.verdicts import Reconciled, Verdict
from cb.models import Application, Customer, Payment, SyncError, SyncState, SyncStatus
from gateway.models import Transaction

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


def as_payment(r: Reconciled, names: CustomerIndex, now: datetime) -> Payment:
    """The flagged sale ``r`` as a failed payment (see the module docstring)."""
    t = r.txn
    assert t.paid_at is not None
    cid = r.customer.one
    if r.verdict is Verdict.REFUNDED and r.receipt is not None and r.receipt.customer_ref:
        cid = r.receipt.customer_ref.value
    name = names.name(cid) if cid else (t.company or payer(t))
    apps: list[Application] = []
    if r.verdict is Verdict.REFUNDED and r.receipt is not None:
        for line in r.receipt.line:
            for lt in line.linked_txn:
                if lt.txn_type == "Invoice":
                    apps.append(
                        Application(
                            invoice_number=lt.txn_id, qb_invoice_id=lt.txn_id, amount=line.amount
                        )
                    )
    elif r.allocation is not None:
        apps = [
            Application(invoice_number=p.number, qb_invoice_id=p.invoice_id, amount=p.amount)
            for p in r.allocation.parts
        ]
    return Payment(
        id=payment_id_for(t.transaction_id),
        reference=gateway_reference(t.transaction_id),
        customer=Customer(id=f"gw:{cid or 'unmatched'}", name=name, qb_customer_id=cid),
        amount=t.amount,
        currency=t.currency or "USD",
        method="ach" if t.transaction_type == "ck" else "card",
        paid_at=t.paid_at,
        applications=apps,
        sync=SyncState(
            status=SyncStatus.FAILED,
            attempts=1,
            last_attempt_at=t.modified_at or now,
            error=SyncError(code=GATEWAY_CODE, message=evidence(r, names)),
        ),
        updated_at=t.modified_at or now,
    )
