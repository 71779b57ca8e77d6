"""The recreate picker: when recreating a payment needs the user to pick the invoice it pays
(its invoice was deleted or voided, or recreated with no single replacement), a modal asks.
This module holds the picker's domain work; ``handlers`` only draw and answer.

1. :func:`pick_needed` — the record when the modal should open on a Recreate click: the
   failure is not resolved, an invoice must be picked, and the button was drawn for the
   current attempt. ``None`` lets ``run_remedy`` answer the click instead (already
   resolved, out of date, nothing to pick).
2. :func:`offer` — the customer's open invoices in QuickBooks and, for each choice (each
   invoice, and ``KEEP_AS_CREDIT``), the plan Recreate would write (planned from facts read
   now, ``bot.remedies.fresh.planning``), and the modal's context kept in Redis for
   ``PICK_TTL`` seconds under a fresh id (who opened it, for which attempt, which invoices
   were offered, each choice's plan digest). A QuickBooks or ConnectBooster error becomes
   :class:`PickerUnavailable`, whose message says why in plain words.
3. :func:`load` — a submission's context: ``None`` when it expired or belongs to someone
   else.
4. :func:`chosen` — the submitted choice when it was offered (an invoice id, or
   ``KEEP_AS_CREDIT``), else ``None``.
5. :func:`recreate_picked` — consume the context and run Recreate on the chosen target,
   for the attempt the modal was opened on and the plan it showed for that choice (its
   digest): a plan that changed meanwhile is not written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.errors import ExplainedError, describe_error
from bot.models import FailureRecord, FailureStatus, RemedyKind, RemedyPlan
from bot.remedies.fresh import planning
from bot.remedies.outcome import RemedyOutcome
from bot.remedies.recreate import needs_pick, recreate_candidates
from bot.remedies.runner import run_remedy
from bot.runtime.services import Services
from bot.slack.ids import KEEP_AS_CREDIT
from cb.errors import CBError
from gateway.errors import GatewayError
from qb.errors import QBOError
from qb.models import Invoice

PICK_CONVERSATION = "recreate"
"""``store.put_conversation`` kind holding the recreate modal's context."""
PICK_TTL = 30 * 60.0
"""Seconds a recreate modal's context is kept: a submission after that is "expired"."""


class PickerUnavailable(ExplainedError):
    """The customer's open invoices could not be listed; the message says why."""


@dataclass
class PickContext:
    """What a recreate modal was opened for, kept in Redis until it is submitted."""

    payment_id: str
    user: str
    attempt: int | None = None
    channel: str | None = None
    response_url: str | None = None
    candidates: list[str] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # choice -> its plan's digest

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> PickContext | None:
        """The context from its stored form; ``None`` when it is not one."""
        pid, user, attempt = data.get("payment_id"), data.get("user"), data.get("attempt")
        if not (isinstance(pid, str) and pid and isinstance(user, str)):
            return None
        channel, url = data.get("channel"), data.get("response_url")
        digests = data.get("digests")
        return cls(
            payment_id=pid,
            user=user,
            attempt=attempt if isinstance(attempt, int) else None,
            channel=channel if isinstance(channel, str) else None,
            response_url=url if isinstance(url, str) else None,
            candidates=[str(c) for c in data.get("candidates") or [] if c],
            digests={str(k): str(v) for k, v in digests.items()}
            if isinstance(digests, dict)
            else {},
        )


@dataclass(frozen=True)
class Offer:
    """What the recreate modal shows: the open invoices, the plan of each choice (by invoice
    id, and ``KEEP_AS_CREDIT``; as the card shows plans, for no user in particular), and the
    id its submission carries."""

    candidates: list[Invoice]
    context_id: str
    plans: dict[str, RemedyPlan] = field(default_factory=dict)


async def pick_needed(
    services: Services, payment_id: str, attempt: int | None
) -> FailureRecord | None:
    """The failure when a Recreate click on a button drawn for ``attempt`` should open the
    picker; ``None`` when ``run_remedy`` should answer the click."""
    rec = await services.store.get_failure(payment_id)
    if rec is None or rec.status == FailureStatus.RESOLVED or not needs_pick(rec):
        return None
    if attempt is not None and attempt != rec.remedy_attempts:
        return None  # out of date: run_remedy says what happened
    return rec


async def offer(
    services: Services,
    rec: FailureRecord,
    *,
    user: str,
    channel: str | None,
    response_url: str | None,
) -> Offer:
    """The customer's open invoices and each choice's plan, with the modal's context stored
    for ``PICK_TTL``.

    Raises :class:`PickerUnavailable` when QuickBooks or ConnectBooster cannot be read."""
    try:
        candidates = await recreate_candidates(services, rec)
        fresh = await planning(services, rec, user)
    except (QBOError, CBError, GatewayError) as exc:
        raise PickerUnavailable(
            f"I could not list the customer's open invoices: {describe_error(exc)}"
        ) from exc
    choices = [c.id for c in candidates if c.id]
    plans = {
        choice: fresh.plan(RemedyKind.RECREATE_PAYMENT, {"target": choice}, shown=True)
        for choice in [*choices, KEEP_AS_CREDIT]
    }
    ctx = PickContext(
        payment_id=rec.payment_id,
        user=user,
        attempt=rec.remedy_attempts,
        channel=channel or (rec.slack.channel if rec.slack else None),
        response_url=response_url,
        candidates=choices,
        digests={choice: plan.digest() for choice, plan in plans.items()},
    )
    cid = await services.store.put_conversation(PICK_CONVERSATION, asdict(ctx), ttl=PICK_TTL)
    return Offer(candidates=candidates, context_id=cid, plans=plans)


async def load(services: Services, context_id: str, user: str) -> PickContext | None:
    """The context of a submission by ``user``; ``None`` when it expired (or never was) or
    another user opened the modal."""
    data = await services.store.get_conversation(PICK_CONVERSATION, context_id)
    ctx = PickContext.from_stored(data) if data is not None else None
    return ctx if ctx is not None and ctx.user == user else None


def chosen(ctx: PickContext, value: str | None) -> str | None:
    """``value`` when the modal offered it (an invoice id, or ``KEEP_AS_CREDIT``)."""
    if value is None or value not in {*ctx.candidates, KEEP_AS_CREDIT}:
        return None
    return value


async def recreate_picked(
    services: Services, ctx: PickContext, context_id: str, choice: str
) -> RemedyOutcome:
    """Consume the modal's context and recreate the payment on ``choice``."""
    await services.store.delete_conversation(PICK_CONVERSATION, context_id)
    return await run_remedy(
        services,
        ctx.payment_id,
        RemedyKind.RECREATE_PAYMENT,
        ctx.user,
        params={"target": choice},
        expected_attempt=ctx.attempt,
        expected_digest=ctx.digests.get(choice),
    )


__all__ = [
    "PICK_CONVERSATION",
    "PICK_TTL",
    "Offer",
    "PickContext",
    "PickerUnavailable",
    "chosen",
    "load",
    "offer",
    "pick_needed",
    "recreate_picked",
]
