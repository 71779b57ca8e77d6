"""Button clicks on a failure message: thin listeners around ``bot.remedies``.

Every click: ack at once; read the button's value (a value we did not draw gets a specific
ephemeral answer); check the user may act (else an ephemeral reply naming who may); a
payment whose lease someone holds gets "already being handled by <@x>"; Recreate with a
replacement to pick opens the modal; otherwise the remedy runs after the ack (as in-flight
work that shutdown waits for) and the message is updated in place by ``bot.remedies``. Only
outcomes the message does not show (refused, busy, out of date, …) get an ephemeral reply.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.models import AuditEntry, FailureStatus, RemedyKind
from bot.remedies import (
    RemedyResult,
    describe_error,
    needs_pick,
    recreate_candidates,
    run_remedy,
)
from bot.runtime.services import Services
from bot.slack.blocks.card import not_allowed_message, recreate_modal
from bot.slack.blocks.common import context, plain, section
from bot.slack.ids import ACTION_REMEDIES, ActionId, BadActionValue, ViewId, decode_value
from bot.slack.permissions import may_act
from handlers.errors import report_error
from qb.errors import QBOError

log = logging.getLogger(__name__)

ACK_FLUSH_SECONDS = 0.015
"""Pause between the ack and the work, so the ack's HTTP answer leaves first."""
RECREATE_CONVERSATION = "recreate"
"""``store.put_conversation`` kind holding the recreate modal's context."""
RECREATE_CONTEXT_TTL = 30 * 60.0

BAD_VALUE_TEXT = (
    "That button is not one of ours, or it is out of date. Nothing was done — use the "
    "buttons on the latest failure message."
)


async def ephemeral(
    services: Services,
    body: dict[str, Any],
    respond: AsyncRespond | None,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
) -> None:
    """Reply to the clicker only, leaving the original message as it is: through the
    payload's ``response_url`` when it has one, else ``chat.postEphemeral``."""
    if respond is not None and body.get("response_url"):
        await respond(text=text, blocks=blocks, response_type="ephemeral",
                      replace_original=False)
        return
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id")
    user = user_of(body)
    if channel and user:
        await services.slack.chat_postEphemeral(channel=channel, user=user, text=text,
                                                blocks=blocks)


def user_of(body: dict[str, Any]) -> str:
    user = body.get("user")
    return str(user.get("id", "")) if isinstance(user, dict) else ""


async def refuse_outsider(
    services: Services,
    body: dict[str, Any],
    action: str,
    payment_id: str,
    respond: AsyncRespond | None,
) -> bool:
    """True (and an ephemeral reply naming who may) when the sender may not act."""
    user = user_of(body)
    if await may_act(services, user):
        return False
    settings = services.settings
    await services.store.audit(AuditEntry(user=user or "unknown", action=action,
                                          payment_id=payment_id, result="refused",
                                          detail="not allowed to act"))
    text, blocks = not_allowed_message(settings.finance_users, settings.finance_usergroup)
    await ephemeral(services, body, respond, text, blocks)
    return True


def register(app: AsyncApp, services: Services) -> None:
    """Register a listener for every remedy button (paging buttons belong to commands)."""

    async def on_remedy_click(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        # Bolt sends the HTTP answer when it next looks at the ack (every 10 ms): let it go
        # out before the remedy's work competes with other clicks' acks for the event loop.
        await asyncio.sleep(ACK_FLUSH_SECONDS)
        try:
            await handle_click(body, action, respond)
        except Exception as exc:  # noqa: BLE001 - logged with its traceback, then told
            await report_error(services, exc, body)

    async def handle_click(
        body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        user = user_of(body)
        kind = ACTION_REMEDIES[ActionId(action["action_id"])]
        try:
            value = decode_value(action.get("value"))
        except BadActionValue:
            log.warning("button %s with a value we did not draw", action.get("action_id"))
            await ephemeral(services, body, respond, BAD_VALUE_TEXT)
            return
        pid = value.payment_id
        if await refuse_outsider(services, body, kind.value, pid, respond):
            return
        holder = await services.store.lease_holder(f"payment:{pid}")
        if holder is not None:
            who = "you" if holder == user else f"<@{holder}>"
            await ephemeral(services, body, respond,
                            f"This payment is already being handled by {who}; nothing was "
                            "done twice.")
            return
        if kind == RemedyKind.RECREATE_PAYMENT and await _open_picker(
            services, body, user, pid, value.attempt, respond
        ):
            return
        outcome = await services.guarded(
            run_remedy(services, pid, kind, user, expected_attempt=value.attempt)
        )
        if outcome.result != RemedyResult.OK or kind == RemedyKind.RECHECK:
            await ephemeral(services, body, respond, outcome.message)

    for action_id in ACTION_REMEDIES:
        app.action(action_id.value)(on_remedy_click)


async def _open_picker(
    services: Services,
    body: dict[str, Any],
    user: str,
    payment_id: str,
    attempt: int | None,
    respond: AsyncRespond,
) -> bool:
    """Open the recreate modal when the replacement invoice must be picked; True if opened.

    The modal opens at once (a ``trigger_id`` lives 3 seconds) with a "looking up" view, then
    is updated with the customer's open invoices from QuickBooks."""
    rec = await services.store.get_failure(payment_id)
    if rec is None or rec.status == FailureStatus.RESOLVED or not needs_pick(rec):
        return False  # run_remedy answers these cases
    if attempt is not None and attempt != rec.remedy_attempts:
        return False  # out of date: run_remedy says what happened
    trigger_id = body.get("trigger_id")
    if not trigger_id:
        return False
    channel = (body.get("channel") or {}).get("id") or (rec.slack.channel if rec.slack else None)
    opened = await services.slack.views_open(trigger_id=trigger_id, view=_loading_view())
    view_id = str((opened.get("view") or {}).get("id") or "")
    try:
        candidates = await recreate_candidates(services, rec)
    except QBOError as exc:
        await services.slack.views_update(view_id=view_id, view=_message_view(
            f"I could not list the customer's open invoices: {describe_error(exc)}."))
        return True
    cid = await services.store.put_conversation(RECREATE_CONVERSATION, {
        "payment_id": payment_id,
        "user": user,
        "attempt": rec.remedy_attempts,
        "channel": channel,
        "response_url": body.get("response_url"),
        "candidates": [c.id for c in candidates if c.id],
    }, ttl=RECREATE_CONTEXT_TTL)
    await services.slack.views_update(view_id=view_id,
                                      view=recreate_modal(rec, candidates, context_id=cid))
    return True


def _loading_view() -> dict[str, Any]:
    return _message_view("Looking up the customer's open invoices in QuickBooks…")


def _message_view(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": f"{ViewId.RECREATE_PICK.value}_info",
        "title": plain("Recreate payment", 24),
        "close": plain("Close", 24),
        "blocks": [section(text), context("Nothing has been changed yet.")],
    }


