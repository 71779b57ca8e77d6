"""Message I/O: every post, update, permalink and ephemeral reply the bot sends to Slack.

The failure's own message (one per failed payment) is posted once (the poller guards that)
and from then on updated in place with ``chat.update`` on the channel and ts kept in the
failure record: :func:`post_failure`, :func:`refresh_message`, :func:`thread_note`. The
plain operations under them (:func:`post`, :func:`update`, :func:`permalink`, :func:`tell`)
serve any other message (digests, alerts, answers to a click).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.errors import log_reason, slack_error_code
from bot.models import FailureRecord, SlackRef, TeamView
from bot.runtime.services import Services
from bot.slack.blocks import failure_message
from bot.store.errors import StoreError

log = logging.getLogger(__name__)


async def post(
    services: Services,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    *,
    thread_ts: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """Post a message (a reply when ``thread_ts``) without link previews; returns
    ``(channel, ts)`` as Slack answered them."""
    resp = await services.slack.chat_postMessage(
        channel=channel,
        text=text,
        blocks=blocks,
        thread_ts=thread_ts,
        unfurl_links=False,
        unfurl_media=False,
        metadata=metadata,
    )
    return str(resp.get("channel") or channel), str(resp["ts"])


async def update(
    services: Services,
    channel: str,
    ts: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
) -> None:
    """Redraw the message at ``channel``/``ts`` in place."""
    await services.slack.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)


async def permalink(services: Services, channel: str, ts: str) -> str | None:
    """The message's permalink, or ``None`` when Slack does not give one. It never raises
    (a cancel aside): a link is decoration and the message exists either way, so whatever
    keeps it away (an error answer, a body that is not JSON, Slack out of reach) is one log
    line and never stops the posting that asked for it."""
    try:
        resp = await services.slack.chat_getPermalink(channel=channel, message_ts=ts)
        link = resp.get("permalink")
    except Exception as exc:  # noqa: BLE001 - a permalink is never worth a failed post
        log.warning(
            "no permalink for %s in %s: %s",
            ts,
            channel,
            log_reason(exc),
            extra={"channel": channel, "ts": ts},
        )
        return None
    return str(link) if isinstance(link, str) and link else None


async def tell(
    services: Services,
    channel: str | None,
    user: str | None,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
) -> bool:
    """An ephemeral message to ``user`` in ``channel`` (best effort: an error is logged);
    True when Slack took it."""
    if not (channel and user):
        return False
    try:
        await services.slack.chat_postEphemeral(
            channel=channel, user=user, text=text, blocks=blocks
        )
    except SlackApiError as exc:
        log.warning("ephemeral reply not posted: %s", slack_error_code(exc))
        return False
    return True


async def post_failure(
    services: Services,
    rec: FailureRecord,
    *,
    channel: str | None = None,
    thread_ts: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> SlackRef:
    """Post the failure's message (in a digest thread when ``thread_ts``); returns where it is.

    The caller stores the returned ``SlackRef`` on the record. ``metadata`` (Slack message
    metadata) lets the poller find the message again after a crash."""
    text, blocks = failure_message(rec, portal_url=services.settings.cb_portal_url)
    channel, ts = await post(
        services,
        channel or services.settings.failed_payments_channel,
        text,
        blocks,
        thread_ts=thread_ts,
        metadata=metadata,
    )
    link = await permalink(services, channel, ts)
    services.metrics.posted.inc()
    return SlackRef(channel=channel, ts=ts, thread_ts=thread_ts, permalink=link)


async def refresh_message(
    services: Services, rec: FailureRecord, *, notice: str | None = None
) -> bool:
    """Redraw the failure's message in place from the record, with its owner and snooze
    (``Store.team_view``; when Redis does not answer that read, drawn without them: the
    next redraw adds them); False when it has none."""
    if rec.slack is None:
        return False
    try:
        team: TeamView | None = await services.store.team_view(rec.payment_id)
    except StoreError as exc:  # the status matters more: draw it, the owner line catches up
        log.warning("owner of %s not read for its card: %s", rec.payment.reference, exc)
        team = None
    text, blocks = failure_message(
        rec, notice=notice, team=team, portal_url=services.settings.cb_portal_url
    )
    await update(services, rec.slack.channel, rec.slack.ts, text, blocks)
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
        log.warning(
            "audit line for %s not posted: %s", rec.payment.reference, slack_error_code(exc)
        )


async def answer(services: Services, response_url: str, payload: dict[str, Any]) -> None:
    """Post ``payload`` to a command's or click's ``response_url`` through the process's
    Slack session (Bolt's ``respond`` opens a new HTTP session, and connection, for every
    answer: twenty commands at once paid for twenty). A refused answer is logged, as
    ``respond`` would have returned it unread."""
    session = services.slack.session
    if session is None:  # a web client built without a session: open one for this answer
        import aiohttp

        async with aiohttp.ClientSession() as own:
            await _answer(own, response_url, payload)
        return
    await _answer(session, response_url, payload)


async def _answer(session: Any, response_url: str, payload: dict[str, Any]) -> None:
    async with session.post(response_url, json=payload) as resp:
        body = await resp.read()
        if resp.status >= 400:
            log.warning("Slack refused an answer: HTTP %s %s", resp.status, body[:200])
