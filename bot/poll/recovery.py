"""Recovering from a Redis that lost the bot's state, from Slack, without posting twice.

Every poll cycle starts by reading the state marker (``bot.store.meta``: ``P meta:born``).
When it is gone, the cycle writes a new one with ``recovery`` set — ``lost`` when this process
had seen the marker before (the state was lost while the bot ran), ``unknown`` at a first start
(or after a loss while no bot ran). While ``recovery`` is set, the cycle, before it posts
anything:

1. reads the failure channel's history back to the oldest new failure's payment date
   (top-level messages and digest threads, ``Poster.posted_in_channel``) for the bot's own
   messages, by their metadata (``event_type`` ``failed_payment``, the payment id);
2. adopts each new failure that already has a message there: diagnosed and stored as any new
   failure (``bot.poll.intake``), then given that message (``bot.lifecycle.posted``) instead
   of a new one — so nothing is posted twice, whatever the claims and records lost;
3. says so, once per loss, as soon as it is known — at once when it is certain (``lost``),
   after step 1 when Slack holds messages of the bot older than the new marker (``unknown``,
   but a loss after all): one plain line in the log (ERROR) and in ``ALERT_CHANNEL``, with
   what became of the QuickBooks tokens (gone with the rest: reconnect with
   ``python app.py qbo-connect``). Said before anything needs QuickBooks, so a cycle that
   then fails for want of its tokens has said why.

The marker's ``recovery`` is cleared once such a cycle finished; until then every cycle
recovers again (a cancelled or failed one leaves it set).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from slack_sdk.errors import SlackApiError, SlackClientError

from bot import lifecycle
from bot.errors import log_reason
from bot.models import SlackRef
from bot.poll.intake import Found, Intake
from bot.poll.posting import Poster
from bot.runtime.services import Services
from bot.slack import messages
from bot.store import Recovery, StateMarker

log = logging.getLogger("bot.poll.cycle")  # one logger for the whole poll cycle

ADOPT_BATCH = 25
"""New failures diagnosed together while being adopted."""
PAID_BEFORE_POSTED = timedelta(days=1)
"""The history is read from this long before the oldest new failure's payment date."""
CLOCK_MARGIN = 300.0
"""Seconds a bot message must predate the marker to prove a loss (Slack's and Redis's clocks
may differ; a message posted just after a first start is no evidence)."""
ANNOUNCED_TTL = 30 * 86400.0
RECONNECT = "python app.py qbo-connect"


@dataclass
class StateCheck:
    """What the top of a cycle found: the marker, and whether this cycle must recover."""

    marker: StateMarker
    written_now: bool = False
    adopted: list[str] = field(default_factory=list)
    found_before_marker: int = 0  # bot messages in Slack older than the marker

    @property
    def recovering(self) -> bool:
        return self.marker.recovery is not None

    @property
    def lost(self) -> bool:
        """The state was lost (certainly, or as Slack shows)."""
        return self.marker.recovery == Recovery.LOST or self.found_before_marker > 0


async def check_state(services: Services) -> StateCheck:
    """Read the state marker; write it when Redis has none (see the module docstring)."""
    store = services.store
    marker = await store.state_marker()
    if marker is not None:
        return StateCheck(marker)
    marker, written = await store.mark_born(services.instance)
    state = StateCheck(marker, written_now=written)
    if marker.recovery == Recovery.LOST:
        await announce_loss(services, state)
    elif written:
        log.info(
            "no state marker in Redis (first start, or the state was lost): looking in "
            "Slack for messages already posted before posting any"
        )
    return state


async def adopt_posted(
    poster: Poster, intake: Intake, fresh: Sequence[Found], state: StateCheck
) -> list[Found]:
    """Adopt the new failures whose message is already in Slack; return the others (to
    post). Only while the marker asks for recovery."""
    if not state.recovering or not fresh:
        return list(fresh)
    oldest = min(f.payment.paid_at for f in fresh) - PAID_BEFORE_POSTED
    posted = await poster.posted_in_channel(oldest.timestamp())
    state.found_before_marker = sum(
        1 for ref in posted.values() if float(ref.ts) < state.marker.born_ts - CLOCK_MARGIN
    )
    if state.lost:
        await announce_loss(poster.s, state)
    mine = [f for f in fresh if f.payment.id in posted]
    for i in range(0, len(mine), ADOPT_BATCH):
        for rec in await intake.records(mine[i : i + ADOPT_BATCH]):
            found = posted[rec.payment_id]
            link = await messages.permalink(poster.s, found.channel, found.ts)
            ref = SlackRef(
                channel=found.channel, ts=found.ts, thread_ts=found.thread_ts, permalink=link
            )
            await lifecycle.posted(poster.s, rec, ref)
            state.adopted.append(rec.payment_id)
            poster.report.adopted.append(rec.payment_id)
            poster.report.new.append(rec.payment_id)
    if mine:
        log.info("adopted %d failure messages already in Slack; none posted again", len(mine))
    return [f for f in fresh if f.payment.id not in posted]


async def finish_recovery(services: Services, state: StateCheck, poster: Poster) -> None:
    """The cycle recovered (the loss, if any, was announced): note it in the report and
    clear the marker's ``recovery``."""
    if not state.recovering:
        return
    poster.report.state_lost = state.lost
    await services.store.recovered(state.marker)


async def announce_loss(services: Services, state: StateCheck) -> None:
    """One plain line in the log and in ``ALERT_CHANNEL`` (once per loss): the state was lost,
    what was recovered, and what the QuickBooks tokens need."""
    s = services
    if not await s.store.once(f"state-lost:{state.marker.stamp}", ttl=ANNOUNCED_TTL):
        return
    if await s.store.tokens_stored(s.settings.qbo_realm_id):
        tokens = (
            "QuickBooks tokens are stored again since; if QuickBooks refuses them "
            f"(invalid_grant), reconnect it: `{RECONNECT}`."
        )
    else:
        tokens = f"QuickBooks must be reconnected: its tokens were lost too — run `{RECONNECT}`."
    line = (
        "Redis lost the failed-payments bot's state (flushed, evicted, or restarted "
        "without persistence). The bot recovers from Slack: the failure messages already "
        f"posted are adopted, none is posted twice. {tokens}"
    )
    log.error("%s", line)
    try:
        await messages.post(s, s.settings.alert_channel, f":warning: {line}")
    except (SlackApiError, SlackClientError) as exc:
        log.warning(
            "could not post the state-loss notice to the alert channel: %s", log_reason(exc)
        )


__all__ = ["StateCheck", "adopt_posted", "announce_loss", "check_state", "finish_recovery"]
