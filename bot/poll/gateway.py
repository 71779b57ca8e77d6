"""The poll cycle's gateway step: failures found by reconciling the gateway with QuickBooks.

Without the ConnectBooster contract this is the cycle's source of failures; with it, the step
adds only what the contract cannot show (a sale refunded, voided or returned at the gateway
while its receipt still stands in QuickBooks). :func:`gateway_step`:

1. reconciles (``bot.reconcile.run``: the gateway since its cursor, QuickBooks in bulk);
2. new flagged sales go the way of every new failure — diagnosed in bulk, stored, posted
   once (``bot.poll.intake``, ``bot.poll.posting``, ``bot.poll.digest`` for a burst);
3. a posted one the gateway changed since (refunded, say) is redrawn in place
   (``bot.poll.failed_again``);
4. an open gateway failure whose receipt is now in QuickBooks (or whose sale was reversed
   with no receipt standing) is resolved (``bot.lifecycle.resolved_outside``): the
   reconciliation keeps watching QuickBooks, so money still missing stays visible.

``report`` gains what was posted, redrawn and resolved; ``reconciliation`` is kept on it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bot import lifecycle
from bot.models import FailureRecord, FailureStatus, Resolution, ResolutionHow
from bot.poll.digest import DigestPoster
from bot.poll.failed_again import failed_again, update_again
from bot.poll.intake import Found, Intake
from bot.poll.posting import Poster
from bot.poll.recovery import StateCheck, adopt_posted
from bot.poll.report import PollReport
from bot.reconcile.receipts import GATEWAY_ID_PREFIX
from bot.reconcile.run import Reconciliation, reconcile_gateway
from bot.reconcile.verdicts import Verdict
from bot.runtime.services import Services
from cb.models import Payment

PostEach = Callable[[Intake, Sequence[Found]], Awaitable[None]]
RESOLVED_DETAIL = {
    Verdict.HEALTHY: "The gateway reconciliation found the payment's receipt in QuickBooks.",
    Verdict.REVERSED: "The sale was reversed at the gateway and no receipt stands in QuickBooks.",
}


async def gateway_step(
    s: Services,
    report: PollReport,
    poster: Poster,
    state: StateCheck,
    post_each: PostEach,
    *,
    refunds_only: bool = False,
) -> Reconciliation:
    """Steps 1-4 of the module docstring (``refunds_only``: beside the contract)."""
    rec = await reconcile_gateway(s)
    flagged = rec.flagged
    if refunds_only:
        refunded = rec.ids(Verdict.REFUNDED)
        flagged = [p for p in flagged if p.id in refunded]
    intake = Intake(s, None)
    digest = DigestPoster(poster, intake)
    records = {r.payment_id: r for r in await s.store.get_failures([p.id for p in flagged])}
    fresh: list[Found] = []
    again: list[Found] = []
    for p in flagged:
        known = records.get(p.id)
        if known is None or known.slack is None:
            fresh.append(Found(p, known))
        elif known.status != FailureStatus.IN_PROGRESS and (
            failed_again(known, p) or _reopens(known)
        ):
            again.append(Found(p, known))
    fresh.sort(key=lambda f: (f.payment.paid_at, f.payment.id))
    fresh = await adopt_posted(poster, intake, fresh, state)
    fresh = await digest.resume(fresh)
    if len(fresh) > s.settings.digest_after:
        await digest.post(fresh)
    elif fresh:
        await post_each(intake, fresh)
    if again:
        await update_again(s, report, again, await intake.diagnose([f.payment for f in again]))
    await _resolve_healthy(s, report, rec)
    return rec


def _reopens(rec: FailureRecord) -> bool:
    """A resolved gateway failure flagged again: money missing again opens it — unless a
    person recorded it done in the portal (the bot cannot see the portal; only a change at
    the gateway, caught by ``failed_again``, opens it again)."""
    r = rec.resolution
    return rec.status == FailureStatus.RESOLVED and (r is None or r.how != ResolutionHow.PORTAL)


async def _resolve_healthy(s: Services, report: PollReport, rec: Reconciliation) -> None:
    done = {
        r.transaction_id: r.verdict
        for r in rec.results
        if r.verdict in (Verdict.HEALTHY, Verdict.REVERSED)
    }
    if not done:
        return
    open_ids = [i for i in await s.store.open_ids() if i.startswith(GATEWAY_ID_PREFIX)]
    for pid in open_ids:
        verdict = done.get(pid.removeprefix(GATEWAY_ID_PREFIX))
        if verdict is None:
            continue
        async with s.store.holding(f"payment:{pid}", s.instance, ttl=30) as got:
            if not got:
                continue  # a remedy is working on it; it records the outcome itself
            record = await s.store.get_failure(pid)
            if record is None or record.status in (
                FailureStatus.RESOLVED,
                FailureStatus.IN_PROGRESS,
            ):
                continue
            how = ResolutionHow.SYNCED
            if record.remedy is not None and record.remedy.kind.value == "recreate_payment":
                how = ResolutionHow.RECREATED
            resolution = Resolution(how=how, by=None, at=s.clock(), detail=RESOLVED_DETAIL[verdict])
            await lifecycle.resolved_outside(s, record, resolution)
            report.resolved.append(pid)


def is_gateway_payment(p: Payment) -> bool:
    """Whether a failure was found at the gateway (``gw-…``) rather than by the contract."""
    return p.id.startswith(GATEWAY_ID_PREFIX)
