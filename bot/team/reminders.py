"""The working-day reminder: one message listing the failures open longer than
``REMINDER_AFTER_DAYS``, unowned first, then the oldest, then the largest.

Where it goes — one reply in ``FAILED_PAYMENTS_CHANNEL``, in the thread of the day's first
failure message (a card or a digest the bot posted since midnight in ``BOOKS_TIMEZONE``),
or at the top of the channel when none was posted today. Chosen over a DM to each owner
because what most needs saying is what *nobody* owns: a DM reaches only owners, so the
unowned failures — first on the list — would reach no one; one message in the channel the
team already watches is seen by all of them, and a reply in the day's thread adds no new
top-level noise. (DMs would also need the ``im:write`` scope.)

When — driven by the poller (:func:`remind_if_due` every cycle) and its clock
(``Services.clock``): on a working day (Monday to Friday) at or after ``REMINDER_HOUR``.
Never more than one a day: the day's once-marker (``P once:reminder:<date>``, ``SET NX``) is
taken before posting, so of several bot processes only one posts, and a crash between the
marker and the post loses that day's reminder rather than posting it twice. None when
nothing waits (the marker is still taken: the day's reminder was decided). Snoozed failures
are left out.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from bot.models import FailureSummary
from bot.runtime.services import Services
from bot.slack.blocks.team_lists import reminder_message
from bot.slack.messages import post

log = logging.getLogger(__name__)

MARKER_TTL = 3 * 86400.0
EVENT_FAILURE, EVENT_DIGEST = "failed_payment", "failed_payment_digest"
"""The message metadata event types ``bot.poll.posting`` gives a card and a digest (spelled
here so this package does not import the poller, which runs it; a test holds them equal)."""
_PAGES = 20


def due(services: Services, now: datetime) -> str | None:
    """The day (YYYY-MM-DD in BOOKS_TIMEZONE) whose reminder is due at ``now``, or ``None``
    (a weekend, before the hour, or reminders off)."""
    hour = services.settings.reminder_hour
    local = now.astimezone(services.settings.books_tz)
    if hour < 0 or local.weekday() >= 5 or local.hour < hour:
        return None
    return local.date().isoformat()


async def waiting(services: Services, now: datetime) -> list[tuple[FailureSummary, str | None]]:
    """Open failures first seen more than ``REMINDER_AFTER_DAYS`` ago and not snoozed, with
    their owners: unowned first, then the oldest, then the largest."""
    store = services.store
    cutoff = now - timedelta(days=services.settings.reminder_after_days)
    snoozed = set(await store.snoozed_ids())
    rows = [
        s
        for s in await store.open_summaries()
        if s.first_seen_at <= cutoff and s.payment_id not in snoozed
    ]
    owners = await store.owners_of([s.payment_id for s in rows])
    out = [(s, owners.get(s.payment_id)) for s in rows]
    out.sort(key=lambda r: (r[1] is not None, r[0].first_seen_at, -r[0].amount, r[0].payment_id))
    return out


async def remind_if_due(services: Services) -> bool:
    """Post the day's reminder when it is due and not yet decided; True when posted."""
    now = services.clock()
    day = due(services, now)
    if day is None or await services.store.once_value(f"reminder:{day}") is not None:
        return False
    rows = await waiting(services, now)
    if not await services.store.once(f"reminder:{day}", "posted" if rows else "none", MARKER_TTL):
        return False  # another process decided it
    if not rows:
        return False
    channel = services.settings.failed_payments_channel
    text, blocks = reminder_message(rows, services.settings.reminder_after_days, now)
    root = await first_message_today(services, channel, now)
    await post(services, channel, text, blocks, thread_ts=root)
    log.info("reminder posted: %d failures waiting", len(rows))
    return True


async def first_message_today(services: Services, channel: str, now: datetime) -> str | None:
    """The ts of the first failure card or digest the bot posted in ``channel`` since
    midnight (BOOKS_TIMEZONE), or ``None``."""
    tz = services.settings.books_tz
    midnight = datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz)
    cursor: str | None = None
    first: str | None = None
    for _ in range(_PAGES):
        resp = await services.slack.conversations_history(
            channel=channel,
            oldest=f"{midnight.timestamp():.6f}",
            cursor=cursor,
            include_all_metadata=True,
            limit=200,
        )
        for msg in resp.get("messages") or []:
            meta = msg.get("metadata") or {}
            if meta.get("event_type") in (EVENT_FAILURE, EVENT_DIGEST):
                first = str(msg["ts"])  # newest first: the last seen is the first posted
        cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            break
    return first
