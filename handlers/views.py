"""Modal submissions: the recreate modal's choice of invoice (or credit).

The submission is checked before the ack (an expired form or a choice that was not offered
keeps the modal open with an error under the select), then acked, and the remedy runs after
the ack like a button click's.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError

from bot.models import RemedyKind
from bot.remedies import RemedyResult, run_remedy
from bot.runtime.services import Services
from bot.slack.ids import KEEP_AS_CREDIT, RECREATE_TARGET_ACTION, RECREATE_TARGET_BLOCK, ViewId
from bot.slack.permissions import may_act
from bot.store import StoreError
from handlers.actions import RECREATE_CONVERSATION, user_of
from handlers.errors import report_error

log = logging.getLogger(__name__)

EXPIRED_TEXT = "This form has expired. Close it and press *Recreate payment in QuickBooks* again."
STORE_DOWN_TEXT = ("My database is not answering, so nothing was done. Try again in a minute "
                   "(the form stays open).")
NOT_OFFERED_TEXT = "Pick one of the listed invoices, or keep the payment as credit."


def selected_value(view: dict[str, Any]) -> str | None:
    """The option chosen in the recreate modal's select, or ``None``."""
    try:
        state = view["state"]["values"][RECREATE_TARGET_BLOCK][RECREATE_TARGET_ACTION]
        value = state["selected_option"]["value"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


async def tell(services: Services, channel: str | None, user: str, text: str) -> None:
    """An ephemeral message to ``user`` in ``channel`` (best effort)."""
    if not channel:
        return
    try:
        await services.slack.chat_postEphemeral(channel=channel, user=user, text=text)
    except SlackApiError as exc:
        log.warning("ephemeral reply not posted: %s", exc.response.get("error"))


def register(app: AsyncApp, services: Services) -> None:
    """Register the recreate modal's submission listener."""

    async def on_recreate_pick(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = user_of(body)
        cid = str(view.get("private_metadata") or "")
        try:
            conv = await services.store.get_conversation(RECREATE_CONVERSATION, cid)
        except StoreError:
            await ack(response_action="errors", errors={RECREATE_TARGET_BLOCK: STORE_DOWN_TEXT})
            return
        if conv is None or conv.get("user") != user:
            await ack(response_action="errors", errors={RECREATE_TARGET_BLOCK: EXPIRED_TEXT})
            return
        choice = selected_value(view)
        offered = set(conv.get("candidates") or []) | {KEEP_AS_CREDIT}
        if choice is None or choice not in offered:
            await ack(response_action="errors", errors={RECREATE_TARGET_BLOCK: NOT_OFFERED_TEXT})
            return
        await ack()
        body = {**body, "channel": {"id": conv.get("channel")}}
        try:
            await run_choice(body, user, cid, conv, choice)
        except Exception as exc:  # noqa: BLE001 - logged with its traceback, then told
            await report_error(services, exc, body)

    async def run_choice(
        body: dict[str, Any], user: str, cid: str, conv: dict[str, Any], choice: str
    ) -> None:
        channel = conv.get("channel")
        pid = str(conv["payment_id"])
        if not await may_act(services, user):
            await tell(services, channel, user, "You may no longer act on failed payments; "
                                                "nothing was done.")
            return
        await services.store.delete_conversation(RECREATE_CONVERSATION, cid)
        attempt = conv.get("attempt")
        outcome = await services.guarded(run_remedy(
            services, pid, RemedyKind.RECREATE_PAYMENT, user, params={"target": choice},
            expected_attempt=attempt if isinstance(attempt, int) else None,
        ))
        if outcome.result != RemedyResult.OK:
            await tell(services, channel, user, outcome.message)

    app.view(ViewId.RECREATE_PICK.value)(on_recreate_pick)
