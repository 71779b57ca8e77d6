"""An outsider's click on a button, answered the same way for every button: acked, kept in
the refused-clicks stream (apart from the audit), and told who may act — or, when the
permission check itself failed, why nothing was done."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt.response import BoltResponse

from bot.models import AuditEntry
from bot.slack.blocks import not_allowed_message
from bot.slack.ids import BadActionValue, decode_value
from handlers.errors import report_error
from handlers.gate import Refusal, ephemeral, user_of


async def refuse_button(r: Refusal, action_name: Callable[[dict[str, Any]], str]) -> BoltResponse:
    """Refuse ``r``'s click; ``action_name`` names the clicked action (its Slack payload) in
    the refused-clicks stream."""
    response = await r.ack()
    if r.error is not None:
        await report_error(r.services, r.error, r.body)
        return response
    actions = r.body.get("actions") or [{}]
    action = actions[0] if isinstance(actions[0], dict) else {}
    try:
        payment_id = decode_value(action.get("value")).payment_id
    except BadActionValue:
        payment_id = ""
    await r.services.store.audit_refused_click(
        AuditEntry(
            user=user_of(r.body) or "unknown",
            action=action_name(action),
            payment_id=payment_id,
            result="refused",
            detail="not allowed to act",
        )
    )
    settings = r.services.settings
    text, blocks = not_allowed_message(settings.finance_users, settings.finance_usergroup)
    await ephemeral(r.services, r.body, r.respond, text, blocks)
    return response
