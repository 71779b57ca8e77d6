"""The team's buttons and modals on a failure card: Take it, Release, Reassign, Snooze and
Unsnooze (thin listeners around ``bot.team``).

The gate (``handlers.gate.finance_only``) refuses an outsider with who may act and notes the
refused click apart from the audit. A click is acked at once; its work runs after the ack.
Take it and Release answer only when nothing changed (the card shows the owner; a click on the
App Home is answered in ``FAILED_PAYMENTS_CHANNEL``, where the card is); Reassign and
Snooze open a modal (``bot.slack.blocks.team``) whose submission is checked before the ack:
a new owner who is not a finance user, or a snooze date not after today, keeps the modal open
with the reason under the field.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse

from bot.errors import error_text
from bot.models import SnoozeKind
from bot.runtime.services import Services
from bot.slack.blocks.team import reassign_modal, snooze_modal
from bot.slack.ids import (
    REASSIGN_ACTION,
    REASSIGN_BLOCK,
    SNOOZE_DATE_ACTION,
    SNOOZE_DATE_BLOCK,
    SNOOZE_KIND_ACTION,
    SNOOZE_KIND_BLOCK,
    SNOOZE_REASON_ACTION,
    SNOOZE_REASON_BLOCK,
    ActionId,
    BadActionValue,
    ViewId,
    decode_value,
)
from bot.slack.messages import tell
from bot.slack.permissions import may_act, who_may
from bot.team import ownership
from bot.team import snooze as snoozing
from bot.team.outcome import NotActionable, TeamResult, open_record
from handlers.actions import BAD_VALUE_TEXT, listen
from handlers.errors import log_failure, report_error
from handlers.gate import Refusal, channel_of, ephemeral, finance_only, user_of, view_input
from handlers.refusals import refuse_button

log = logging.getLogger(__name__)

FORM_GONE_TEXT = (
    "This form is not one of ours or is out of date; close it and press the button again."
)
NOT_ALLOWED_TEXT = "You may no longer act on failed payments; nothing was done."
Work = Callable[[dict[str, Any], dict[str, Any], AsyncRespond], Awaitable[None]]


async def refuse_click(r: Refusal) -> BoltResponse:
    """Refuse an outsider's click on a team button (:func:`handlers.refusals.refuse_button`)."""
    return await refuse_button(r, lambda action: str(action.get("action_id") or "team"))


async def refuse_form(r: Refusal) -> BoltResponse:
    """Keep a team modal open, saying its sender may no longer act (or why the check failed)."""
    view = r.body.get("view") or {}
    block = REASSIGN_BLOCK if view.get("callback_id") == ViewId.REASSIGN else SNOOZE_REASON_BLOCK
    text = NOT_ALLOWED_TEXT
    if r.error is not None:
        log_failure(r.error, "permission check")
        text = f"{error_text(r.error)} (The form stays open.)"
    return await r.ack(response_action="errors", errors={block: text})


def register(app: AsyncApp, services: Services) -> None:
    """Register the team's buttons and the reassign and snooze modals."""
    gate = finance_only(services, refuse_click)

    def clicked(handler: Callable[..., Awaitable[None]]) -> Work:
        async def work(body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
            try:
                pid = decode_value(action.get("value")).payment_id
            except BadActionValue:
                await ephemeral(services, body, respond, BAD_VALUE_TEXT)
                return
            try:
                await handler(services, body, respond, pid)
            except Exception as exc:  # noqa: BLE001 - logged with its traceback, then told
                await report_error(services, exc, body)

        return work

    listen(app, ActionId.TAKE.value, clicked(_take), [gate])
    listen(app, ActionId.RELEASE.value, clicked(_release), [gate])
    listen(app, ActionId.UNSNOOZE.value, clicked(_unsnooze), [gate])
    listen(app, ActionId.REASSIGN.value, clicked(_open_reassign), [gate])
    listen(app, ActionId.SNOOZE.value, clicked(_open_snooze), [gate])
    form_gate = finance_only(services, refuse_form)

    async def on_reassign(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await submit_reassign(services, ack, body, view)

    async def on_snooze(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await submit_snooze(services, ack, body, view)

    app.view(ViewId.REASSIGN.value, middleware=[form_gate])(on_reassign)
    app.view(ViewId.SNOOZE.value, middleware=[form_gate])(on_snooze)


async def _answer(
    services: Services, body: dict[str, Any], respond: AsyncRespond, result: TeamResult
) -> None:
    if not result.ok:
        if channel_of(body) is None and not body.get("response_url"):  # from the App Home
            channel = services.settings.failed_payments_channel
            await tell(services, channel, user_of(body), result.message)
            return
        await ephemeral(services, body, respond, result.message)


async def _take(services: Services, body: dict[str, Any], respond: AsyncRespond, pid: str) -> None:
    await _answer(services, body, respond, await ownership.take(services, pid, user_of(body)))


async def _release(
    services: Services, body: dict[str, Any], respond: AsyncRespond, pid: str
) -> None:
    await _answer(services, body, respond, await ownership.release(services, pid, user_of(body)))


async def _unsnooze(
    services: Services, body: dict[str, Any], respond: AsyncRespond, pid: str
) -> None:
    await _answer(services, body, respond, await snoozing.unsnooze(services, pid, user_of(body)))


async def _open_reassign(
    services: Services, body: dict[str, Any], respond: AsyncRespond, pid: str
) -> None:
    try:
        rec = await open_record(services, pid)
    except NotActionable as exc:
        await ephemeral(services, body, respond, str(exc))
        return
    owner = await services.store.owner_of(pid)
    view = reassign_modal(rec, owner=owner, channel=channel_of(body))
    await services.slack.views_open(trigger_id=body.get("trigger_id"), view=view)


async def _open_snooze(
    services: Services, body: dict[str, Any], respond: AsyncRespond, pid: str
) -> None:
    try:
        rec = await open_record(services, pid)
    except NotActionable as exc:
        await ephemeral(services, body, respond, str(exc))
        return
    first = snoozing.today(services).toordinal() + 1
    view = snooze_modal(rec, channel=channel_of(body), today=date.fromordinal(first).isoformat())
    await services.slack.views_open(trigger_id=body.get("trigger_id"), view=view)


async def submit_reassign(
    services: Services, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
) -> None:
    """The reassign modal's submission: checked (a finance user picked) before the ack."""
    try:
        meta = decode_value(view.get("private_metadata"))
    except BadActionValue:
        await ack(response_action="errors", errors={REASSIGN_BLOCK: FORM_GONE_TEXT})
        return
    to = str(view_input(view, REASSIGN_BLOCK, REASSIGN_ACTION).get("selected_user") or "")
    try:
        allowed = bool(to) and await may_act(services, to)
    except Exception as exc:  # noqa: BLE001 - told under the field, the form stays open
        log_failure(exc, "reassign form")
        await ack(response_action="errors", errors={REASSIGN_BLOCK: error_text(exc)})
        return
    if not allowed:
        text = f"Only finance users may own a failure: {who_may(services)}."
        await ack(response_action="errors", errors={REASSIGN_BLOCK: text[:2000]})
        return
    await ack()
    result = await ownership.reassign(services, meta.payment_id, user_of(body), to)
    channel = str(meta.extra.get("c") or "") or None
    if not result.ok:
        await tell(services, channel, user_of(body), result.message)


async def submit_snooze(
    services: Services, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
) -> None:
    """The snooze modal's submission: checked (a day after today) before the ack."""
    try:
        meta = decode_value(view.get("private_metadata"))
    except BadActionValue:
        await ack(response_action="errors", errors={SNOOZE_REASON_BLOCK: FORM_GONE_TEXT})
        return
    picked = view_input(view, SNOOZE_KIND_BLOCK, SNOOZE_KIND_ACTION).get("selected_option") or {}
    kind = str(picked.get("value") or SnoozeKind.UNTIL) if isinstance(picked, dict) else ""
    raw_day = str(
        view_input(view, SNOOZE_DATE_BLOCK, SNOOZE_DATE_ACTION).get("selected_date") or ""
    )
    reason = str(view_input(view, SNOOZE_REASON_BLOCK, SNOOZE_REASON_ACTION).get("value") or "")
    until: date | None = None
    if kind == SnoozeKind.UNTIL:
        try:
            until = date.fromisoformat(raw_day)
        except ValueError:
            until = None
        if until is None or until <= snoozing.today(services):
            text = "Pick a day after today (the snooze ends at the start of that day)."
            await ack(response_action="errors", errors={SNOOZE_DATE_BLOCK: text})
            return
    if not reason.strip():
        await ack(
            response_action="errors", errors={SNOOZE_REASON_BLOCK: "Say why, in a few words."}
        )
        return
    await ack()
    result = await snoozing.snooze(
        services, meta.payment_id, user_of(body), until=until, reason=reason
    )
    channel = str(meta.extra.get("c") or "") or None
    if not result.ok:
        await tell(services, channel, user_of(body), result.message)
