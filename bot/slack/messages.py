"""Posting and updating a failure's Slack message (the one message per failed payment).

The message is posted once (the poller guards that) and from then on updated in place with
``chat.update`` on the channel and ts kept in the failure record.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.models import FailureRecord, SlackRef
from bot.runtime.services import Services
from bot.slack.blocks.card import failure_message

log = logging.getLogger(__name__)


async def post_failure(
    services: Services, rec: FailureRecord, *, channel: str | None = None,
    thread_ts: str | None = None, metadata: dict[str, Any] | None = None,
) -> SlackRef:
    """Post the failure's message (in a digest thread when ``thread_ts``); returns where it is.

    The caller stores the returned ``SlackRef`` on the record. ``metadata`` (Slack message
    metadata) lets the poller find the message again after a crash."""
    channel = channel or services.settings.failed_payments_channel
    text, blocks = failure_message(rec)
    resp = await services.slack.chat_postMessage(
        channel=channel, text=text, blocks=blocks, thread_ts=thread_ts, unfurl_links=False,
        unfurl_media=False, metadata=metadata,
    )
    ts = str(resp["ts"])
    channel = str(resp.get("channel") or channel)
    permalink: str | None = None
    try:
        link = await services.slack.chat_getPermalink(channel=channel, message_ts=ts)
        permalink = str(link.get("permalink")) if link.get("permalink") else None
    except SlackApiError as exc:  # the message is posted; a missing link is not a failure
        log.warning("no permalink for %s: %s", rec.payment.reference, exc.response.get("error"))
    services.metrics.posted.inc()
    return SlackRef(channel=channel, ts=ts, thread_ts=thread_ts, permalink=permalink)


async def refresh_message(
    services: Services, rec: FailureRecord, *, notice: str | None = None
) -> bool:
    """Redraw the failure's message in place from the record; False when it has none."""
    if rec.slack is None:
        return False
    text, blocks = failure_message(rec, notice=notice)
    await services.slack.chat_update(
        channel=rec.slack.channel, ts=rec.slack.ts, text=text, blocks=blocks
    )
    return True


async def thread_note(services: Services, rec: FailureRecord, text: str) -> None:
    """Add an audit line in the message's thread (best effort: the audit stream has it too)."""
    if rec.slack is None:
        return
    try:
        await services.slack.chat_postMessage(
            channel=rec.slack.channel, thread_ts=rec.slack.ts, text=text, unfurl_links=False
        )
    except SlackApiError as exc:
        log.warning("audit line for %s not posted: %s", rec.payment.reference,
                    exc.response.get("error"))
