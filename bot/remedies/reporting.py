"""Telling Slack and the metrics what a remedy did, beyond the redrawn message (which
``bot.lifecycle`` owns): a note in the message's thread, and the remedies counter.

A Slack error here is logged and swallowed: the failure record in Redis and the audit stream
are the truth.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.models import FailureRecord, RemedyKind
from bot.remedies.outcome import RemedyResult
from bot.runtime.services import Services
from bot.slack.messages import thread_note

log = logging.getLogger(__name__)


async def note_in_thread(services: Services, rec: FailureRecord, text: str) -> None:
    """Add ``text`` (an audit line) in the failure message's thread, best effort."""
    try:
        await thread_note(services, rec, text)
    except SlackApiError as exc:
        log.warning("thread note for %s not posted: %s", rec.payment.reference, exc)


def count_remedy(services: Services, kind: RemedyKind, result: RemedyResult | str) -> None:
    """Count one click of ``kind`` that ended ``result`` (metric ``remedies``)."""
    services.metrics.remedies.labels(kind.value, str(result)).inc()
