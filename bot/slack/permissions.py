"""Who may act on failed payments: the users named in ``FINANCE_USERS`` and the members of
the Slack user group ``FINANCE_USERGROUP``.

The group's members come from Slack's ``usergroups.users.list`` and are cached in Redis for
``MEMBERS_TTL`` seconds, so a click costs one Redis read, and a change in the group shows
within a minute.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.errors import ExplainedError, slack_error_code
from bot.runtime.services import Services

log = logging.getLogger(__name__)

MEMBERS_TTL = 60.0
"""Seconds a user group's member list is kept in Redis."""


class PermissionCheckFailed(ExplainedError):
    """Slack did not tell us who is in the finance user group; nothing was changed."""


def _cache_name(group: str) -> str:
    return f"usergroup:{group}"


async def usergroup_members(services: Services, group: str) -> frozenset[str]:
    """The user ids in Slack user group ``group`` (from the Redis cache when fresh).

    Raises ``PermissionCheckFailed`` when Slack answers with an error."""
    cached = await services.store.cache_get(_cache_name(group))
    if isinstance(cached, list):
        return frozenset(str(u) for u in cached)
    try:
        resp = await services.slack.usergroups_users_list(usergroup=group)
    except SlackApiError as exc:
        error = slack_error_code(exc)
        log.warning("usergroups.users.list %s failed: %s", group, error)
        raise PermissionCheckFailed(
            f"Slack did not list the members of the finance group ({error}); "
            "nothing was changed — try again in a minute"
        ) from exc
    users = [str(u) for u in (resp.get("users") or [])]
    await services.store.cache_put(_cache_name(group), users, ttl=MEMBERS_TTL)
    return frozenset(users)


async def may_act(services: Services, user_id: str) -> bool:
    """True when ``user_id`` is in ``FINANCE_USERS`` or in the ``FINANCE_USERGROUP``."""
    settings = services.settings
    if not user_id:
        return False
    if user_id in settings.finance_users:
        return True
    if not settings.finance_usergroup:
        return False
    return user_id in await usergroup_members(services, settings.finance_usergroup)


def who_may(services: Services) -> str:
    """Who may act, in mrkdwn: ``"<@U1>, <@U2> or members of <!subteam^S1>"``."""
    names = [f"<@{u}>" for u in services.settings.finance_users]
    if services.settings.finance_usergroup:
        names.append(f"members of <!subteam^{services.settings.finance_usergroup}>")
    if not names:
        return "nobody yet (ask an admin to set FINANCE_USERS or FINANCE_USERGROUP)"
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} or {names[-1]}"
