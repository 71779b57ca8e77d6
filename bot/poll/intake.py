"""New failures become records, ready to post: diagnosed in bulk and stored.

The poll cycle hands a few new failures here at once; a burst goes through the digest
(``bot.poll.digest``), which hands over its oldest few, then batches. Either way
:meth:`Intake.records` diagnoses the failures that need it together
(``bot.diagnosis.fetch.diagnose_many``) — a stored diagnosis is reused while the payment's sync
attempt is the one it was made for — and ``bot.lifecycle.opened`` makes each record (or brings
the stored one up to date, reopening it if it had been resolved) and saves it. Posting is the
caller's next step (``bot.poll.posting``).

:meth:`Intake.diagnose` is the same bulk diagnosis for failures that failed again; both use the
cycle's failure rate (a high rate is evidence the diagnosis weighs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot import lifecycle
from bot.diagnosis.fetch import diagnose_many
from bot.models import Diagnosis, FailureRecord
from bot.runtime.services import Services
from cb.models import Payment


@dataclass
class Found:
    """A failure in this cycle's list, with its record when it has one."""

    payment: Payment
    record: FailureRecord | None


class Intake:
    """One cycle's diagnosis of the failures it found (``failure_rate``: the sync failure rate
    over the alert window, or ``None`` when unknown)."""

    def __init__(self, services: Services, failure_rate: Decimal | None) -> None:
        self.s = services
        self.failure_rate = failure_rate

    async def diagnose(self, payments: Sequence[Payment]) -> dict[str, Diagnosis]:
        """Diagnoses by payment id, fetched from QuickBooks in bulk."""
        if not payments:
            return {}
        return await diagnose_many(
            self.s.qbo, payments, failure_rate=self.failure_rate,
            threshold=self.s.settings.alert_threshold,
        )

    async def records(self, found: Sequence[Found]) -> list[FailureRecord]:
        """Records for new failures, diagnosed (reusing a stored diagnosis) and stored, in the
        order given."""
        todo = [
            f.payment for f in found
            if f.record is None or f.record.diagnosis is None
            or f.record.payment.sync.attempts != f.payment.sync.attempts
        ]
        diagnoses = await self.diagnose(todo)
        return [
            await lifecycle.opened(self.s, f.payment, f.record, diagnoses.get(f.payment.id))
            for f in found
        ]


__all__ = ["Found", "Intake"]
