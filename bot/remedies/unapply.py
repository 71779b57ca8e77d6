"""Unapply Credit Memo: the plan's QuickBooks writes — each $0 payment that applies a credit
memo to an invoice of this payment deleted, or rewritten without those pairs (its invoice and
credit-memo lines kept balanced) — then a check that the invoices have room for the payment
again, then ConnectBooster asked to resync; the failure then waits for ConnectBooster's next
sync.

Journal steps: ``qbo_check_balances`` is begun first (it records the invoices' balances
before anything is written) and finished once the QuickBooks writes are done; then the plan's
``cb_resync``.
"""

from __future__ import annotations

from decimal import Decimal

from bot.formats import CENT, money
from bot.models import Cause, FailureStatus, Finding, StepState, WriteKind
from bot.remedies.journal import RemedyRun
from bot.remedies.outcome import RemedyDone, RemedyFailed
from bot.remedies.writes import apply_writes
from qb.models import Invoice

CHECK_STEP = "qbo_check_balances"


def _credit_findings(run: RemedyRun) -> list[Finding]:
    d = run.rec.diagnosis
    return [f for f in (d.findings if d else []) if f.cause == Cause.CREDIT_MEMO]


def _need(run: RemedyRun, f: Finding) -> Decimal:
    """What the payment still needs recorded on the finding's invoice."""
    books = run.rec.diagnosis.books if run.rec.diagnosis else None
    for need in books.needs if books else ():
        if need.invoice_id == f.invoice_id:
            return need.need
    return f.applied


async def unapply(run: RemedyRun) -> RemedyDone:
    """Unapply Credit Memo (see the module docstring)."""
    writes = run.plan.writes
    cut = next((i for i, w in enumerate(writes) if w.kind == WriteKind.CB_RESYNC), len(writes))
    findings = _credit_findings(run)
    facts = run.facts
    before = {
        f.invoice_id: str(inv.balance)
        for f in findings
        if facts is not None and (inv := facts.invoices.get(f.invoice_id)) is not None
    }
    check = await run.begin(CHECK_STEP, plan={"before": before})
    stop = await apply_writes(run, writes[:cut])
    if stop is not None:
        return stop
    if check.state != StepState.DONE:
        await _check_balances(run, findings, dict(check.result.get("before") or {}))
        await run.done(check)
    stop = await apply_writes(run, writes[cut:])
    if stop is not None:
        return stop
    memos = ", ".join(sorted({str(f.credit_memo_id) for f in findings if f.credit_memo_id}))
    return RemedyDone(
        FailureStatus.WAITING_SYNC,
        f"Credit memo {memos or 'application'} un-applied in QuickBooks and the "
        "payment queued for ConnectBooster's next sync; this message turns "
        "resolved once it syncs.",
    )


async def _check_balances(run: RemedyRun, findings: list[Finding], before: dict[str, str]) -> None:
    """Re-read the invoices: each must have room for the payment again (or its balance must
    have risen)."""
    if not findings:
        return
    after = {
        i.id: i
        for i in await run.services.qbo.query_in(Invoice, "Id", [f.invoice_id for f in findings])
    }
    short: list[str] = []
    for f in findings:
        inv = after.get(f.invoice_id)
        if inv is None:
            short.append(f"invoice {f.invoice_number} is gone")
            continue
        was = before.get(f.invoice_id)
        rose = was is not None and inv.balance > Decimal(was)
        if not rose and inv.balance + CENT <= _need(run, f):
            short.append(
                f"invoice {f.invoice_number} still shows a balance of "
                f"{money(inv.balance, run.plan.currency)}"
            )
    if short:
        raise RemedyFailed(
            "the credit memo application was removed, but "
            + "; ".join(short)
            + ". Check the invoice in QuickBooks before pressing *Re-check*"
        )


__all__ = ["CHECK_STEP", "unapply"]
