"""Who may act: FINANCE_USERS, and members of FINANCE_USERGROUP (from Slack's
``usergroups.users.list``, cached in Redis); and the listener middleware that checks it once
for every click, command and modal submission (``handlers.gate``)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
import redis.asyncio as aioredis

from bot.models import RemedyKind
from bot.slack.ids import RECREATE_TARGET_BLOCK, ViewId
from bot.slack.permissions import PermissionCheckFailed, may_act, who_may
from cb.models import SyncStatus
from tests.harness import FINANCE_USER, FINANCE_USER_2, OUTSIDER, World, world
from tests.test_commands import command, text_of
from tests.test_remedies_e2e import click, seed

GROUP_ONLY = {"finance_users": [], "finance_usergroup": "S0FINANCE"}


async def test_listed_users_and_group_members_may_act(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    overrides = {"finance_users": [FINANCE_USER], "finance_usergroup": "S0FINANCE"}
    async with world(redis_url, redis_prefix, None, bot_overrides=overrides) as w:
        s = w.services
        assert await may_act(s, FINANCE_USER)
        assert not w.slack.calls_to("usergroups.users.list")  # listed: no Slack call
        assert await may_act(s, FINANCE_USER_2)  # in the group
        assert not await may_act(s, OUTSIDER)
        assert not await may_act(s, "")
        assert len(w.slack.calls_to("usergroups.users.list")) == 1  # cached in Redis
        assert await s.store.cache_get("usergroup:S0FINANCE") == [FINANCE_USER, FINANCE_USER_2]
        # a change in the group shows once the cache expires
        w.slack.usergroups["S0FINANCE"].append(OUTSIDER)
        assert not await may_act(s, OUTSIDER)
        await s.redis.delete(s.store.key("cache", "usergroup:S0FINANCE"))
        assert await may_act(s, OUTSIDER)
        assert who_may(s) == f"<@{FINANCE_USER}> or members of <!subteam^S0FINANCE>"


async def test_slack_error_on_group_lookup_is_a_clear_refusal(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    overrides = {"finance_users": [], "finance_usergroup": "S0FINANCE"}
    async with world(redis_url, redis_prefix, None, bot_overrides=overrides) as w:
        w.slack.inject_error("usergroups.users.list", "no_such_subteam")
        with pytest.raises(PermissionCheckFailed, match="no_such_subteam"):
            await may_act(w.services, FINANCE_USER)
        assert who_may(w.services) == "members of <!subteam^S0FINANCE>"


async def test_who_may_lists_users(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    async with world(redis_url, redis_prefix, None) as w:
        assert who_may(w.services) == f"<@{FINANCE_USER}> or <@{FINANCE_USER_2}>"
        assert not await may_act(w.services, OUTSIDER)
        assert not w.slack.calls_to("usergroups.users.list")  # no group configured


async def submit_recreate(w: World, user: str) -> Any:
    """A recreate modal submission by ``user`` whose form context is long gone."""
    payload = {
        "type": "view_submission",
        "user": {"id": user},
        "team": {"id": "T0SANDBOX"},
        "api_app_id": "A0SANDBOX",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": ViewId.RECREATE_PICK.value,
            "private_metadata": "gone",
            "state": {"values": {}},
        },
    }
    resp = await w.slack.post_raw(
        w.bot.events_url, urlencode({"payload": json.dumps(payload)}).encode()
    )
    assert resp.status == 200
    answer = resp.json()
    assert answer["response_action"] == "errors"  # the form stays open
    return answer["errors"][RECREATE_TARGET_BLOCK]


async def test_the_gate_answers_a_failed_group_lookup_in_plain_words(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    """Slack failing to list the group stops a click, a command and a submission with an
    answer that says why — acked, never a 5xx — and changes nothing."""
    async with world(redis_url, redis_prefix, "all-causes", bot_overrides=GROUP_ONLY) as w:
        rec = (await seed(w, ["paid-manually"]))["paid-manually"]
        w.slack.inject_error("usergroups.users.list", "no_such_subteam")
        await click(w, rec, RemedyKind.DISMISS_SYNC, user=FINANCE_USER_2)
        await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER_2)))
        text = w.slack.ephemeral(FINANCE_USER_2)[-1].text
        assert "no_such_subteam" in text and "nothing was changed" in text.lower()
        assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.FAILED

        w.slack.inject_error("usergroups.users.list", "no_such_subteam")
        t = text_of(await command(w, "stats", user=FINANCE_USER_2))
        assert "no_such_subteam" in t and "1,001" not in t

        w.slack.inject_error("usergroups.users.list", "no_such_subteam")
        error = await submit_recreate(w, FINANCE_USER_2)
        assert "no_such_subteam" in error and "form stays open" in error
        # the group answers again: a member passes the gate (the form is merely expired)
        assert "expired" in await submit_recreate(w, FINANCE_USER_2)


async def test_the_gate_keeps_help_open_and_outsiders_out(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    async with world(redis_url, redis_prefix, "all-causes", bot_overrides=GROUP_ONLY) as w:
        assert "what I can do" in text_of(await command(w, "help", user=OUTSIDER))
        assert "what I can do" in text_of(await command(w, "nonsense!", user=OUTSIDER))
        assert not w.slack.calls_to("usergroups.users.list")  # help asks no one
        assert "may no longer act" in await submit_recreate(w, OUTSIDER)
        t = text_of(await command(w, "", user=OUTSIDER))
        assert "members of <!subteam^S0FINANCE>" in t
