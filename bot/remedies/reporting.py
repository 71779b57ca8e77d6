"""Telling Slack and the metrics what a remedy did: the message redrawn in place, a note in
its thread, and the remedies counter.

A Slack error here is logged and swallowed: the failure record in Redis is the truth and the
message catches up on its next redraw.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.models import FailureRecord, RemedyKind
from bot.remedies.outcome import RemedyResult
from bot.runtime.services import Services
from bot.slack.messages import refresh_message, thread_note

log = logging.getLogger(__name__)


async def _redraw(services: Services, rec: FailureRecord, notice: str | None = None) -> None:
    try:
        await refresh_message(services, rec, notice=notice)
    except SlackApiError as exc:  # the record is the truth; the message catches up later
        log.warning("message for %s not updated: %s", rec.payment.reference,
                    exc.response.get("error") if exc.response is not None else exc)


async def _note(services: Services, rec: FailureRecord, text: str) -> None:
    try:
        await thread_note(services, rec, text)
    except SlackApiError as exc:
        log.warning("thread note for %s not posted: %s", rec.payment.reference, exc)


def _count(services: Services, kind: RemedyKind, result: RemedyResult | str) -> None:
    services.metrics.remedies.labels(kind.value, str(result)).inc()
