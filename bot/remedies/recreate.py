"""Recreate payment in QuickBooks, and what its modal needs (``needs_pick``,
``recreate_candidates``).

Creates the received payment in QuickBooks (customer, amount, paid date, ``CB…`` reference,
deposit account, a private note naming the ConnectBooster payment and the Slack user) on the
replacement invoices (or as credit), then dismisses syncing. Refused when QuickBooks already
holds a payment with that reference that the bot did not create. Journal steps:
``qbo_create_payment`` (its plan holds the body sent), then ``cb_dismiss``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.formats import money
from bot.models import Cause, FailureRecord, FailureStatus, Resolution, ResolutionHow, StepState
from bot.remedies.dismiss import cb_dismiss, synced_meanwhile
from bot.remedies.journal import RemedyRun, request_id
from bot.remedies.outcome import RemedyDone, RemedyFailed, RemedyRefused
from bot.runtime.services import Services
from bot.slack.ids import KEEP_AS_CREDIT
from cb import errors as cbe
from cb.models import Payment as CBPayment
from cb.models import SyncStatus
from qb.models import Invoice, LinkedTxn, PaymentLine, Ref
from qb.models import Payment as QBPayment
from qb.query import join_where, quote

UNDEPOSITED_FUNDS = "Undeposited Funds"
PICK_CAUSES = frozenset({Cause.RECREATED, Cause.DELETED, Cause.VOIDED})


def needs_pick(rec: FailureRecord) -> bool:
    """True when recreating this payment needs the user to pick an invoice (a deleted or
    voided invoice, or a recreated one whose replacement is ambiguous or missing)."""
    d = rec.diagnosis
    if d is None:
        return False
    return any(f.cause in PICK_CAUSES and not f.replacement_invoice_id for f in d.findings)


async def recreate_candidates(services: Services, rec: FailureRecord) -> list[Invoice]:
    """The customer's open invoices in QuickBooks (what the recreate modal offers)."""
    cust = rec.payment.customer.qb_customer_id
    if not cust:
        return []
    where = join_where(f"CustomerRef = {quote(cust)}", "Balance > '0'")
    return await services.qbo.query(Invoice, where)


def _marker(payment_id: str) -> str:
    return f"[fp:{payment_id}]"


def _targets(rec: FailureRecord, target: str | None) -> list[tuple[str, Decimal]]:
    """Where the recreated payment goes: ``[(invoice id, amount wanted)]``; the rest is
    credit."""
    d = rec.diagnosis
    if d is None or not d.findings:
        return [(a.qb_invoice_id, a.amount) for a in rec.payment.applications]
    out: list[tuple[str, Decimal]] = []
    for f in d.findings:
        if f.cause in (Cause.PAID_MANUALLY, Cause.ALREADY_IN_QBO):
            continue  # already paid in QuickBooks: this part stays as credit
        if f.replacement_invoice_id:
            out.append((f.replacement_invoice_id, f.applied))
        elif f.cause in PICK_CAUSES:
            if target and target != KEEP_AS_CREDIT:
                out.append((target, f.applied))
        else:
            out.append((f.invoice_id, f.applied))
    return out


async def _recreate_body(run: RemedyRun, payment: CBPayment) -> dict[str, Any]:
    services = run.services
    cust = payment.customer.qb_customer_id
    if not cust:
        raise RemedyRefused("ConnectBooster does not know this customer's QuickBooks id, so "
                            "the payment has to be recorded in QuickBooks by hand")
    deposit_id = services.settings.qbo_deposit_account_id
    if not deposit_id:
        acct = await services.qbo.account_by_name(UNDEPOSITED_FUNDS)
        deposit_id = acct.id if acct is not None else None
    wanted = _targets(run.rec, run.params.get("target"))
    ids = list(dict.fromkeys(i for i, _ in wanted))
    invoices = {i.id: i for i in await services.qbo.query_in(Invoice, "Id", ids)} if ids else {}
    room = {i: inv.balance for i, inv in invoices.items() if i}
    per_invoice: dict[str, Decimal] = {}
    left = payment.amount
    for inv_id, amount in wanted:
        inv = invoices.get(inv_id)
        if inv is None or inv.is_deleted:
            continue
        if inv.customer_ref is not None and inv.customer_ref.value != cust:
            raise RemedyRefused(f"invoice {inv.doc_number or inv_id} belongs to another customer")
        take = min(amount, room.get(inv_id, Decimal(0)), left)
        if take <= 0:
            continue
        per_invoice[inv_id] = per_invoice.get(inv_id, Decimal(0)) + take
        room[inv_id] -= take
        left -= take
    note = (f"Recreated from ConnectBooster payment {payment.id} ({payment.reference}) by the "
            f"failed-payments bot at the request of Slack user {run.user}. {_marker(payment.id)}")
    body = QBPayment(
        customer_ref=Ref(value=cust, name=payment.customer.name),
        total_amt=payment.amount,
        txn_date=payment.paid_at.date(),
        payment_ref_num=payment.reference,
        deposit_to_account_ref=Ref(value=deposit_id) if deposit_id else None,
        private_note=note,
        line=[PaymentLine(amount=amt, linked_txn=[LinkedTxn(txn_id=i, txn_type="Invoice")])
              for i, amt in per_invoice.items()],
    )
    return body.model_dump(mode="json", by_alias=True, exclude_none=True)


async def recreate(run: RemedyRun) -> RemedyDone:
    """Recreate payment in QuickBooks (see the module docstring)."""
    services, rec = run.services, run.rec
    name = "qbo_create_payment"
    step = run.journal.step(name)
    if step is None:
        if needs_pick(rec) and "target" not in run.params:
            raise RemedyRefused("pick the invoice it pays (or keep it as credit) first: press "
                                "*Recreate payment in QuickBooks* again")
        payment = await services.cb.get_payment(rec.payment_id)
        rec.payment = payment
        if payment.sync.status == SyncStatus.SYNCED:
            return synced_meanwhile(run, "ConnectBooster has synced it to QuickBooks "
                                         "meanwhile; nothing was created.")
        existing = await services.qbo.query(
            QBPayment, f"PaymentRefNum = {quote(payment.reference)}")
        ours = [p for p in existing if _marker(payment.id) in (p.private_note or "")]
        if existing and not ours:
            ids = ", ".join(str(p.id) for p in existing)
            raise RemedyRefused(
                f"QuickBooks already holds payment {ids} with reference {payment.reference}, "
                "so nothing was created. If it is this payment, press *Dismiss Syncing*")
        if ours:
            step = await run.begin(name, plan={"adopted": True})
            await run.done(step, qbo_payment_id=ours[0].id)
        else:
            body = await _recreate_body(run, payment)
            rid = request_id(rec.payment_id, "create", run.journal.attempt)
            step = await run.begin(name, request_id=rid, plan={"body": body})
    if step.state != StepState.DONE:
        assert step.request_id is not None
        created = await services.qbo.create_payment(
            QBPayment.model_validate(step.result["body"]), request_id=step.request_id)
        await run.done(step, qbo_payment_id=created.id)
    qb_id = step.result.get("qbo_payment_id")
    try:
        dismissed = await cb_dismiss(run)
    except cbe.NotFound:
        dismissed = True  # gone from ConnectBooster: nothing left to send to QuickBooks
    if not dismissed:
        synced_id = rec.payment.sync.qb_payment_id
        raise RemedyFailed(
            f"ConnectBooster synced the payment meanwhile, so QuickBooks now holds it twice: "
            f"payment {qb_id} (recreated) and {synced_id} (synced). Delete payment {qb_id} in "
            "QuickBooks")
    lines = step.result.get("body", {}).get("Line") or []
    where = (f"applied to {len(lines)} invoice(s)" if lines else "kept as credit on the "
             "customer")
    return RemedyDone(FailureStatus.RESOLVED,
                      f"QuickBooks payment {qb_id} created ({money(rec.payment.amount)}, "
                      f"{where}) and syncing dismissed in ConnectBooster.",
                      Resolution(how=ResolutionHow.RECREATED, by=run.user, at=services.clock(),
                                 detail=f"QuickBooks payment {qb_id}, {where}"))
