"""``/failed-payments``: list, stats, show, recheck and help, the team's mine, assign,
snooze and unsnooze (``bot.team.commands``); and the list's paging buttons.

The gate (``handlers.gate.finance_only``) lets only finance users see amounts and customers
(``help``, and a command that does not parse, are open to everyone). Every listener acks
first (Slack wants an answer within 3 s), calls a ``bot/`` function and answers with an
ephemeral reply through the request's ``response_url``; an error becomes the plain words of
``bot.errors``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from bot.commands import listing
from bot.commands.parse import (
    CommandError,
    HelpCommand,
    ListCommand,
    RecheckCommand,
    ShowCommand,
    StatsCommand,
)
from bot.commands.parse_team import TEAM_COMMANDS, parse_any
from bot.commands.stats import MAX_REFS, build_stats, recheck_message
from bot.errors import error_text
from bot.runtime.services import Services
from bot.slack.blocks import (
    Block,
    failure_message,
    help_message,
    list_page,
    not_allowed_message,
    stats_message,
)
from bot.slack.blocks.common import MAX_BLOCKS
from bot.slack.ids import ActionId, BadActionValue, decode_page_value
from bot.slack.messages import answer
from bot.team.commands import list_additions, run_team_command
from handlers.errors import log_failure
from handlers.gate import Refusal, finance_only, user_of

log = logging.getLogger(__name__)

COMMAND = "/failed-payments"
Respond = Callable[..., Awaitable[Any]]


def open_to_all(body: dict[str, Any]) -> bool:
    """``help``, and a command that does not parse (answered with help), need no permission."""
    try:
        return isinstance(parse_any(str(body.get("text") or "")), HelpCommand)
    except CommandError:
        return True


async def refuse_command(r: Refusal) -> BoltResponse:
    """Ack, then tell an outsider who may act (or why the check failed)."""
    response = await r.ack()
    if r.respond is None:
        return response
    if r.error is not None:
        log_failure(r.error, f"{COMMAND} permission check")
        await _reply(r.respond, _problem(error_text(r.error)))
    else:
        s = r.services.settings
        await _reply(r.respond, not_allowed_message(s.finance_users, s.finance_usergroup))
    return response


def register(app: AsyncApp, services: Services) -> None:
    """Register the slash command and the list's Next/Previous buttons on ``app``."""

    async def on_command(ack: Any, command: dict[str, Any], respond: Respond) -> None:
        await ack()
        await handle_command(services, command, answering(services, command, respond))

    async def on_page(
        ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        await ack()
        await handle_page(services, body, action, respond)

    command_gate = finance_only(services, refuse_command, open_to_all=open_to_all)
    page_gate = finance_only(services, refuse_command)
    app.command(COMMAND, middleware=[command_gate])(on_command)
    app.action(ActionId.LIST_NEXT.value, middleware=[page_gate])(on_page)
    app.action(ActionId.LIST_PREV.value, middleware=[page_gate])(on_page)


def answering(services: Services, command: dict[str, Any], respond: Respond) -> Respond:
    """``respond`` for this command through the process's Slack session (one connection
    pool for every answer) when it carries a ``response_url``; Bolt's otherwise."""
    url = command.get("response_url")
    if not isinstance(url, str) or not url:
        return respond

    async def send(**payload: Any) -> None:
        await answer(services, url, {k: v for k, v in payload.items() if v is not None})

    return send


async def _reply(
    respond: Respond, reply: tuple[str, list[Block]], *, replace: bool = False
) -> None:
    text, blocks = reply
    try:
        if replace:
            await respond(text=text, blocks=blocks, replace_original=True)
        else:
            await respond(
                text=text, blocks=blocks, response_type="ephemeral", replace_original=False
            )
    except ValueError:  # Bolt's respond() without a response_url in the payload
        log.warning("no response_url to answer on; reply dropped: %s", text[:80])


def _problem(text: str) -> tuple[str, list[Block]]:
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": f":warning: {text}"}}]


async def _guarded(respond: Respond, work: Callable[[], Awaitable[None]], what: str) -> None:
    """Run ``work``; any failure becomes a clear ephemeral answer instead of silence."""
    try:
        await work()
    except Exception as exc:  # noqa: BLE001 - a listener always answers; the log has details
        log_failure(exc, what)
        await _reply(respond, _problem(error_text(exc)))


async def handle_command(services: Services, command: dict[str, Any], respond: Respond) -> None:
    """Parse, dispatch and answer one ``/failed-payments`` (after the ack and the gate)."""
    user = str(command.get("user_id") or "")
    try:
        cmd = parse_any(str(command.get("text") or ""))
    except CommandError as err:
        await _reply(respond, help_message(err.message))
        return
    if isinstance(cmd, HelpCommand):
        await _reply(respond, help_message())
        return

    async def work() -> None:
        now = services.clock()
        if isinstance(cmd, ListCommand):
            res = await listing.first_page(services.store, cmd.filters, now, user=user)
            await _reply(respond, await _team_page(services, res, now))
        elif isinstance(cmd, StatsCommand):
            report = await build_stats(services, cmd.window_days, now)
            await _reply(respond, stats_message(report, now=now))
        elif isinstance(cmd, ShowCommand):
            await _show(services, cmd.target, respond)
        elif isinstance(cmd, RecheckCommand):
            await _recheck(services, respond)
        elif isinstance(cmd, TEAM_COMMANDS):
            await _reply(respond, await run_team_command(services, cmd, user))

    await _guarded(respond, work, f"/failed-payments {type(cmd).__name__}")


async def _team_page(
    services: Services, res: listing.ListResult, now: Any
) -> tuple[str, list[Block]]:
    """A list page with each row's owner and snooze, and the snoozed failures apart."""
    notes, snoozed = await list_additions(services, res.rows, res.filters)
    text, blocks = _render_page(res, now, notes)
    return text, [*blocks, *snoozed][:MAX_BLOCKS]


def _render_page(
    res: listing.ListResult, now: Any, notes: dict[str, str] | None = None
) -> tuple[str, list[Block]]:
    return list_page(
        res.rows,
        page=res.page,
        pages=res.pages,
        total=res.total,
        total_amount=res.total_amount,
        filters=res.filters.describe(),
        now=now,
        paging_token=res.token,
        notes=notes,
    )


async def _show(services: Services, target: str, respond: Respond) -> None:
    store = services.store
    pid = await store.find_by_reference(target)
    rec = await store.get_failure(pid or target)
    if rec is None:
        shown = target.replace("`", "'")[:100]
        await _reply(
            respond,
            _problem(
                f"No failed payment has the reference or payment id `{shown}`. "
                "`/failed-payments` lists the open ones."
            ),
        )
        return
    team = await services.store.team_view(rec.payment_id)
    await _reply(respond, failure_message(rec, team=team))


async def _recheck(services: Services, respond: Respond) -> None:
    from bot.poll.cycle import poll_once

    await respond(
        text=":hourglass_flowing_sand: Checking ConnectBooster now…",
        response_type="ephemeral",
        replace_original=False,
    )
    report = await poll_once(services)
    new, resolved = list(report.new), list(report.resolved)
    refs = await _references(services, [*new[:MAX_REFS], *resolved[:MAX_REFS]])
    await _reply(
        respond,
        recheck_message(
            new=[refs.get(p, p) for p in new[:MAX_REFS]],
            resolved=[refs.get(p, p) for p in resolved[:MAX_REFS]],
            new_count=len(new),
            resolved_count=len(resolved),
            still_open=report.still_open,
            skipped=report.skipped,
            now=services.clock(),
        ),
    )


async def _references(services: Services, payment_ids: list[str]) -> dict[str, str]:
    """Payment id -> CB reference, for the ids that have a record."""
    recs = await services.store.get_failures(payment_ids)
    return {r.payment_id: r.payment.reference for r in recs}


async def handle_page(
    services: Services, body: dict[str, Any], action: dict[str, Any], respond: Respond
) -> None:
    """Next/Previous on a list: the requested page, replacing the ephemeral list in place."""
    user = user_of(body)

    async def work() -> None:
        try:
            token, page = decode_page_value(action.get("value"))
        except BadActionValue:
            await _reply(
                respond, _problem("That button is not one I drew; run `/failed-payments` again.")
            )
            return
        now = services.clock()
        try:
            res = await listing.page_at(services.store, token, page, now, user=user)
        except listing.PagingExpired as exc:
            await _reply(respond, _problem(str(exc)))
            return
        await _reply(respond, await _team_page(services, res, now), replace=True)

    await _guarded(respond, work, "list paging")
