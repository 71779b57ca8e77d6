"""Modal submissions: the recreate modal's choice of invoice (or credit), and the
confirmation modal of a remedy's plan (``ViewId.CONFIRM_PLAN``).

The gate (``handlers.gate.finance_only``) answers someone who may no longer act: the recreate
modal stays open with "not allowed" under its select, the confirmation modal is replaced by
that message. A submission is checked before the ack (an expired form or a choice that was
not offered keeps the recreate modal open with an error under the select; a confirmation we
did not draw is replaced by "out of date"), then acked, and the remedy runs after the ack like
a button click's: Recreate on the picked invoice (``bot.remedies.picker.recreate_picked``),
or the confirmed plan's remedy with its digest (``run_remedy(..., expected_digest=…)``: a
plan that changed since is not written, and the submitter is told what changed).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.response import BoltResponse

from bot.errors import error_text
from bot.models import RemedyKind
from bot.remedies import RemedyResult, picker, run_remedy
from bot.runtime.services import Services
from bot.slack.blocks import plan_notice
from bot.slack.ids import (
    RECREATE_TARGET_ACTION,
    RECREATE_TARGET_BLOCK,
    BadActionValue,
    ViewId,
    decode_plan_confirm,
)
from bot.slack.messages import tell
from bot.store import StoreError
from handlers.errors import log_failure, report_error
from handlers.gate import Refusal, finance_only, user_of, view_input

log = logging.getLogger(__name__)

EXPIRED_TEXT = "This form has expired. Close it and press *Recreate payment in QuickBooks* again."
NOT_OFFERED_TEXT = "Pick one of the listed invoices, or keep the payment as credit."
NOT_ALLOWED_TEXT = "You may no longer act on failed payments; nothing was done."
FORM_STAYS_OPEN = "(The form stays open.)"
CONFIRM_NOT_OURS_TEXT = (
    "This confirmation is out of date or not one of ours. Nothing was done — use the buttons "
    "on the latest failure message."
)


def selected_value(view: dict[str, Any]) -> str | None:
    """The option chosen in the recreate modal's select, or ``None``."""
    option = view_input(view, RECREATE_TARGET_BLOCK, RECREATE_TARGET_ACTION).get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) else None


async def form_error(ack: AsyncAck, text: str) -> BoltResponse:
    """Ack the submission keeping the modal open, with ``text`` under the select."""
    return await ack(response_action="errors", errors={RECREATE_TARGET_BLOCK: text})


async def refuse_submission(r: Refusal) -> BoltResponse:
    """Keep the modal open, saying its sender may no longer act (or why the check failed)."""
    if r.error is None:
        return await form_error(r.ack, NOT_ALLOWED_TEXT)
    log_failure(r.error, "permission check")
    return await form_error(r.ack, f"{error_text(r.error)} {FORM_STAYS_OPEN}")


async def refuse_confirmation(r: Refusal) -> BoltResponse:
    """Replace the confirmation modal with why nothing was done: its sender may no longer act,
    or the check failed."""
    if r.error is None:
        text = NOT_ALLOWED_TEXT
    else:
        log_failure(r.error, "permission check")
        text = f"{error_text(r.error)} Nothing was done."
    return await r.ack(response_action="update", view=plan_notice(text))


def register(app: AsyncApp, services: Services) -> None:
    """Register the recreate modal's and the confirmation modal's submission listeners."""

    async def on_recreate_pick(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = user_of(body)
        cid = str(view.get("private_metadata") or "")
        try:
            ctx = await picker.load(services, cid, user)
        except StoreError as exc:
            log_failure(exc, "recreate form")
            await form_error(ack, f"{error_text(exc)} {FORM_STAYS_OPEN}")
            return
        if ctx is None:
            await form_error(ack, EXPIRED_TEXT)
            return
        choice = picker.chosen(ctx, selected_value(view))
        if choice is None:
            await form_error(ack, NOT_OFFERED_TEXT)
            return
        await ack()
        try:
            outcome = await services.guarded(picker.recreate_picked(services, ctx, cid, choice))
        except Exception as exc:  # noqa: BLE001 - logged with its traceback, then told
            await report_error(services, exc, {**body, "channel": {"id": ctx.channel}})
            return
        if outcome.result != RemedyResult.OK:
            await tell(services, ctx.channel, user, outcome.message)

    app.view(ViewId.RECREATE_PICK.value, middleware=[finance_only(services, refuse_submission)])(
        on_recreate_pick
    )

    async def on_confirm_plan(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = user_of(body)
        try:
            pc = decode_plan_confirm(view.get("private_metadata"))
        except BadActionValue:
            log.warning("confirmation modal with metadata we did not draw")
            await ack(response_action="update", view=plan_notice(CONFIRM_NOT_OURS_TEXT))
            return
        await ack()
        try:
            outcome = await services.guarded(
                run_remedy(
                    services,
                    pc.payment_id,
                    pc.kind,
                    user,
                    params=pc.params or None,
                    expected_attempt=pc.attempt,
                    expected_digest=pc.digest,
                )
            )
        except Exception as exc:  # noqa: BLE001 - logged with its traceback, then told
            await report_error(services, exc, {**body, "channel": {"id": pc.channel}})
            return
        if outcome.result != RemedyResult.OK or pc.kind == RemedyKind.RECHECK:
            rec = outcome.record
            channel = pc.channel or (rec.slack.channel if rec and rec.slack else None)
            await tell(services, channel, user, outcome.message)

    app.view(ViewId.CONFIRM_PLAN.value, middleware=[finance_only(services, refuse_confirmation)])(
        on_confirm_plan
    )
