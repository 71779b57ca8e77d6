"""A burst of new failures: one digest message, then each failure's message in its thread.

When one cycle finds more than ``DIGEST_AFTER`` new failures, the poller posts a digest first
(the ``DIGEST_OLDEST`` oldest failures listed, diagnosed before it goes out), then each
failure's message as a reply in the digest's thread: the rest are diagnosed in batches of
``DIAGNOSE_BATCH`` while earlier replies are being posted. Diagnosis and storing are
``bot.poll.intake``'s, each reply ``bot.poll.posting``'s. Once every reply is out the digest
is redrawn with the counts by cause. Both drawings name the owner of each listed failure
where one is known (a failure that opens again keeps its owner; one taken while the burst
is being posted shows at the redraw). The digest is not redrawn after that: later takes
show on the failure's own message, ``list``, ``show`` and the App Home.

The burst is planned in Redis (``DigestPlan``, key ``poll:digest``) before the digest is posted,
and the digest carries metadata ``failed_payment_digest`` with the plan's id, so a restart
mid-burst finds the digest again and finishes the same thread instead of starting a second one.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, Field
from slack_sdk.errors import SlackApiError

from bot.errors import slack_error_code
from bot.models import FailureRecord
from bot.poll.intake import Found, Intake
from bot.poll.posting import EVENT_DIGEST, Poster
from bot.slack import messages
from bot.slack.blocks.digest import digest_message

log = logging.getLogger("bot.poll.cycle")  # one logger for the whole poll cycle

DIAGNOSE_BATCH = 25
"""Failures diagnosed together while a burst's replies are being posted."""
DIGEST_OLDEST = 5
"""Oldest failures listed in a digest (diagnosed before the digest is posted)."""


class DigestPlan(BaseModel):
    """A burst being posted: its digest message and the failures that go in its thread."""

    plan_id: str
    channel: str
    ts: str | None = None  # set once Slack accepted the digest
    claimed_at: AwareDatetime
    payment_ids: list[str] = Field(default_factory=list)
    total_amount: Decimal = Decimal(0)
    done: bool = False


class DigestPoster:
    """Posts a cycle's burst through ``poster``, its records made by ``intake``."""

    def __init__(self, poster: Poster, intake: Intake) -> None:
        self.poster = poster
        self.intake = intake
        self.s = poster.s

    async def resume(self, fresh: list[Found]) -> list[Found]:
        """Finish a burst a crashed cycle left half-posted; return the failures left over."""
        s = self.s
        plan = await s.store.get_model(DigestPlan, "poll", "digest")
        if plan is None or plan.done:
            return fresh
        if plan.ts is None:
            ref = await self.poster.find_posted(
                {"channel": plan.channel, "at": plan.claimed_at.timestamp()},
                EVENT_DIGEST,
                "plan_id",
                plan.plan_id,
            )
            if ref is None:  # the digest never reached Slack: the burst starts over
                plan.done = True
                await s.store.put_model(plan, "poll", "digest", ttl=86400)
                return fresh
            plan.ts = ref.ts
            await s.store.put_model(plan, "poll", "digest")
        in_plan = set(plan.payment_ids)
        mine = [f for f in fresh if f.payment.id in in_plan]
        rest = [f for f in fresh if f.payment.id not in in_plan]
        log.info("resuming digest %s: %d failures left to post in its thread", plan.ts, len(mine))
        self.poster.report.digest_ts = plan.ts
        await self._post_thread(plan, mine)
        return rest

    async def post(self, fresh: list[Found]) -> None:
        """More than DIGEST_AFTER new failures: the digest first, then each failure's message
        in its thread, diagnosed in batches while earlier replies go out."""
        s = self.s
        poster = self.poster
        now = s.clock()
        oldest = await self.intake.records(fresh[:DIGEST_OLDEST])
        plan = DigestPlan(
            plan_id=secrets.token_hex(8),
            channel=poster.channel,
            claimed_at=now,
            payment_ids=[f.payment.id for f in fresh],
            total_amount=sum((f.payment.amount for f in fresh), Decimal(0)),
        )
        await s.store.put_model(plan, "poll", "digest")
        text, blocks = digest_message(
            oldest,
            total_count=len(fresh),
            total_amount=plan.total_amount,
            counts_by_cause={},
            oldest=oldest,
            now=now,
            owners=await s.store.owners_of([r.payment_id for r in oldest]),
        )
        poster.check_lease()
        await poster.pacer.wait(poster.channel)
        _, plan.ts = await messages.post(
            s,
            poster.channel,
            text,
            blocks,
            metadata={"event_type": EVENT_DIGEST, "event_payload": {"plan_id": plan.plan_id}},
        )
        poster.mark_first()
        poster.report.top_level_posts += 1
        await s.store.put_model(plan, "poll", "digest")
        poster.report.digest_ts = plan.ts
        # the first few are diagnosed already; pass them on with their records
        first = [Found(r.payment, r) for r in oldest]
        await self._post_thread(plan, first + fresh[DIGEST_OLDEST:])

    async def _post_thread(self, plan: DigestPlan, found: Sequence[Found]) -> None:
        """Diagnose in batches (producer) while posting replies in the digest's thread
        (consumer, paced); then redraw the digest with the counts by cause."""
        assert plan.ts is not None
        queue: asyncio.Queue[FailureRecord | None] = asyncio.Queue(maxsize=DIAGNOSE_BATCH * 2)

        async def produce() -> None:
            cancelled = False
            try:
                for i in range(0, len(found), DIAGNOSE_BATCH):
                    for rec in await self.intake.records(found[i : i + DIAGNOSE_BATCH]):
                        await queue.put(rec)
            except asyncio.CancelledError:
                # the consumer is gone (the cycle is being cancelled): waiting for room in a
                # full queue would hang shutdown forever
                cancelled = True
                raise
            finally:
                if not cancelled:
                    await queue.put(None)  # the consumer stops even when diagnosis failed

        async def consume() -> None:
            while (rec := await queue.get()) is not None:
                await self.poster.publish(rec, plan.ts)

        producer = asyncio.create_task(produce(), name="poller-diagnose")
        try:
            await consume()
        finally:
            if not producer.done():
                producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
        failure = None if producer.cancelled() else producer.exception()
        if failure is not None:
            raise failure
        await self._redraw(plan)
        plan.done = True
        await self.s.store.put_model(plan, "poll", "digest", ttl=86400)

    async def _redraw(self, plan: DigestPlan) -> None:
        """The digest with every failure diagnosed: counts by cause and linked oldest rows."""
        recs = await self.s.store.get_failures(plan.payment_ids)
        if not recs or plan.ts is None:
            return
        by_cause = Counter(r.cause for r in recs)
        oldest = sorted(recs, key=lambda r: (r.payment.paid_at, r.payment_id))[:DIGEST_OLDEST]
        text, blocks = digest_message(
            recs,
            total_count=len(plan.payment_ids),
            total_amount=plan.total_amount,
            counts_by_cause=by_cause,
            oldest=oldest,
            now=self.s.clock(),
            owners=await self.s.store.owners_of([r.payment_id for r in oldest]),
        )
        try:
            await messages.update(self.s, plan.channel, plan.ts, text, blocks)
        except SlackApiError as exc:  # the replies are posted; a stale digest is cosmetic
            log.warning("digest %s not redrawn: %s", plan.ts, slack_error_code(exc))


__all__ = ["DIAGNOSE_BATCH", "DIGEST_OLDEST", "DigestPlan", "DigestPoster"]
