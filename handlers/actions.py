"""Button clicks on a failure message: thin listeners around ``bot.remedies``.

Every click: the gate (``handlers.gate.finance_only``) answers an outsider with who may act
and an audit line; the click is acked at once; its work then runs after the ack (see
``ACK_FLUSH_SECONDS``). The work reads the button's value (a value we did not draw gets a specific
ephemeral answer); a payment whose lease someone holds gets "already being handled by <@x>";
a button whose plan was too long for its confirm dialog opens the confirmation modal with
every line of the plan (``ViewId.CONFIRM_PLAN``; its submission runs the remedy, see
``handlers.views``); Recreate with an invoice to pick opens the picker modal
(``bot.remedies.picker``); otherwise the remedy runs (as in-flight work that shutdown waits
for) with the digest of the plan the button showed, and ``bot.remedies`` updates the message
in place. Only outcomes the message does not show (refused, busy, out of date, the plan
changed since the message was drawn, …) get an ephemeral reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse

from bot import lifecycle
from bot.models import FailureStatus, RemedyKind
from bot.remedies import RemedyResult, already_resolved_text, picker, run_remedy
from bot.remedies.texts import stale_text
from bot.runtime.services import Services
from bot.slack.blocks import (
    picker_loading,
    picker_notice,
    plan_confirm_modal,
    plan_to_confirm,
    recreate_modal,
)
from bot.slack.ids import ACTION_REMEDIES, ActionId, BadActionValue, ButtonValue, decode_value
from handlers.errors import report_error
from handlers.gate import Middleware, Refusal, channel_of, ephemeral, finance_only, user_of
from handlers.refusals import refuse_button

log = logging.getLogger(__name__)

ACK_FLUSH_SECONDS = 0.015
"""Pause between ``ack()`` and the work, so the ack's answer leaves before the work competes
with other clicks' acks for the event loop (Bolt looks for the ack every 10 ms; a listener that
failed within that window made Bolt answer 404). Bolt's lazy listeners were tried in its place
and measured worse with ``bench.bench_ack`` (p99 124 ms against 88 ms here, the same machine
and load: the lazy work starts at once beside the other acks), so the pause stays."""

BAD_VALUE_TEXT = (
    "That button is not one of ours, or it is out of date. Nothing was done — use the "
    "buttons on the latest failure message."
)

NO_RECORD_TEXT = "I have no record of that payment; the button is out of date. Nothing was done."
PLAN_GONE_TEXT = (
    "That button is out of date: what it would do changed since the message was drawn. "
    "Nothing was done; the message now shows where the payment stands."
)

Work = Callable[[dict[str, Any], dict[str, Any], AsyncRespond], Awaitable[None]]


async def refuse_click(r: Refusal) -> BoltResponse:
    """Refuse an outsider's remedy click (:func:`handlers.refusals.refuse_button`)."""
    return await refuse_button(
        r, lambda action: ACTION_REMEDIES[ActionId(str(action.get("action_id")))].value
    )


def listen(app: AsyncApp, action_id: str, work: Work, middleware: list[Middleware]) -> None:
    """Register ``work`` for ``action_id``: ack, pause ``ACK_FLUSH_SECONDS``, then work.
    A failure after the ack is told to the user (``report_error``), never turned into a 404."""

    async def on_click(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        await asyncio.sleep(ACK_FLUSH_SECONDS)
        await work(body, action, respond)

    app.action(action_id, middleware=middleware)(on_click)


def register(app: AsyncApp, services: Services) -> None:
    """Register a listener for every remedy button (paging buttons belong to commands)."""

    async def remedy_click(
        body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        try:
            await handle_click(services, body, action, respond)
        except Exception as exc:  # noqa: BLE001 - logged with its traceback, then told
            await report_error(services, exc, body)

    gate = finance_only(services, refuse_click)
    for action_id in ACTION_REMEDIES:
        listen(app, action_id.value, remedy_click, [gate])


async def handle_click(
    services: Services, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
) -> None:
    """The work of one remedy click by a finance user, after its ack."""
    user = user_of(body)
    kind = ACTION_REMEDIES[ActionId(action["action_id"])]
    try:
        value = decode_value(action.get("value"))
    except BadActionValue:
        log.warning("button %s with a value we did not draw", action.get("action_id"))
        await ephemeral(services, body, respond, BAD_VALUE_TEXT)
        return
    pid = value.payment_id
    holder = await services.store.lease_holder(f"payment:{pid}")
    if holder is not None:
        who = "you" if holder == user else f"<@{holder}>"
        await ephemeral(
            services,
            body,
            respond,
            f"This payment is already being handled by {who}; nothing was done twice.",
        )
        return
    if value.opens_confirm:
        await open_confirm(services, body, respond, kind, value)
        return
    if (
        kind == RemedyKind.RECREATE_PAYMENT
        and value.digest is None
        and await open_picker(services, body, user, pid, value.attempt)
    ):
        return
    outcome = await services.guarded(
        run_remedy(
            services, pid, kind, user, expected_attempt=value.attempt, expected_digest=value.digest
        )
    )
    if outcome.result != RemedyResult.OK or kind == RemedyKind.RECHECK:
        await ephemeral(services, body, respond, outcome.message)


async def open_confirm(
    services: Services,
    body: dict[str, Any],
    respond: AsyncRespond,
    kind: RemedyKind,
    value: ButtonValue,
) -> None:
    """Open the confirmation modal of the plan behind a button too short for its dialog.
    Nothing runs here: the modal's submission does. A button out of date (the record moved
    on, or its plan may no longer run) is told so, and the message redrawn."""
    rec = await services.store.get_failure(value.payment_id)
    if rec is None:
        await ephemeral(services, body, respond, NO_RECORD_TEXT)
        return
    plan = plan_to_confirm(rec, kind, value.attempt)
    trigger_id = body.get("trigger_id")
    if plan is None or not trigger_id:
        if rec.status == FailureStatus.RESOLVED:
            text = already_resolved_text(rec) + " Nothing more was done."
        elif value.attempt is not None and value.attempt != rec.remedy_attempts:
            text = stale_text(rec)
        else:
            text = PLAN_GONE_TEXT
        await lifecycle.redraw(services, rec)
        await ephemeral(services, body, respond, text)
        return
    view = plan_confirm_modal(
        rec,
        plan,
        attempt=rec.remedy_attempts,
        channel=channel_of(body),
        changed=plan.digest() != value.digest,
    )
    await services.slack.views_open(trigger_id=trigger_id, view=view)


async def open_picker(
    services: Services, body: dict[str, Any], user: str, payment_id: str, attempt: int | None
) -> bool:
    """Open the recreate modal when the replacement invoice must be picked; True if opened.

    The modal opens at once (a ``trigger_id`` lives 3 seconds) with a "looking up" view, then
    is updated with the customer's open invoices from QuickBooks."""
    trigger_id = body.get("trigger_id")
    if not trigger_id:
        return False
    rec = await picker.pick_needed(services, payment_id, attempt)
    if rec is None:
        return False  # run_remedy answers these cases
    opened = await services.slack.views_open(trigger_id=trigger_id, view=picker_loading())
    view_id = str((opened.get("view") or {}).get("id") or "")
    try:
        offer = await picker.offer(
            services,
            rec,
            user=user,
            channel=channel_of(body),
            response_url=body.get("response_url"),
        )
    except picker.PickerUnavailable as exc:
        await services.slack.views_update(view_id=view_id, view=picker_notice(f"{exc}."))
        return True
    await services.slack.views_update(
        view_id=view_id,
        view=recreate_modal(rec, offer.candidates, context_id=offer.context_id, plans=offer.plans),
    )
    return True
