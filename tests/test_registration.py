"""Every command in the manifest and every action and view id the builders emit reaches a
registered handler: a request no listener matches is answered 400 "nothing handles it"."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest
import yaml

from bot.slack.ids import ALL_ACTION_IDS, ALL_VIEW_IDS
from tests.conftest import ROOT
from tests.harness import FAILED_CHANNEL, OUTSIDER, World, world

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def bare(redis_url: str, redis_prefix: str) -> AsyncIterator[World]:
    async with world(redis_url, redis_prefix, scenario=None) as w:
        yield w


def _interaction(payload: dict[str, object]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


async def test_an_unregistered_action_is_refused(bare: World) -> None:
    body = _interaction(
        {
            "type": "block_actions",
            "user": {"id": OUTSIDER},
            "team": {"id": "T0SANDBOX"},
            "channel": {"id": FAILED_CHANNEL},
            "actions": [{"type": "button", "action_id": "nobody_handles_this", "block_id": "b"}],
        }
    )
    resp = await bare.slack.post_raw(bare.bot.events_url, body, content_type=FORM)
    assert resp.status == 400 and "nothing handles it" in resp.body


@pytest.mark.parametrize("action_id", sorted(ALL_ACTION_IDS))
async def test_every_action_id_has_a_handler(bare: World, action_id: str) -> None:
    body = _interaction(
        {
            "type": "block_actions",
            "user": {"id": OUTSIDER},
            "team": {"id": "T0SANDBOX"},
            "channel": {"id": FAILED_CHANNEL},
            "trigger_id": "1.2.3",
            "response_url": bare.slack.response_url_for(FAILED_CHANNEL, OUTSIDER),
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": "x"}],
        }
    )
    resp = await bare.slack.post_raw(bare.bot.events_url, body, content_type=FORM)
    assert resp.status == 200, (action_id, resp.status, resp.body)


@pytest.mark.parametrize("view_id", sorted(ALL_VIEW_IDS))
async def test_every_view_id_has_a_handler(bare: World, view_id: str) -> None:
    body = _interaction(
        {
            "type": "view_submission",
            "user": {"id": OUTSIDER},
            "team": {"id": "T0SANDBOX"},
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": view_id,
                "private_metadata": "nope",
                "state": {"values": {}},
            },
        }
    )
    resp = await bare.slack.post_raw(bare.bot.events_url, body, content_type=FORM)
    assert resp.status == 200, (view_id, resp.status, resp.body)


async def test_every_manifest_command_has_a_handler(bare: World) -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    commands = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert commands
    for command in commands:
        resp = await bare.slack.send_command(
            bare.bot.events_url, command, "help", user_id=OUTSIDER, channel_id=FAILED_CHANNEL
        )
        assert resp.status == 200, (command, resp.status, resp.body)
