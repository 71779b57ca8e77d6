"""The Slack stand-in's driver: requests to the bot, signed as Slack signs them.

It sends slash commands (form-encoded), button clicks (``block_actions``) and modal
submissions (``view_submission``) to the bot's ``/slack/events``, each with what Slack
attaches (a fresh ``response_url`` and ``trigger_id``, the message clicked, the view's
state), signed with v0 HMAC-SHA256 of ``v0:{timestamp}:{body}``. ``forge`` breaks the
signature and ``age_seconds`` back-dates it, for tests of the bot's request checks.

What a user did is built apart from how it travels: ``command_interaction``,
``click_interaction`` and ``submission_interaction`` make the payloads (an
:class:`Interaction`), which the methods here POST signed, and which
:mod:`sandbox.slack.socket_mode` sends as Socket Mode envelopes instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from sandbox.slack.records import (
    APP_ID,
    TEAM_ID,
    VERIFICATION_TOKEN,
    DriverResponse,
    EphemeralMessage,
    Json,
    Message,
    OpenView,
    action_elements,
    view_payload,
)
from sandbox.slack.workspace import SlackWorkspace


@dataclass
class Interaction:
    """One thing a user did, as Slack describes it to the app: the ``payload`` (a slash
    command's fields, or a ``block_actions`` / ``view_submission`` object), the
    ``response_url`` and ``trigger_id`` minted for it, and the modal submitted (if any)."""

    payload: Json
    response_url: str | None = None
    trigger_id: str | None = None
    view: OpenView | None = None


class SlackDriver(SlackWorkspace):
    """The workspace, sending the bot what its users do (see the module docstring)."""

    _session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the driver's HTTP session (serving is left to whoever runs the app)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def sign(
        self, body: bytes, timestamp: int | None = None, *, forge: bool = False
    ) -> dict[str, str]:
        """``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` headers for ``body``
        (v0 HMAC-SHA256 of ``v0:{timestamp}:{body}``). ``forge=True`` signs with a wrong
        secret."""
        ts = int(self.clock()) if timestamp is None else timestamp
        secret = ("forged-" + self.signing_secret) if forge else self.signing_secret
        base = b"v0:" + str(ts).encode() + b":" + body
        digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}

    async def post_raw(
        self,
        bot_url: str,
        body: bytes,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        forge: bool = False,
        age_seconds: float = 0,
        signed: bool = True,
    ) -> DriverResponse:
        """POST ``body`` to the bot as Slack would (signed unless ``signed=False``;
        ``age_seconds`` back-dates the timestamp, ``forge`` breaks the signature)."""
        headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+sandbox)"}
        if signed:
            headers.update(self.sign(body, int(self.clock() - age_seconds), forge=forge))
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.post(bot_url, data=body, headers=headers) as resp:
            text = await resp.text()
            return DriverResponse(resp.status, text, dict(resp.headers))

    async def open_home(self, bot_url: str, *, user_id: str, tab: str = "home") -> DriverResponse:
        """``user_id`` opens the app's Home tab: an ``app_home_opened`` event, in the Events
        API's JSON envelope, signed."""
        event_id = f"Ev{uuid.uuid4().hex[:10].upper()}"
        envelope: Json = {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(self.clock()),
            "event": {
                "type": "app_home_opened",
                "user": user_id,
                "channel": f"D{user_id[1:]}",
                "tab": tab,
                "event_ts": f"{self.clock():.6f}",
            },
        }
        body = json.dumps(envelope).encode()
        return await self.post_raw(bot_url, body, content_type="application/json")

    async def home_click(
        self, bot_url: str, *, user_id: str, action_id: str, value: str | None = None
    ) -> DriverResponse:
        """Click a button on ``user_id``'s published Home tab (``views.publish``): a
        ``block_actions`` payload whose container is the view (no channel, no message, no
        ``response_url``), with a fresh ``trigger_id``. ``LookupError`` when the Home shows
        no such button."""
        view = self.home_views.get(user_id) or {}
        found = next(
            (
                (bid, el)
                for bid, el in action_elements(view.get("blocks") or [])
                if el.get("action_id") == action_id and (value is None or el.get("value") == value)
            ),
            None,
        )
        if found is None:
            raise LookupError(f"the Home tab of {user_id} shows no button {action_id!r}")
        block_id, el = found
        trigger_id = self.mint_trigger_id()
        view_id = f"VH{user_id}"
        payload: Json = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {"type": "view", "view_id": view_id},
            "trigger_id": trigger_id,
            "team": {"id": TEAM_ID, "domain": "sandbox"},
            "view": {"id": view_id, "type": "home", **view},
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block_id or "",
                    "value": el.get("value", ""),
                    "action_ts": f"{self.clock():.6f}",
                }
            ],
        }
        resp = await self._send_payload(bot_url, payload)
        resp.trigger_id = trigger_id
        return resp

    async def send_command(
        self,
        bot_url: str,
        command: str,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        forge: bool = False,
        age_seconds: float = 0,
    ) -> DriverResponse:
        """A slash command, form-encoded as Slack sends it, with a fresh ``response_url``
        and ``trigger_id`` (returned on the response for the test to follow)."""
        done = self.command_interaction(command, text, user_id=user_id, channel_id=channel_id)
        resp = await self.post_raw(
            bot_url, urlencode(done.payload).encode(), forge=forge, age_seconds=age_seconds
        )
        resp.response_url, resp.trigger_id = done.response_url, done.trigger_id
        return resp

    def command_interaction(
        self, command: str, text: str, *, user_id: str, channel_id: str
    ) -> Interaction:
        """A slash command's fields as Slack sends them, with a fresh ``response_url`` and
        ``trigger_id``."""
        response_url = self.response_url_for(channel_id, user_id)
        trigger_id = self.mint_trigger_id()
        form = {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "team_domain": "sandbox",
            "channel_id": channel_id,
            "channel_name": f"sandbox-{channel_id.lower()}",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        return Interaction(form, response_url, trigger_id)

    async def click(
        self,
        bot_url: str,
        *,
        message_ts: str,
        channel: str,
        action_id: str,
        value: str | None = None,
        user_id: str,
        strict: bool = True,
        forge: bool = False,
        age_seconds: float = 0,
    ) -> DriverResponse:
        """Click a button on a stored message (see :meth:`click_interaction`) and POST the
        ``block_actions`` payload to the bot."""
        done = self.click_interaction(
            message_ts=message_ts,
            channel=channel,
            action_id=action_id,
            value=value,
            user_id=user_id,
            strict=strict,
        )
        resp = await self._send_payload(bot_url, done.payload, forge=forge, age_seconds=age_seconds)
        resp.response_url, resp.trigger_id = done.response_url, done.trigger_id
        return resp

    def click_interaction(
        self,
        *,
        message_ts: str,
        channel: str,
        action_id: str,
        value: str | None = None,
        user_id: str,
        strict: bool = True,
    ) -> Interaction:
        """A click on a button of a stored message (channel message or ephemeral) by
        ``user_id``: a ``block_actions`` payload with the message, ``container``,
        ``channel``, a fresh ``response_url`` and ``trigger_id``. The button is looked up by
        ``action_id`` (and ``value`` if given); ``strict=False`` clicks it even if the
        message no longer shows it (a stale client), using ``value``."""
        msg, eph = self._clicked_message(channel, message_ts)
        block_id, el = self._button(msg or eph, action_id, value, strict=strict)
        action: Json = {
            "type": el.get("type", "button"),
            "action_id": action_id,
            "block_id": block_id or uuid.uuid4().hex[:5],
            "action_ts": f"{self.clock():.6f}",
        }
        if "text" in el:
            action["text"] = el["text"]
        if el.get("type") == "button":
            action["value"] = el.get("value") if value is None else value
        if "style" in el:
            action["style"] = el["style"]
        response_url = self.response_url_for(channel, user_id, message_ts)
        trigger_id = self.mint_trigger_id()
        payload: Json = {
            "type": "block_actions",
            "user": {
                "id": user_id,
                "username": user_id.lower(),
                "name": user_id.lower(),
                "team_id": TEAM_ID,
            },
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": eph is not None,
            },
            "trigger_id": trigger_id,
            "team": {"id": TEAM_ID, "domain": "sandbox"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": f"sandbox-{channel.lower()}"},
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        }
        if msg is not None:
            payload["message"] = msg.to_slack()
        return Interaction(payload, response_url, trigger_id)

    def _clicked_message(
        self, channel: str, message_ts: str
    ) -> tuple[Message | None, EphemeralMessage | None]:
        """The channel message ``message_ts``, else the ephemeral one; ``LookupError``
        when neither is there."""
        msg = self.message(channel, message_ts)
        if msg is not None:
            return msg, None
        eph = next(
            (e for e in self.ephemerals if e.ts == message_ts and e.channel == channel), None
        )
        if eph is None:
            raise LookupError(f"no message {message_ts} in {channel}")
        return None, eph

    @staticmethod
    def _button(
        shown: Message | EphemeralMessage | None,
        action_id: str,
        value: str | None,
        *,
        strict: bool,
    ) -> tuple[str | None, Json]:
        """``(block_id, element)`` of the button ``action_id`` (with ``value`` if given) on
        ``shown``; a bare button when it is not there and ``strict`` is off."""
        elements = shown.action_elements() if shown is not None else []
        found = next(
            (
                (bid, el)
                for bid, el in elements
                if el.get("action_id") == action_id and (value is None or el.get("value") == value)
            ),
            None,
        )
        if found is not None:
            return found
        if strict:
            ts = shown.ts if shown is not None else "?"
            raise LookupError(f"message {ts} shows no button {action_id!r}")
        return None, {"type": "button", "action_id": action_id, "value": value or ""}

    async def submit_view(
        self,
        bot_url: str,
        view_id: str,
        values: dict[str, dict[str, Any]],
        user_id: str,
        *,
        forge: bool = False,
    ) -> DriverResponse:
        """Submit an open modal as ``user_id`` (see :meth:`submission_interaction`). A bot
        answer of ``{"response_action": "update"}`` replaces the view; an empty 200 closes
        it."""
        done = self.submission_interaction(view_id, values, user_id)
        resp = await self._send_payload(bot_url, done.payload, forge=forge)
        if resp.status == 200 and done.view is not None:
            answer: Any = None
            if resp.body.strip():
                try:
                    answer = json.loads(resp.body)
                except ValueError:
                    answer = None
            self.take_view_answer(done.view, answer)
        return resp

    def submission_interaction(
        self, view_id: str, values: dict[str, dict[str, Any]], user_id: str
    ) -> Interaction:
        """A ``view_submission`` of the open modal ``view_id`` by ``user_id``. ``values``
        maps block_id → action_id → the chosen value (a string, turned into the element's
        state shape: ``selected_option`` for selects, ``value`` for text inputs) or a ready
        state dict."""
        opened = self.views.get(view_id)
        if opened is None or opened.closed:
            raise LookupError(f"no open view {view_id}")
        state = {
            bid: {aid: self._state_of(opened.view, bid, aid, v) for aid, v in per.items()}
            for bid, per in values.items()
        }
        view = {**view_payload(opened), "state": {"values": state}}
        payload: Json = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "sandbox"},
            "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self.mint_trigger_id(),
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
        }
        return Interaction(payload, view=opened)

    @staticmethod
    def take_view_answer(opened: OpenView, answer: Any) -> None:
        """What Slack does with the app's answer to a submission: ``response_action``
        ``update`` replaces the view, ``errors`` keeps it open, anything else closes it."""
        action = answer.get("response_action") if isinstance(answer, dict) else None
        if action == "update" and isinstance(answer.get("view"), dict):
            opened.view = answer["view"]
            opened.hash = uuid.uuid4().hex
        elif action != "errors":
            opened.closed = True

    @staticmethod
    def _state_of(view: Json, block_id: str, action_id: str, value: Any) -> Json:
        if isinstance(value, dict):
            return value
        element: Json = {}
        for b in view.get("blocks", []):
            if b.get("block_id") == block_id and isinstance(b.get("element"), dict):
                element = b["element"]
        kind = element.get("type", "plain_text_input")
        if kind == "datepicker":
            return {"type": kind, "selected_date": value}
        if kind == "users_select":
            return {"type": kind, "selected_user": value}
        if kind in ("static_select", "radio_buttons"):
            option = next(
                (o for o in element.get("options", []) if o.get("value") == value),
                {"text": {"type": "plain_text", "text": str(value)}, "value": str(value)},
            )
            return {"type": kind, "selected_option": option}
        return {"type": kind, "value": value}

    async def _send_payload(
        self, bot_url: str, payload: Json, *, forge: bool = False, age_seconds: float = 0
    ) -> DriverResponse:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post_raw(bot_url, body, forge=forge, age_seconds=age_seconds)
