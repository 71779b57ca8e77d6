"""Unapply Credit Memo.

Deletes the $0 QuickBooks payment that applies the credit memo to the invoice (or rewrites
its lines without that pair), checks the invoice balances moved, and asks ConnectBooster to
resync; the failure then waits for ConnectBooster's next sync. Journal steps, one function
each: ``qbo_unapply:<$0 payment id>`` (one per $0 payment, ``_unapply_one``),
``qbo_check_balances`` (``_check_balances``), ``cb_resync`` (``_resync``).
"""

from __future__ import annotations

from decimal import Decimal

from bot.formats import CENT, money
from bot.models import Cause, FailureRecord, FailureStatus, Finding, StepState
from bot.remedies.dismiss import synced_meanwhile
from bot.remedies.journal import RemedyRun, request_id
from bot.remedies.outcome import RemedyDone, RemedyFailed, RemedyRefused
from cb import errors as cbe
from cb.models import SyncStatus
from qb import errors as qbe
from qb.models import Invoice, PaymentLine
from qb.models import Payment as QBPayment


def _credit_findings(rec: FailureRecord) -> list[Finding]:
    d = rec.diagnosis
    return [
        f for f in (d.findings if d else [])
        if f.cause == Cause.CREDIT_MEMO and f.credit_memo_payment_id and f.credit_memo_id
    ]


def _lines_without(zero: QBPayment, pairs: list[Finding]) -> tuple[list[PaymentLine], Decimal]:
    """The $0 payment's lines without the (invoice, credit memo) pairs; and what it removes."""
    inv_ids = {f.invoice_id for f in pairs}
    removed: dict[str, Decimal] = {}
    kept: list[PaymentLine] = []
    for ln in zero.line:
        hit = [lt for lt in ln.linked_txn if lt.txn_type == "Invoice" and lt.txn_id in inv_ids]
        if hit:
            for lt in hit:
                removed[lt.txn_id] = removed.get(lt.txn_id, Decimal(0)) + ln.amount
            rest = [lt for lt in ln.linked_txn if lt not in hit]
            if rest:
                kept.append(PaymentLine(amount=ln.amount, linked_txn=rest))
            continue
        kept.append(ln.model_copy(deep=True))
    # take the same amounts off the credit memo lines of each pair
    for f in pairs:
        owed = removed.get(f.invoice_id, Decimal(0))
        for ln in kept:
            if owed <= 0:
                break
            if any(lt.txn_type == "CreditMemo" and lt.txn_id == f.credit_memo_id
                   for lt in ln.linked_txn):
                take = min(owed, ln.amount)
                ln.amount -= take
                owed -= take
    kept = [ln for ln in kept if ln.amount > 0]
    return kept, sum(removed.values(), Decimal(0))


async def unapply(run: RemedyRun) -> RemedyDone:
    """Unapply Credit Memo: remove each $0 application the diagnosis names, check the
    invoices' balances moved, and ask ConnectBooster to resync."""
    findings = _credit_findings(run.rec)
    if not findings:
        raise RemedyRefused("the diagnosis names no credit memo application to remove; press "
                            "*Re-check* to look again")
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(str(f.credit_memo_payment_id), []).append(f)
    before: dict[str, str] = {}  # invoice id -> balance before, as text
    for zero_id, pairs in groups.items():
        before.update(await _unapply_one(run, zero_id, pairs))
    await _check_balances(run, findings, before)
    synced = await _resync(run)
    if synced is not None:
        return synced
    memos = ", ".join(sorted({f"{f.credit_memo_id}" for f in findings}))
    return RemedyDone(FailureStatus.WAITING_SYNC,
                      f"Credit memo {memos} un-applied in QuickBooks and the payment queued "
                      "for ConnectBooster's next sync; this message turns resolved once it "
                      "syncs.")


async def _unapply_one(run: RemedyRun, zero_id: str, pairs: list[Finding]) -> dict[str, str]:
    """Step ``qbo_unapply:<zero_id>``: delete the $0 payment, or rewrite its lines without the
    (invoice, credit memo) ``pairs``. Returns the invoices' balances before it."""
    qbo = run.services.qbo
    name = f"qbo_unapply:{zero_id}"
    existing = run.journal.step(name)
    if existing is not None and existing.state == StepState.DONE:
        return dict(existing.result.get("before", {}))
    try:
        zero: QBPayment | None = await qbo.get(QBPayment, zero_id)
    except qbe.NotFoundError as exc:
        if not exc.deleted:
            raise
        zero = None
    if existing is not None and existing.result.get("before"):
        balances = dict(existing.result["before"])
    else:
        invoices = await qbo.query_in(Invoice, "Id", [f.invoice_id for f in pairs])
        balances = {i.id: str(i.balance) for i in invoices if i.id}
    if zero is None:  # already deleted (by us before a crash, or by someone else)
        step = await run.begin(name, plan={"before": balances})
        await run.done(step, action="already-gone")
        return balances
    if zero.total_amt != 0:
        raise RemedyRefused(f"QuickBooks payment {zero_id} is not a $0 credit memo "
                            f"application any more ({money(zero.total_amt)}); press "
                            "*Re-check*")
    lines, removed = _lines_without(zero, pairs)
    still_links_invoice = any(lt.txn_type == "Invoice" for ln in lines for lt in ln.linked_txn)
    action = "update" if still_links_invoice else "delete"
    rid = request_id(run.rec.payment_id, f"unapply{zero_id}", run.journal.attempt)
    step = await run.begin(name, request_id=rid,
                           plan={"before": balances, "action": action, "removed": str(removed)})
    if removed == 0 and action == "update":
        await run.done(step, action="nothing-to-remove")
        return balances
    assert step.request_id is not None
    if action == "delete":
        assert zero.id is not None and zero.sync_token is not None
        await qbo.delete_payment(zero.id, zero.sync_token, request_id=step.request_id)
    else:
        change = QBPayment(id=zero.id, sync_token=zero.sync_token, line=lines)
        await qbo.update_payment(change, request_id=step.request_id, sparse=True)
    await run.done(step, action=action)
    return balances


async def _check_balances(
    run: RemedyRun, findings: list[Finding], before: dict[str, str]
) -> None:
    """Step ``qbo_check_balances``: re-read the invoices and check that each balance moved."""
    check = await run.begin("qbo_check_balances")
    if check.state == StepState.DONE:
        return
    after = {i.id: i for i in await run.services.qbo.query_in(
        Invoice, "Id", [f.invoice_id for f in findings])}
    short: list[str] = []
    for f in findings:
        inv = after.get(f.invoice_id)
        if inv is None:
            short.append(f"invoice {f.invoice_number} is gone")
            continue
        was = Decimal(before.get(f.invoice_id, "0"))
        moved = inv.balance > was or inv.balance + CENT > f.applied
        if not moved:
            short.append(f"invoice {f.invoice_number} still shows a balance of "
                         f"{money(inv.balance)}")
    if short:
        raise RemedyFailed(
            "the credit memo application was removed, but " + "; ".join(short)
            + ". Check the invoice in QuickBooks before pressing *Re-check*")
    await run.done(check, balances={k: str(v.balance) for k, v in after.items() if k})


async def _resync(run: RemedyRun) -> RemedyDone | None:
    """Step ``cb_resync``: ask ConnectBooster to sync the payment again. The ending when
    ConnectBooster had synced it meanwhile; None when it is queued."""
    step = await run.begin("cb_resync")
    if step.state == StepState.DONE:
        return None
    rec = run.rec
    try:
        payment = await run.services.cb.resync(rec.payment_id)
    except cbe.Conflict:
        payment = await run.services.cb.get_payment(rec.payment_id)
        if payment.sync.status == SyncStatus.SYNCED:
            rec.payment = payment
            await run.done(step, status="synced")
            return synced_meanwhile(run, "Credit memo un-applied; ConnectBooster has synced "
                                         "the payment to QuickBooks.")
        raise
    rec.payment = payment
    await run.done(step, status=payment.sync.status.value)
    return None
