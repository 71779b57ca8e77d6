"""Whether a dismissed payment was dismissed by the failure's own remedy.

A remedy may dismiss the payment in ConnectBooster before its next write (Recreate dismisses
first, then creates), so a dismissal the poller sees can be the bot's own, not someone's in
the portal. These read the record's remedy journal to tell the two apart: ``bot.lifecycle``
resolves a failure outside Slack only for a dismissal that is not its own, and
``bot.remedies.journal.start_journal`` carries the own dismissal into the next attempt.
"""

from __future__ import annotations

from bot.models.failure import FailureRecord, JournalOutcome, RemedyStep, StepState
from bot.models.plans import WriteKind


def own_dismissal(rec: FailureRecord) -> bool:
    """True when ConnectBooster shows the payment dismissed because the record's own remedy,
    unfinished or not finished ok, dismissed it (a dismissal step of its journal is done;
    ``bot.remedies.journal.start_journal`` carries it into the next attempt) — Recreate
    dismisses first, then creates: such a payment is not resolved until the remedy ends ok."""
    j = rec.remedy
    if j is None or j.outcome == JournalOutcome.OK:
        return False
    return any(is_own_dismissal(s) for s in j.steps)


def is_own_dismissal(step: RemedyStep) -> bool:
    """The journal step is a dismissal that the remedy made itself (done, and neither
    ConnectBooster's sync nor a deletion got there first)."""
    return (
        step.state == StepState.DONE
        and (step.result.get("kind") == WriteKind.CB_DISMISS.value or step.name == "cb_dismiss")
        and not step.result.get("synced")
        and not step.result.get("gone")
    )


__all__ = ["is_own_dismissal", "own_dismissal"]
