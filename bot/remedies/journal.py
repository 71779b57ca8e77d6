"""The remedy journal: each step recorded in Redis before its write, and the request ids.

``RemedyRun`` carries one run of a remedy (services, failure record, lease, user, params)
and records its steps in the record's ``RemedyJournal``: ``begin`` saves a step as started
(with its QuickBooks ``requestid`` and plan) *before* the external write, ``done`` and
``failed`` save how it ended; each ``begin`` renews the lease for
``services.remedy_timings.lease_ttl`` seconds. A step already done is handed back as is, so a
resumed or repeated run skips it. ``request_id`` derives the ``requestid`` from the payment,
the step and the attempt; ``start_journal`` opens a new attempt (continuing a failed one of
the same kind).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from bot.models import (
    FailureRecord,
    JournalOutcome,
    RemedyJournal,
    RemedyKind,
    RemedyStep,
    StepState,
)
from bot.runtime.services import Services
from bot.store import Lease

MAX_REQUEST_ID = 50


@dataclass
class RemedyRun:
    """One run of a journaled remedy on one failure, under the payment's lease."""

    services: Services
    rec: FailureRecord
    lease: Lease
    user: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def journal(self) -> RemedyJournal:
        assert self.rec.remedy is not None
        return self.rec.remedy

    async def save(self) -> None:
        self.rec.updated_at = self.services.clock()
        await self.services.store.put_failure(self.rec)

    async def begin(
        self, name: str, *, request_id: str | None = None, plan: dict[str, Any] | None = None
    ) -> RemedyStep:
        """The step ``name``: returned as is when done; otherwise recorded as started (with
        its request id and plan) in Redis before the caller's external write."""
        step = self.journal.step(name)
        if step is not None and step.state == StepState.DONE:
            return step
        if step is None:
            step = RemedyStep(name=name, request_id=request_id, result=dict(plan or {}))
            self.journal.steps.append(step)
        else:  # started before a crash or a lost answer: same request id, same plan
            step.state = StepState.STARTED
            if plan and not step.result:
                step.result = dict(plan)
        step.at = self.services.clock()
        await self.lease.extend(self.services.remedy_timings.lease_ttl)
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


def request_id(payment_id: str, step: str, attempt: int) -> str:
    """QBO ``requestid`` for one write of one attempt (at most 50 characters)."""
    rid = f"fp-{payment_id}-{step}-{attempt}"
    if len(rid) <= MAX_REQUEST_ID:
        return rid
    digest = hashlib.sha256(payment_id.encode()).hexdigest()[:16]
    return f"fp-{digest}-{step[:20]}-{attempt}"[:MAX_REQUEST_ID]


def start_journal(
    services: Services, rec: FailureRecord, kind: RemedyKind, user: str, params: dict[str, Any]
) -> None:
    """Open attempt ``remedy_attempts + 1`` of ``kind`` on the record (in memory: the run
    saves it when it starts)."""
    previous = rec.remedy
    attempt = rec.remedy_attempts + 1
    journal = RemedyJournal(kind=kind, user=user, attempt=attempt, params=params,
                            started_at=services.clock())
    if previous is not None and previous.kind == kind and previous.outcome == JournalOutcome.FAILED:
        # continue a failed run: keep what was done (and writes of unknown outcome, which are
        # repeated with the same requestid); redo steps that were refused for sure
        journal.steps = [s.model_copy(deep=True) for s in previous.steps
                         if s.state != StepState.FAILED]
        if not params:
            journal.params = dict(previous.params)
    rec.remedy = journal
    rec.remedy_attempts = attempt
