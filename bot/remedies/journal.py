"""The remedy journal: the plan a run writes, each step recorded in Redis before its write,
and the request ids.

``RemedyRun`` carries one run of a remedy (services, failure record, the payment's kept
lease, user, params, and the facts the plan was made from when the run planned it) and records
its steps in the record's ``RemedyJournal``, whose ``plan`` is the ``RemedyPlan`` being
written: ``begin`` saves a step as started (with its QuickBooks ``requestid``) *before* the
external write, ``done`` and ``failed`` save how it ended. Every save is conditional on still
holding the payment's lease (``Store.put_failure_if_held``); ``begin`` first checks the lease
was not lost, so a run that lost it stops before its next write. A step already done is
handed back as is, so a resumed or repeated run skips it.

``request_id`` derives a step's ``requestid`` from the payment, the plan's digest, the step
and the attempt, as a hash: never truncated, so no two of them collide, and a changed plan
(another invoice picked after a failed attempt) gets new ids — QuickBooks never replays an
old body for it. ``start_journal`` opens a new attempt with its plan, continuing a failed
attempt of the same plan (same digest) and only then.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from bot.diagnosis.facts import QBOFacts
from bot.lifecycle import is_own_dismissal, own_dismissal
from bot.models import (
    FailureRecord,
    JournalOutcome,
    RemedyJournal,
    RemedyKind,
    RemedyPlan,
    RemedyStep,
    StepState,
)
from bot.remedies.lease import KeptLease
from bot.runtime.services import Services
from bot.store.records import LeaseNotHeld

MAX_REQUEST_ID = 50
"""QuickBooks refuses a ``requestid`` longer than this."""


@dataclass
class RemedyRun:
    """One run of a journaled remedy on one failure, under the payment's kept lease."""

    services: Services
    rec: FailureRecord
    lease: KeptLease
    user: str
    params: dict[str, Any] = field(default_factory=dict)
    facts: QBOFacts | None = None  # what the plan was made from (None when resumed)
    unplanned: Exception | None = None  # why no plan could be made (the run writes nothing)

    @property
    def journal(self) -> RemedyJournal:
        assert self.rec.remedy is not None
        return self.rec.remedy

    @property
    def plan(self) -> RemedyPlan:
        plan = self.journal.plan
        assert plan is not None
        return plan

    async def save(self) -> None:
        """Save the record, only while the lease is still ours (else ``LeaseNotHeld``)."""
        self.rec.updated_at = self.services.clock()
        if not await self.services.store.put_failure_if_held(self.rec, self.lease.lease):
            raise LeaseNotHeld(f"payment {self.rec.payment_id}: its lease is held elsewhere")

    async def begin(
        self, name: str, *, request_id: str | None = None, plan: dict[str, Any] | None = None
    ) -> RemedyStep:
        """The step ``name``: returned as is when done; otherwise recorded as started (with
        its request id and what it records beforehand) in Redis before the caller's
        external write. Raises ``LeaseNotHeld`` once the lease is lost."""
        step = self.journal.step(name)
        if step is not None and step.state == StepState.DONE:
            return step
        self.lease.check()
        if step is None:
            step = RemedyStep(name=name, request_id=request_id, result=dict(plan or {}))
            self.journal.steps.append(step)
        else:  # started before a crash or a lost answer: same request id, same record
            step.state = StepState.STARTED
            if plan and not step.result:
                step.result = dict(plan)
        step.at = self.services.clock()
        await self.save()
        return step

    async def done(self, step: RemedyStep, **result: Any) -> None:
        step.state = StepState.DONE
        step.result.update(result)
        step.at = self.services.clock()
        await self.save()

    async def failed(self, step: RemedyStep, error: str) -> None:
        """A step QuickBooks or ConnectBooster refused for sure (nothing written)."""
        step.state = StepState.FAILED
        step.result["error"] = error
        await self.save()


def request_id(payment_id: str, digest: str, step: str, attempt: int) -> str:
    """The QBO ``requestid`` of one write: ``fp-`` and 40 hex digits of a hash of the
    payment, the plan's digest, the step and the attempt (43 characters, whatever their
    lengths: nothing is cut off, so distinct writes never share an id)."""
    text = "\x1f".join((payment_id, digest, step, str(attempt)))
    return "fp-" + hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


def start_journal(
    services: Services,
    rec: FailureRecord,
    kind: RemedyKind,
    user: str,
    params: dict[str, Any],
    plan: RemedyPlan | None,
) -> None:
    """Open attempt ``remedy_attempts + 1`` of ``kind`` writing ``plan`` (``None``: none
    could be made; the run records why and writes nothing) — in memory: the run saves it
    when it starts. A failed attempt of the same plan (same digest: the same writes,
    whoever clicks) is continued: its plan and finished steps are kept, and its writes of
    unknown outcome are repeated with their requestids and bodies; steps refused for sure are
    redone. Any other plan starts afresh, with new requestids — keeping only a dismissal the
    bot made itself (``bot.lifecycle.own_dismissal``), so the payment is still known to be
    dismissed by the bot rather than by someone else."""
    previous = rec.remedy
    attempt = rec.remedy_attempts + 1
    journal = RemedyJournal(
        kind=kind, user=user, attempt=attempt, params=params, plan=plan, started_at=services.clock()
    )
    if (
        previous is not None
        and previous.kind == kind
        and plan is not None
        and previous.outcome == JournalOutcome.FAILED
        and previous.plan is not None
        and previous.plan.digest() == plan.digest()
    ):
        journal.plan = previous.plan  # the bodies its requestids were made for
        journal.steps = [
            s.model_copy(deep=True) for s in previous.steps if s.state != StepState.FAILED
        ]
    elif own_dismissal(rec):  # remember that this payment's dismissal is the bot's own
        assert previous is not None
        journal.steps = [s.model_copy(deep=True) for s in previous.steps if is_own_dismissal(s)]
    rec.remedy = journal
    rec.remedy_attempts = attempt


__all__ = ["MAX_REQUEST_ID", "RemedyRun", "request_id", "start_journal"]
