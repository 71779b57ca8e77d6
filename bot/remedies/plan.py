"""A remedy as a plan: the exact writes, planned (pure) from fresh facts, before anything is
written.

Every remedy is two steps, like a plan and an apply:

1. **Plan** (``plan_remedy``, pure): from the failure record (payment, diagnosis and its
   ``Books``), the QuickBooks facts and the ``PlanContext``, the ordered writes — each QuickBooks
   body exactly as it will be sent (lines, amounts, ``TotalAmt``, ``TxnDate`` in the books'
   time zone, currency) and each ConnectBooster call — or a ``refusal`` saying why this remedy
   must not run on these facts. A plan that may run leaves QuickBooks recording exactly the
   payment's amount A for it (``recorded_after == amount``), never more.
2. **Show**: the confirm dialog and the modal are drawn from ``RemedyPlan.lines()``, so what the
   user reads is what will be sent, line for line; the button carries ``RemedyPlan.digest()``.
3. **Re-check at click time** (``fresh_plan``): re-read ConnectBooster and QuickBooks, diagnose
   and plan again; the runner writes only when the new plan's digest equals the one shown.
4. **Write** (the runner, step by step through the journal): each step's ``requestid`` is
   derived from the plan's digest, so a changed plan is a new plan with new requestids, never a
   replay of an old body.

The remedies, with R what QuickBooks records of the payment (``Books.recorded_total``):

- **Dismiss Syncing** (``cb_dismiss``) and **Delete** (``cb_dismiss`` unless dismissed
  already, then ``cb_delete``): only when R = A to the cent; otherwise refused with how much
  is unrecorded and where (recommend Recreate), or, when R > A, which payments record it twice.
- **Recreate payment in QuickBooks**: ``bot.remedies.plan_recreate`` (A − R, dismiss first).
- **Unapply Credit Memo**: ``bot.remedies.plan_unapply`` (every $0 application, then
  ``cb_resync``).
- **Reactivate customer**: ``qbo_reactivate_customer`` — the sparse update
  ``{"Id", "SyncToken", "sparse": true, "Active": true}`` of the customer the facts carry —
  then ``cb_resync`` (ConnectBooster's sync then records A); refused when QuickBooks records
  part of the payment already, or something besides the customer stops the sync.
- **Delete receipt in QuickBooks** (a payment refunded at the gateway while its receipt
  stands): ``bot.remedies.plan_refund`` (one ``qbo_delete_payment``, only when all of it
  went back).
- **Re-check**: no writes; a note.

ConnectBooster's state comes from ``rec.payment`` (re-read at click time): a payment synced
meanwhile refuses every remedy but Re-check; a dismissed one refuses Dismiss, Unapply and
Reactivate (Recreate and Delete then leave out the dismissal).
"""

from __future__ import annotations

from typing import Any

from bot.diagnosis.facts import QBOFacts
from bot.models import Cause, FailureRecord, PlannedWrite, RemedyKind, RemedyPlan, WriteKind
from bot.models.plans import PORTAL_REFUSAL
from bot.remedies.plan_common import (
    PORTAL_RETRY_NOTE,
    STEP_CB_DELETE,
    STEP_QBO_REACTIVATE,
    Frame,
    PlanContext,
    recorded_list,
    unrecorded_where,
)
from bot.remedies.plan_recreate import plan_recreate
from bot.remedies.plan_refund import plan_delete_receipt
from bot.remedies.plan_unapply import plan_unapply
from cb.models import SyncStatus


def plan_remedy(
    kind: RemedyKind,
    rec: FailureRecord,
    facts: QBOFacts,
    ctx: PlanContext,
    params: dict[str, Any] | None = None,
) -> RemedyPlan:
    """The plan of remedy ``kind`` on the failure (pure; see the module docstring).
    ``params`` carries the user's choices (``{"target": invoice id or KEEP_AS_CREDIT}``)."""
    f = Frame(kind, rec, ctx)
    if kind == RemedyKind.RECREATE_PAYMENT:
        return plan_recreate(f, facts, params or {})
    if kind == RemedyKind.UNAPPLY_CREDIT_MEMO:
        return plan_unapply(f, facts)
    if kind in (RemedyKind.DISMISS_SYNC, RemedyKind.DELETE_HISTORY):
        return _plan_dismiss(f)
    if kind == RemedyKind.REACTIVATE_CUSTOMER:
        return _plan_reactivate(f, facts)
    if kind == RemedyKind.DELETE_RECEIPT:
        return plan_delete_receipt(f, facts)
    return f.plan(
        notes=(
            "Nothing is written: QuickBooks and ConnectBooster are read again "
            "and this message is redrawn with what they show now.",
        )
    )


def _plan_dismiss(f: Frame) -> RemedyPlan:
    """Dismiss Syncing, or Delete: only when QuickBooks records exactly A already."""
    delete = f.kind == RemedyKind.DELETE_HISTORY
    refusal = f.books_refusal() or f.status_refusal(allow_dismissed=delete)
    if refusal is not None:
        return f.refuse(refusal)
    assert f.books is not None
    if not f.books.reconciled:
        if f.books.unrecorded < 0:
            return f.refuse(f.twice_refusal())
        what = "Deleting it" if delete else "Dismissing syncing"
        return f.refuse(
            f"QuickBooks records only {f.money(f.recorded)} of the {f.money(f.amount)} paid: "
            f"{f.money(f.books.unrecorded)} is recorded nowhere ({unrecorded_where(f.books)}). "
            f"{what} would lose it: record it with *Recreate payment in QuickBooks*"
        )
    if f.portal_only:  # the books allow it, but only a person in the portal can do it
        return f.refuse(PORTAL_REFUSAL)
    writes: list[PlannedWrite] = []
    if f.payment.sync.status != SyncStatus.DISMISSED:
        writes.append(f.dismiss_write())
    if delete:
        writes.append(
            f.cb_write(
                STEP_CB_DELETE,
                WriteKind.CB_DELETE,
                f"Delete {f.payment.reference} from ConnectBooster's payment history",
            )
        )
    note = (
        f"Nothing changes in QuickBooks: it records all {f.money(f.amount)} of the "
        f"payment already ({recorded_list(f.books.recorded, f.currency)})."
    )
    return f.plan(tuple(writes), recorded_after=f.recorded, notes=(note,))


def _plan_reactivate(f: Frame, facts: QBOFacts) -> RemedyPlan:
    """Reactivate customer: the sparse update, then a resync that records A."""
    refusal = f.books_refusal() or f.status_refusal(allow_dismissed=False)
    if refusal is not None:
        return f.refuse(refusal)
    cid = f.payment.customer.qb_customer_id
    name = f.payment.customer.name
    if not cid:
        return f.refuse(
            "ConnectBooster does not know this customer's QuickBooks id: "
            "reactivate it in QuickBooks by hand"
        )
    if f.recorded != 0:
        return f.refuse(
            f"QuickBooks already records {f.money(f.recorded)} of this payment, "
            "so ConnectBooster's sync would record it twice: use *Recreate "
            "payment in QuickBooks* once the customer is active"
        )
    assert f.rec.diagnosis is not None
    blocking = [
        x
        for x in f.rec.diagnosis.findings
        if x.cause not in (Cause.NONE, Cause.UNKNOWN, Cause.INACTIVE_CUSTOMER)
    ]
    if blocking:
        names = ", ".join(f"invoice {x.invoice_number} ({x.cause.label.lower()})" for x in blocking)
        return f.refuse(
            f"reactivating the customer alone would not let ConnectBooster's sync through: {names}"
        )
    customer = facts.customers.get(cid)
    if customer is None or customer.id is None or customer.sync_token is None:
        return f.refuse(f"QuickBooks customer {cid} ({name}) could not be read: press *Re-check*")
    if customer.active:
        return f.refuse(f"customer {name} is active in QuickBooks already: press *Re-check*")
    body = {"Id": customer.id, "SyncToken": customer.sync_token, "sparse": True, "Active": True}
    label = customer.display_name or name
    write = PlannedWrite(
        step=STEP_QBO_REACTIVATE,
        kind=WriteKind.QBO_UPDATE_CUSTOMER,
        target_id=customer.id,
        body=body,
        reads_as=f"Reactivate customer {label} in QuickBooks (customer {customer.id})",
    )
    notes = (PORTAL_RETRY_NOTE,) if f.portal_only else ()
    return f.plan((write, *f.cb_writes(f.resync_write())), recorded_after=f.amount, notes=notes)


__all__ = ["PlanContext", "plan_remedy"]
