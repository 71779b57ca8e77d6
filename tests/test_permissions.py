"""Who may act: FINANCE_USERS, and members of FINANCE_USERGROUP (from Slack's
``usergroups.users.list``, cached in Redis)."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from bot.slack.permissions import PermissionCheckFailed, may_act, who_may
from tests.harness import FINANCE_USER, FINANCE_USER_2, OUTSIDER, world


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
