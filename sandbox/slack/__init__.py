"""A local stand-in for Slack: its Web API, ``response_url`` endpoints, and a driver that
sends the bot signed slash commands and interactions as Slack would.

Tests and the demo run it on loopback and point the real clients at it, e.g.
``AsyncWebClient(token=..., base_url=sandbox.api_url)``. It answers like Slack
(``{"ok": true, ...}`` / ``{"ok": false, "error": "..."}``, HTTP 429 with ``Retry-After``
when ``chat.postMessage`` is paced faster than the per-channel rate), checks the bearer
token, validates Block Kit against Slack's main limits, records every call, and keeps the
channel messages (with threads), ephemeral messages and open views it was given. It reads
them back as Slack does: ``conversations.history`` (newest first) and
``conversations.replies`` (the parent, then its replies), paged by cursor, with message
``metadata`` when ``include_all_metadata`` is set.

It validates blocks with its own code (``validate_blocks``), independent of the bot's
builders, so a builder bug shows up as ``invalid_blocks`` as it would against Slack.

By concern:

- :mod:`~sandbox.slack.validation`: Block Kit and modal checks (Slack's limits).
- :mod:`~sandbox.slack.records`: ids, messages, views, recorded calls, ``SlackError``.
- :mod:`~sandbox.slack.workspace`: the settings and state, and reading them back.
- :mod:`~sandbox.slack.methods` and :mod:`~sandbox.slack.wire`: the Web API methods, and
  reading their arguments.
- :mod:`~sandbox.slack.web_api`: the HTTP server (``/api/<method>``, ``response_url``).
- :mod:`~sandbox.slack.driver`: signed slash commands, clicks and view submissions.
- :mod:`~sandbox.slack.socket_mode`: ``apps.connections.open`` and a Socket Mode WebSocket
  that sends the same commands, clicks and submissions as envelopes and checks each is
  acknowledged in time; ``refresh`` asks the app to reconnect.

:class:`SlackSandbox` is all of it in one object.
"""

from __future__ import annotations

from sandbox.slack.driver import SlackDriver
from sandbox.slack.records import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    PERMALINK_BASE,
    TEAM_ID,
    VERIFICATION_TOKEN,
    DriverResponse,
    EphemeralMessage,
    Message,
    OpenView,
    RecordedCall,
    SlackError,
)
from sandbox.slack.socket_mode import (
    ACK_WITHIN,
    Ack,
    Envelope,
    EnvelopeType,
    SlackSocketMode,
    SocketConnection,
)
from sandbox.slack.validation import blocks_json_size, validate_blocks, validate_view
from sandbox.slack.web_api import SlackWebApi

__all__ = [
    "ACK_WITHIN",
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "PERMALINK_BASE",
    "TEAM_ID",
    "VERIFICATION_TOKEN",
    "Ack",
    "DriverResponse",
    "Envelope",
    "EnvelopeType",
    "EphemeralMessage",
    "Message",
    "OpenView",
    "RecordedCall",
    "SlackError",
    "SlackSandbox",
    "SocketConnection",
    "blocks_json_size",
    "validate_blocks",
    "validate_view",
]


class SlackSandbox(SlackSocketMode, SlackWebApi, SlackDriver):
    """Slack's Web API, Socket Mode and interaction driver, in one process, for tests and
    the demo. ``app_token`` is the app-level token ``apps.connections.open`` takes.

    ``clock`` returns epoch seconds (``time.time`` by default); it paces the rate limiter,
    stamps message ``ts``, expires trigger ids and response URLs, and dates signatures.
    """

    async def stop(self) -> None:
        """Stop serving and close the driver's HTTP session."""
        await self.close()
        await self.stop_serving()
