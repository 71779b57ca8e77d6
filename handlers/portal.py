"""Gateway mode's portal buttons: *Done in the portal* (finance users only: ack, then
``bot.reconcile.portal.portal_done``) and the "Open in ConnectBooster" link, whose click
Slack still sends and which only needs an ack."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse

from bot.reconcile.portal import ACTION, portal_done
from bot.runtime.services import Services
from bot.slack.ids import ActionId, BadActionValue, decode_value
from handlers.actions import BAD_VALUE_TEXT, listen
from handlers.errors import report_error
from handlers.gate import Refusal, ephemeral, finance_only, user_of
from handlers.refusals import refuse_button


async def refuse_portal(r: Refusal) -> BoltResponse:
    """Refuse an outsider's *Done in the portal* (:func:`handlers.refusals.refuse_button`)."""
    return await refuse_button(r, lambda _action: ACTION)


def register(app: AsyncApp, services: Services) -> None:
    """Register *Done in the portal* and the portal link."""

    async def done(body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        try:
            try:
                value = decode_value(action.get("value"))
            except BadActionValue:
                await ephemeral(services, body, respond, BAD_VALUE_TEXT)
                return
            words = await portal_done(services, value.payment_id, user_of(body) or "")
            if words:
                await ephemeral(services, body, respond, words)
        except Exception as exc:  # noqa: BLE001 - logged with its traceback, then told
            await report_error(services, exc, body)

    listen(app, ActionId.PORTAL_DONE.value, done, [finance_only(services, refuse_portal)])

    @app.action(ActionId.OPEN_PORTAL.value)
    async def opened(ack: AsyncAck) -> None:
        await ack()  # a link: Slack opens the portal itself
