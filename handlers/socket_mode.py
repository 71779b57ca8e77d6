"""Socket Mode: how Slack's requests reach the listeners when ``SLACK_APP_TOKEN`` is set.

Bolt's :class:`AsyncSocketModeHandler` opens a WebSocket to the URL ``apps.connections.open``
answers for the app-level token, takes each envelope (a slash command, a click, a modal
submission) to the same listeners as HTTP mode, and sends each acknowledgement back on the
socket. Its ``apps.connections.open`` goes through the bot's own web client
(``services.slack``), so it asks ``SLACK_API_URL`` as every other Slack call does (the
local stand-in in tests). :func:`connect_socket_mode` asks for the first URL itself: a token
Slack refuses stops the start with a clear message (the SDK alone would retry it forever),
while Slack out of reach or failing (HTTP 5xx) is retried. On a ``disconnect``
(``refresh_requested``) the SDK opens a new connection by itself.
"""

from __future__ import annotations

import logging

import aiohttp
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.errors import slack_error_code, slack_http_status
from bot.runtime.services import Services

log = logging.getLogger(__name__)


class SocketModeRefused(Exception):
    """Slack refused to open a Socket Mode connection; the message says what to check."""


def socket_mode_handler(
    bolt: AsyncApp, services: Services, *, ping_interval: float = 10.0
) -> AsyncSocketModeHandler:
    """The Socket Mode handler for ``bolt``, with ``SLACK_APP_TOKEN`` and the bot's web
    client (not connected yet: see :func:`connect_socket_mode`)."""
    token = services.settings.slack_app_token
    if token is None:
        raise SocketModeRefused(
            "SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-…)"
        )
    return AsyncSocketModeHandler(
        bolt, token.get_secret_value(), web_client=services.slack, ping_interval=ping_interval
    )


async def connect_socket_mode(handler: AsyncSocketModeHandler) -> None:
    """Open the connection; :class:`SocketModeRefused` when Slack refuses the token."""
    try:
        handler.client.wss_uri = await handler.client.issue_new_wss_url()
    except SlackApiError as exc:
        error = slack_error_code(exc)  # robust to bodies that are not JSON
        status = slack_http_status(exc)
        if status is None or status >= 500:  # Slack's trouble, not the token's: retried
            log.warning(
                "Slack could not open a Socket Mode connection (HTTP %s, %s); retrying",
                status or "-",
                error,
            )
            handler.client.wss_uri = None
            await handler.connect_async()
            return
        raise SocketModeRefused(
            f"Slack refused to open a Socket Mode connection ({error}): "
            "check SLACK_APP_TOKEN (an app-level token, xapp-…, with connections:write) "
            "and that Socket Mode is on in the Slack app"
        ) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning(
            "Slack is out of reach (%s); retrying the Socket Mode connection", type(exc).__name__
        )
    await handler.connect_async()
