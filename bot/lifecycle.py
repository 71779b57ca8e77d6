"""The one owner of a failure's life: every change to a ``FailureRecord``'s ``status`` and
``resolution`` is made here, and nowhere else.

A failure is *opened* when the poller first finds it (*reopened* when it had been resolved
before its message went out), *posted* once its Slack message is out, *failed again* when
ConnectBooster's next sync attempt fails too, has a remedy *started* and *finished* (ok,
failed or refused; an ok one leaves it resolved or waiting for ConnectBooster's sync), is
*rechecked* on request, is *rediagnosed* when a click found the facts changed since its
message was drawn (nothing written; resolved when ConnectBooster synced, dismissed or deleted
it meanwhile), and is *resolved outside Slack* when ConnectBooster synced it or the portal
dismissed or deleted it. Each transition, in this order:

1. checks that the move is legal (``LEGAL``: for each ``Event``, the statuses it may leave and
   where each may go) and raises ``IllegalTransition`` otherwise, leaving the record as it was;
2. sets ``status`` (and ``resolution``: set when resolved, cleared when reopened);
3. writes the history note (what happened, and who did it);
4. saves the record (``Store.put_failure``, ``updated_at`` from the services' clock) — under a
   remedy's lease (``lease=``) only while that lease is still held
   (``Store.put_failure_if_held``; otherwise ``LeaseNotHeld`` and nothing is saved);
5. redraws the failure's Slack message in place, when it has one and the event changes what
   it shows (``bot.slack.messages.refresh_message``).

The moves::

    (new)                            --opened-->           open
    resolved                         --reopened-->         open
    any                              --posted-->           (unchanged)
    open | waiting_sync | resolved   --failed again-->     open
    open | waiting_sync | in_progress --remedy started-->  in_progress
    in_progress                      --remedy finished-->  open | waiting_sync | resolved
    open | waiting_sync | in_progress --rechecked-->       open | waiting_sync | resolved
    open | waiting_sync              --rediagnosed-->      open | waiting_sync | resolved
    open | waiting_sync              --resolved outside--> resolved

(``rechecked`` keeps ``in_progress`` for a remedy a crash cut short, and moves to
``waiting_sync`` only from ``open``.)

The record keeps what its card shows: the diagnosis and, with it, the plans of its remedies
(``FailureRecord.plans``), stored together by ``opened``, ``failed_again``, ``rechecked``,
``rediagnosed`` and a remedy's end. ``own_dismissal`` (``bot.models.dismissal``) tells a
payment dismissed in ConnectBooster by the record's own unfinished remedy (Recreate dismisses
first, then creates) from one dismissed by someone else: only the latter is resolved outside
Slack.

A Slack error while redrawing: the poller's transitions (failed again, resolved outside) let it
propagate, so the cycle fails and is retried with backoff; a remedy's transitions log it and go
on, because the record in Redis is the truth and the message catches up at its next redraw.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum

from slack_sdk.errors import SlackApiError

from bot.errors import slack_error_code
from bot.models import (
    Diagnosis,
    FailureRecord,
    FailureStatus,
    RemedyKind,
    RemedyPlan,
    Resolution,
    ResolutionHow,
    SlackRef,
)
from bot.models.dismissal import is_own_dismissal, own_dismissal
from bot.runtime.services import Services
from bot.slack.blocks.card import REMEDY_LABELS
from bot.slack.messages import refresh_message
from bot.store import Lease
from bot.store.records import LeaseNotHeld
from bot.team.home import refresh_soon
from cb.models import Payment

log = logging.getLogger(__name__)

OPEN = FailureStatus.OPEN
IN_PROGRESS = FailureStatus.IN_PROGRESS
WAITING_SYNC = FailureStatus.WAITING_SYNC
RESOLVED = FailureStatus.RESOLVED


class Event(StrEnum):
    """What happens to a failure; each names one transition below."""

    OPENED = "opened"
    REOPENED = "reopened"
    POSTED = "posted"
    FAILED_AGAIN = "failed_again"
    REMEDY_STARTED = "remedy_started"
    REMEDY_FINISHED = "remedy_finished"
    RECHECKED = "rechecked"
    REDIAGNOSED = "rediagnosed"
    RESOLVED_OUTSIDE = "resolved_outside"


LEGAL: Mapping[Event, Mapping[FailureStatus, frozenset[FailureStatus]]] = {
    Event.OPENED: {OPEN: frozenset({OPEN})},
    Event.REOPENED: {RESOLVED: frozenset({OPEN})},
    Event.POSTED: {s: frozenset({s}) for s in FailureStatus},
    Event.FAILED_AGAIN: {s: frozenset({OPEN}) for s in (OPEN, WAITING_SYNC, RESOLVED)},
    Event.REMEDY_STARTED: {s: frozenset({IN_PROGRESS}) for s in (OPEN, WAITING_SYNC, IN_PROGRESS)},
    Event.REMEDY_FINISHED: {IN_PROGRESS: frozenset({OPEN, WAITING_SYNC, RESOLVED})},
    Event.RECHECKED: {
        OPEN: frozenset({OPEN, WAITING_SYNC, RESOLVED}),
        WAITING_SYNC: frozenset({WAITING_SYNC, OPEN, RESOLVED}),
        IN_PROGRESS: frozenset({IN_PROGRESS, OPEN, RESOLVED}),
    },
    Event.REDIAGNOSED: {
        OPEN: frozenset({OPEN, WAITING_SYNC, RESOLVED}),
        WAITING_SYNC: frozenset({WAITING_SYNC, OPEN, RESOLVED}),
    },
    Event.RESOLVED_OUTSIDE: {s: frozenset({RESOLVED}) for s in (OPEN, WAITING_SYNC)},
}
"""For each event: the statuses it may start from, and for each of them where it may go."""


class IllegalTransition(Exception):
    """A transition that may not happen to the record as it stands (nothing was changed)."""

    def __init__(self, event: Event, rec: FailureRecord, to: FailureStatus, why: str = "") -> None:
        self.event = event
        self.payment_id = rec.payment_id
        self.before = rec.status
        self.after = to
        super().__init__(
            f"payment {rec.payment_id}: '{event.value}' cannot move a failure "
            f"from {rec.status.value} to {to.value}" + (f" ({why})" if why else "")
        )


def check(event: Event, rec: FailureRecord, to: FailureStatus) -> None:
    """Raise ``IllegalTransition`` unless ``event`` may move ``rec`` to status ``to``."""
    if to not in LEGAL[event].get(rec.status, frozenset()):
        raise IllegalTransition(event, rec, to)


# ---- the transitions ------------------------------------------------------------------------


async def opened(
    services: Services,
    payment: Payment,
    record: FailureRecord | None,
    diagnosis: Diagnosis | None,
    *,
    plans: dict[RemedyKind, RemedyPlan] | None = None,
) -> FailureRecord:
    """A failure the poller found that is not in Slack yet: a new record (open), or the stored
    one brought up to date with ``payment`` and ``diagnosis`` (``None``: keep the stored one)
    and the ``plans`` of its remedies (``None``: keep the stored ones) — reopened when it had
    been resolved. Saved; there is no message to redraw yet."""
    if record is None:
        rec = FailureRecord(payment_id=payment.id, payment=payment, first_seen_at=services.clock())
        check(Event.OPENED, rec, OPEN)
        what: str | None = "Failed to sync; diagnosed by the poller"
    else:
        rec = record
        what = None
        if rec.status == RESOLVED:
            check(Event.REOPENED, rec, OPEN)
            rec.status, rec.resolution = OPEN, None
            what = "Failed to sync again; reopened by the poller"
    rec.payment = payment
    if diagnosis is not None:
        rec.diagnosis = diagnosis
    if plans is not None:
        rec.plans = plans
    await _commit(services, rec, what)
    return rec


async def posted(services: Services, rec: FailureRecord, ref: SlackRef) -> None:
    """The failure's message is in Slack at ``ref`` (posted, or adopted after a crash)."""
    check(Event.POSTED, rec, rec.status)
    rec.slack = ref
    await _commit(
        services, rec, "Posted to Slack" + (" in the digest thread" if ref.thread_ts else "")
    )


async def failed_again(
    services: Services,
    rec: FailureRecord,
    payment: Payment,
    diagnosis: Diagnosis | None,
    *,
    notice: str,
    plans: dict[RemedyKind, RemedyPlan] | None = None,
) -> None:
    """ConnectBooster's newer sync attempt failed too: the record takes the payment, the new
    ``diagnosis`` and its ``plans`` (``None``: keep the stored ones) and reopens; its message
    is redrawn with ``notice`` (a Slack error propagates). Illegal while a remedy holds the
    payment."""
    check(Event.FAILED_AGAIN, rec, OPEN)
    rec.payment = payment
    if diagnosis is not None:
        rec.diagnosis = diagnosis
    if plans is not None:
        rec.plans = plans
    rec.status, rec.resolution = OPEN, None
    await _commit(
        services, rec, f"Failed again on sync attempt {payment.sync.attempts}; diagnosed again"
    )
    await refresh_message(services, rec, notice=notice)


async def remedy_started(
    services: Services, rec: FailureRecord, *, resumed: bool = False, lease: Lease | None = None
) -> None:
    """The record's journaled remedy (``rec.remedy``, started or continued) is about to run:
    in progress, saved (while ``lease`` is held, when given), the message redrawn without
    buttons. ``resumed``: after a restart."""
    j = rec.remedy
    if j is None or j.finished_at is not None:
        raise IllegalTransition(Event.REMEDY_STARTED, rec, IN_PROGRESS, "no unfinished remedy")
    check(Event.REMEDY_STARTED, rec, IN_PROGRESS)
    rec.status = IN_PROGRESS
    how = "resumed after a restart" if resumed else "started"
    await _commit(
        services,
        rec,
        f"{REMEDY_LABELS[j.kind]} {how} (attempt {j.attempt})",
        who=j.user,
        lease=lease,
    )
    await redraw(services, rec)


async def remedy_finished(
    services: Services,
    rec: FailureRecord,
    status: FailureStatus,
    *,
    resolution: Resolution | None = None,
    resumed: bool = False,
    notice: str | None = None,
    lease: Lease | None = None,
) -> None:
    """The record's remedy ended (its journal carries the outcome and the end time): the record
    moves to ``status`` (with ``resolution`` when given), is saved (while the remedy's
    ``lease`` is held, when given), the lease is released — before the redraw, so a next click
    does not wait for Slack — and the message is redrawn with ``notice``."""
    j = rec.remedy
    if j is None or j.outcome is None or j.finished_at is None:
        raise IllegalTransition(Event.REMEDY_FINISHED, rec, status, "the journal is not finished")
    check(Event.REMEDY_FINISHED, rec, status)
    _settle(Event.REMEDY_FINISHED, rec, status, resolution)
    await _commit(
        services,
        rec,
        f"{REMEDY_LABELS[j.kind]}: {j.outcome.value}" + (" (after a restart)" if resumed else ""),
        who=j.user,
        lease=lease,
    )
    if lease is not None:
        await lease.release()
    await redraw(services, rec, notice=notice)
    refresh_soon(services)  # the App Home of its recent viewers, in the background


async def rechecked(
    services: Services,
    rec: FailureRecord,
    user: str,
    status: FailureStatus,
    *,
    resolution: Resolution | None = None,
    lease: Lease | None = None,
    what: str = "Re-check",
    notice: str | None = None,
) -> None:
    """``user``'s Re-check found the failure at ``status`` (``rec.status``: unchanged), with
    ``resolution`` when resolved (and the new diagnosis and plans already on ``rec``): saved
    (while ``lease`` is held, when given) and the message redrawn (with ``notice``). The
    webhooks' re-diagnosis (``bot.webhooks.follow``) is a Re-check noted as ``what``."""
    check(Event.RECHECKED, rec, status)
    if status == WAITING_SYNC and rec.status != status and rec.status != OPEN:
        raise IllegalTransition(Event.RECHECKED, rec, status, "only an open failure waits")
    _settle(Event.RECHECKED, rec, status, resolution)
    await _commit(services, rec, what, who=user, lease=lease)
    await redraw(services, rec, notice=notice)


async def rediagnosed(
    services: Services,
    rec: FailureRecord,
    user: str,
    kind: RemedyKind,
    status: FailureStatus,
    *,
    resolution: Resolution | None = None,
    notice: str | None = None,
    lease: Lease | None = None,
) -> None:
    """``user`` clicked ``kind``, and the facts read again at the click differ from what the
    message showed: nothing was written. The record (already carrying the payment as
    ConnectBooster shows it now, the new diagnosis and plans) moves to ``status`` — resolved,
    with ``resolution``, when ConnectBooster synced, dismissed or deleted it meanwhile — is
    saved (while ``lease`` is held, when given) and its message redrawn with ``notice``."""
    check(Event.REDIAGNOSED, rec, status)
    if status == WAITING_SYNC and rec.status != status and rec.status != OPEN:
        raise IllegalTransition(Event.REDIAGNOSED, rec, status, "only an open failure waits")
    _settle(Event.REDIAGNOSED, rec, status, resolution)
    await _commit(
        services,
        rec,
        f"{REMEDY_LABELS[kind]} not written: the facts changed since the message was drawn",
        who=user,
        lease=lease,
    )
    await redraw(services, rec, notice=notice)


async def resolved_outside(
    services: Services,
    rec: FailureRecord,
    resolution: Resolution,
    *,
    payment: Payment | None = None,
) -> None:
    """ConnectBooster synced the payment, or the portal dismissed or deleted it (``payment``:
    what ConnectBooster shows now, ``None`` when it is gone): resolved, saved and the message
    redrawn without buttons (a Slack error propagates)."""
    check(Event.RESOLVED_OUTSIDE, rec, RESOLVED)
    if resolution.how == ResolutionHow.DISMISSED and own_dismissal(rec):
        raise IllegalTransition(
            Event.RESOLVED_OUTSIDE, rec, RESOLVED, "its own unfinished remedy dismissed it"
        )
    if payment is not None:
        rec.payment = payment
    rec.status, rec.resolution = RESOLVED, resolution
    await _commit(services, rec, f"Resolved outside Slack: {resolution.how.value}")
    await refresh_message(services, rec)


# ---- note, save, redraw -----------------------------------------------------------------------


async def redraw(services: Services, rec: FailureRecord, notice: str | None = None) -> None:
    """Redraw the failure's message in place from the record, with ``notice`` above it. A
    Slack error is logged, not raised: the record is the truth and the message catches up at
    its next redraw."""
    try:
        await refresh_message(services, rec, notice=notice)
    except SlackApiError as exc:
        log.warning("message for %s not updated: %s", rec.payment.reference, slack_error_code(exc))


def _settle(
    event: Event, rec: FailureRecord, status: FailureStatus, resolution: Resolution | None
) -> None:
    """Set the status (and the resolution, when given); resolved always says how."""
    if status == RESOLVED and resolution is None:
        raise IllegalTransition(event, rec, status, "resolved, but not how")
    rec.status = status
    if resolution is not None:
        rec.resolution = resolution


async def _commit(
    services: Services,
    rec: FailureRecord,
    what: str | None,
    who: str | None = None,
    lease: Lease | None = None,
) -> None:
    """Note ``what`` (by ``who``) in the record's history, when there is something to note, and
    save the record — only while ``lease`` is held, when given (else ``LeaseNotHeld``)."""
    if what is not None:
        rec.note(what, who=who)
    rec.updated_at = services.clock()
    if lease is None:
        await services.store.put_failure(rec)
    elif not await services.store.put_failure_if_held(rec, lease):
        raise LeaseNotHeld(f"payment {rec.payment_id}: its lease is held elsewhere")


__all__ = [
    "LEGAL",
    "Event",
    "IllegalTransition",
    "check",
    "failed_again",
    "is_own_dismissal",
    "opened",
    "own_dismissal",
    "posted",
    "rechecked",
    "rediagnosed",
    "redraw",
    "remedy_finished",
    "remedy_started",
    "resolved_outside",
]
