"""New failures become records, ready to post: diagnosed in bulk, planned, and stored.

The poll cycle hands a few new failures here at once; a burst goes through the digest
(``bot.poll.digest``), which hands over its oldest few, then batches. Either way
:meth:`Intake.records` diagnoses the failures that need it together — one bulk
``bot.diagnosis.fetch_facts``, then the pure ``diagnose`` for each — and plans the remedies
each card will offer from the same facts (``bot.remedies.fresh.plans_for``: no QuickBooks
request per failure); a stored diagnosis (and its plans) is reused while the payment's sync
attempt is the one it was made for. ``bot.lifecycle.opened`` makes each record (or brings
the stored one up to date, reopening it if it had been resolved) and saves it. Posting is the
caller's next step (``bot.poll.posting``).

:meth:`Intake.diagnose` is the same bulk diagnosis for failures that failed again
(``Diagnosed``: the diagnoses and the facts they came from, for their plans); both use the
cycle's failure rate (a high rate is evidence the diagnosis weighs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from bot import lifecycle
from bot.diagnosis import QBOFacts, diagnose_all, fetch_facts
from bot.models import Diagnosis, FailureRecord, RemedyKind, RemedyPlan
from bot.remedies.fresh import plans_for
from bot.runtime.services import Services
from cb.models import Payment


@dataclass
class Found:
    """A failure in this cycle's list, with its record when it has one."""

    payment: Payment
    record: FailureRecord | None


@dataclass
class Diagnosed:
    """Diagnoses by payment id, and the QuickBooks facts they were made from."""

    diagnoses: dict[str, Diagnosis] = field(default_factory=dict)
    facts: QBOFacts = field(default_factory=QBOFacts)

    def get(self, payment_id: str) -> Diagnosis | None:
        return self.diagnoses.get(payment_id)

    async def plans(
        self, services: Services, rec: FailureRecord | None, payment: Payment
    ) -> dict[RemedyKind, RemedyPlan] | None:
        """The plans the card of ``payment`` offers with its new diagnosis (``None``: it was
        not diagnosed here, keep the stored ones)."""
        diagnosis = self.diagnoses.get(payment.id)
        if diagnosis is None:
            return None
        view = (
            rec.model_copy()
            if rec is not None
            else FailureRecord(payment_id=payment.id, payment=payment)
        )
        view.payment, view.diagnosis = payment, diagnosis
        return await plans_for(services, view, self.facts)


class Intake:
    """One cycle's diagnosis of the failures it found (``failure_rate``: the sync failure rate
    over the alert window, or ``None`` when unknown)."""

    def __init__(self, services: Services, failure_rate: Decimal | None) -> None:
        self.s = services
        self.failure_rate = failure_rate

    async def diagnose(self, payments: Sequence[Payment]) -> Diagnosed:
        """Diagnoses by payment id, fetched from QuickBooks in bulk, with the facts."""
        if not payments:
            return Diagnosed()
        facts = await fetch_facts(self.s.qbo, payments)
        threshold = self.s.settings.alert_threshold
        return Diagnosed(
            diagnose_all(payments, facts, failure_rate=self.failure_rate, threshold=threshold),
            facts,
        )

    async def records(self, found: Sequence[Found]) -> list[FailureRecord]:
        """Records for new failures, diagnosed (reusing a stored diagnosis), planned and
        stored, in the order given."""
        todo = [
            f.payment
            for f in found
            if f.record is None
            or f.record.diagnosis is None
            or f.record.payment.sync.attempts != f.payment.sync.attempts
        ]
        diagnosed = await self.diagnose(todo)
        return [
            await lifecycle.opened(
                self.s,
                f.payment,
                f.record,
                diagnosed.get(f.payment.id),
                plans=await diagnosed.plans(self.s, f.record, f.payment),
            )
            for f in found
        ]


__all__ = ["Diagnosed", "Found", "Intake"]
