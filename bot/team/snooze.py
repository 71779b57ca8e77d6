"""Snoozes: set a failure aside until a date or until ConnectBooster's next sync attempt.

A snooze lives in Redis (``Store.put_snooze``), so a restart loses none. The poller calls
:func:`wake_due` every cycle: a snooze whose date has passed, or whose payment
ConnectBooster tried to sync again (its attempts grew), or whose failure was resolved, is
dropped and the card redrawn. A snoozed failure is left out of the reminders and shown
apart in ``/failed-payments list``. Every change is noted in the audit stream.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time

from bot.formats import fmt_date
from bot.models import FailureStatus, Snooze, SnoozeKind
from bot.runtime.services import Services
from bot.team.outcome import NotActionable, TeamResult, noted, open_record

log = logging.getLogger(__name__)

MAX_REASON = 300


def wake_time(services: Services, day: date) -> datetime:
    """The start of ``day`` in the books' time zone (``BOOKS_TIMEZONE``)."""
    return datetime.combine(day, time(0), tzinfo=services.settings.books_tz)


def today(services: Services) -> date:
    """Today in the books' time zone."""
    return services.clock().astimezone(services.settings.books_tz).date()


async def snooze(
    services: Services,
    target: str,
    user: str,
    *,
    until: date | None,
    reason: str,
) -> TeamResult:
    """``user`` snoozes ``target`` until the start of ``until`` (a later day), or until
    ConnectBooster's next sync attempt when ``until`` is ``None``, for ``reason``."""
    try:
        rec = await open_record(services, target)
    except NotActionable as exc:
        return TeamResult(False, str(exc))
    ref = rec.payment.reference
    now = services.clock()
    if until is not None and until <= today(services):
        return TeamResult(
            False, f"Pick a day after today to snooze {ref} until; nothing changed.", rec
        )
    s = Snooze(
        kind=SnoozeKind.UNTIL if until is not None else SnoozeKind.NEXT_SYNC,
        by=user,
        reason=" ".join(reason.split())[:MAX_REASON],
        at=now,
        until=wake_time(services, until) if until is not None else None,
        attempts=rec.payment.sync.attempts,
    )
    await services.store.put_snooze(rec.payment_id, s)
    when = f"until {fmt_date(s.until)}" if s.until else "until ConnectBooster's next sync"
    await noted(services, rec, user, "snooze", f"{when}: {s.reason}")
    return TeamResult(True, f"{ref} is snoozed {when}.", rec)


async def unsnooze(services: Services, target: str, user: str) -> TeamResult:
    """``user`` wakes ``target`` now."""
    try:
        rec = await open_record(services, target)
    except NotActionable as exc:
        return TeamResult(False, str(exc))
    ref = rec.payment.reference
    if await services.store.drop_snooze(rec.payment_id) is None:
        return TeamResult(False, f"{ref} is not snoozed; nothing changed.", rec)
    await noted(services, rec, user, "unsnooze", "woken by hand")
    return TeamResult(True, f"{ref} is awake again.", rec)


async def wake_due(services: Services) -> list[str]:
    """Wake every snooze that is due (see the module doc); returns the woken payment ids.
    Called by the poller each cycle."""
    store = services.store
    now = services.clock()
    ids = await store.snoozes_due_or_sync(now)
    if not ids:
        return []
    snoozes = await store.snoozes_of(ids)
    records = {r.payment_id: r for r in await store.get_failures(ids)}
    woken: list[str] = []
    for pid in ids:
        s, rec = snoozes.get(pid), records.get(pid)
        if s is None:
            await store.drop_snooze(pid)  # the index outlived its snooze
            continue
        gone = rec is None or rec.status == FailureStatus.RESOLVED
        if not gone and rec is not None and not s.due(now, rec.payment.sync.attempts):
            continue
        await store.drop_snooze(pid)
        woken.append(pid)
        if rec is not None and not gone:
            log.info("snooze of %s woke", rec.payment.reference)
            await noted(services, rec, "poller", "wake", f"snooze by {s.by} ended")
    return woken
