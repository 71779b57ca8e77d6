"""Who may act, checked once: a Bolt listener middleware in front of every listener that
shows or changes a failure; and who sent a request, and how to answer them.

``finance_only(services, refuse)`` lets a request through (``next()``) when its sender is
in ``FINANCE_USERS`` or in the ``FINANCE_USERGROUP``. Otherwise no listener runs: ``refuse``
acks and answers the outsider, each kind of listener in its own way (an ephemeral "not
allowed" naming who may, an audit line for a button, an error under a modal's field). When
the check itself fails (Slack does not list the group, Redis does not answer) ``refuse``
answers with that error's words instead. ``open_to_all`` exempts what anyone may ask
(``/failed-payments help``).

The check runs before the listener's ack: it costs nothing for a user named in
``FINANCE_USERS`` and one Redis read for a group member (the group is cached). A refusal is
answered before Slack gets the ack (Bolt sends the middleware's response when it returns),
which only an outsider waits for.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse

from bot.runtime.services import Services
from bot.slack.messages import tell
from bot.slack.permissions import may_act

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    """A request the gate stops: its sender may not act, or (``error``) the check failed."""

    services: Services
    body: dict[str, Any]
    ack: AsyncAck
    respond: AsyncRespond | None
    error: BaseException | None = None


Refuse = Callable[[Refusal], Awaitable[BoltResponse]]
"""Acks and answers a refused request; returns the ack's response (what Slack receives)."""
OpenToAll = Callable[[dict[str, Any]], bool]
"""True for a request anyone may make (no permission needed)."""
Middleware = Callable[..., Awaitable[BoltResponse | None]]


def user_of(body: dict[str, Any]) -> str:
    """The sender's user id (an interaction's ``user.id``, a command's ``user_id``)."""
    user = body.get("user")
    return str((user.get("id") if isinstance(user, dict) else body.get("user_id")) or "")


def channel_of(body: dict[str, Any]) -> str | None:
    """The channel a request came from, if it names one."""
    channel = body.get("channel")
    container = body.get("container")
    found = (
        (channel.get("id") if isinstance(channel, dict) else None)
        or (container.get("channel_id") if isinstance(container, dict) else None)
        or body.get("channel_id")
    )
    return str(found) if found else None


async def ephemeral(
    services: Services,
    body: dict[str, Any],
    respond: AsyncRespond | None,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
) -> None:
    """Reply to the sender only, leaving the original message as it is: through the
    request's ``response_url`` when it has one, else ``chat.postEphemeral``."""
    if respond is not None and body.get("response_url"):
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
        return
    await tell(services, channel_of(body), user_of(body), text, blocks)


def finance_only(
    services: Services, refuse: Refuse, *, open_to_all: OpenToAll | None = None
) -> Middleware:
    """The listener middleware that lets only finance users through (see the module doc)."""

    async def gate(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond | None,
        next_: Callable[[], Awaitable[None]],
    ) -> BoltResponse | None:
        if open_to_all is not None and open_to_all(body):
            await next_()
            return None
        refusal = Refusal(services, body, ack, respond)
        try:
            if await may_act(services, user_of(body)):
                await next_()
                return None
        except Exception as exc:  # noqa: BLE001 - answered in plain words by ``refuse``
            refusal = Refusal(services, body, ack, respond, exc)
        try:
            return await refuse(refusal)
        except Exception:  # the answer failed: Slack still gets its ack
            log.exception("refusal not answered")
            return ack.response or await ack()

    return gate


def view_input(view: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    """A submitted modal's input ``view.state.values[block][action]``; ``{}`` when absent."""
    try:
        found = view["state"]["values"][block][action]
    except (KeyError, TypeError):
        return {}
    return found if isinstance(found, dict) else {}
