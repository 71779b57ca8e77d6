"""Who can read the amounts the bot posts: ``check``'s lines about its two channels.

Every message the bot posts in ``FAILED_PAYMENTS_CHANNEL`` (a failure, with its amount and
customer) and in ``ALERT_CHANNEL`` (failure rates) is visible to every member of that
channel and, in a public channel, to anyone in the workspace who opens it. Only the finance
people (``FINANCE_USERS`` and the members of ``FINANCE_USERGROUP``) may act, but reading is
Slack's business: the channel's privacy and members decide it.

For each channel, ``check`` asks Slack (``conversations.info``: ``is_private``;
``conversations.members``) and prints one line:

- ``OK``   private, and every member is finance (or the bot itself);
- ``WARN`` private, but some members are outside finance (they are named), or public;
- ``WARN`` Slack would not say (``missing_scope``: the app needs ``channels:read`` and
  ``groups:read``);
- ``FAIL`` the bot cannot see the channel at all (``channel_not_found``: a wrong id, or a
  private channel the bot was not invited to).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import slack_error_code
from bot.runtime.services import Services
from bot.slack.permissions import PermissionCheckFailed, usergroup_members

NAMED = 10
"""Members outside finance named on a line at most (the rest are counted)."""
MEMBER_PAGES = 50
"""Pages of ``conversations.members`` read at most (1000 members a page)."""
SCOPES = "channels:read and groups:read"


class Level(StrEnum):
    """How a line reads in ``check``'s output."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Audience:
    """Who can read one channel: whether it is ``private`` and its members outside finance
    (``None``: Slack did not say, ``error`` says why)."""

    setting: str
    channel: str
    private: bool | None = None
    members: int = 0
    outsiders: list[str] = field(default_factory=list)
    error: str | None = None


async def finance_people(services: Services) -> tuple[frozenset[str], str | None]:
    """``FINANCE_USERS`` and the ``FINANCE_USERGROUP`` members; and why the group could not
    be listed, if it could not."""
    users = set(services.settings.finance_users)
    group = services.settings.finance_usergroup
    if not group:
        return frozenset(users), None
    try:
        users |= await usergroup_members(services, group)
    except PermissionCheckFailed as exc:
        cause = exc.__cause__
        return frozenset(users), (
            slack_error_code(cause) if isinstance(cause, SlackApiError) else str(exc)
        )
    return frozenset(users), None


async def channel_members(slack: AsyncWebClient, channel: str) -> AsyncIterator[str]:
    """Every member id of ``channel``, page after page."""
    cursor: str | None = None
    for _ in range(MEMBER_PAGES):
        resp = await slack.conversations_members(channel=channel, cursor=cursor, limit=1000)
        for user in resp.get("members") or []:
            yield str(user)
        cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return


async def audience(
    services: Services, setting: str, channel: str, finance: frozenset[str], bot_user: str
) -> Audience:
    """Who can read ``channel`` (the value of ``setting``)."""
    try:
        info = await services.slack.conversations_info(channel=channel)
        private = bool((info.get("channel") or {}).get("is_private"))
        members = [u async for u in channel_members(services.slack, channel)]
    except SlackApiError as exc:
        return Audience(setting, channel, error=slack_error_code(exc))
    outsiders = [u for u in members if u not in finance and u != bot_user]
    return Audience(setting, channel, private, len(members), outsiders)


def describe(a: Audience) -> tuple[Level, str]:
    """``check``'s line about one channel (see the module docstring)."""
    where = f"{a.setting} {a.channel}"
    if a.error == "channel_not_found":
        return Level.FAIL, (
            f"{where}: the bot cannot see this channel (channel_not_found): "
            "check the id, and invite the bot to a private channel"
        )
    if a.error is not None:
        why = f"the Slack app needs {SCOPES}" if a.error == "missing_scope" else a.error
        return Level.WARN, f"{where}: cannot tell who reads the amounts posted there ({why})"
    named = ", ".join(a.outsiders[:NAMED])
    more = len(a.outsiders) - NAMED
    names = named + (f" and {more} more" if more > 0 else "")
    outside = (
        f"{len(a.outsiders)} member(s) outside finance read every amount posted there: {names}"
    )
    if not a.private:
        tail = f"; {outside}" if a.outsiders else ""
        return Level.WARN, (
            f"{where}: public: anyone in the workspace can open it and read the amounts{tail}"
        )
    if a.outsiders:
        return Level.WARN, f"{where}: private, but {outside}"
    return Level.OK, (
        f"{where}: private; its {a.members} member(s) are finance (or the bot): "
        "only they read the amounts"
    )


async def audience_lines(services: Services) -> list[tuple[Level, str]]:
    """One line per channel the bot posts amounts to, and one when the finance group could
    not be listed."""
    settings = services.settings
    finance, group_error = await finance_people(services)
    try:
        bot_user = str((await services.slack.auth_test()).get("user_id") or "")
    except SlackApiError:
        bot_user = ""
    lines: list[tuple[Level, str]] = []
    if group_error is not None:
        lines.append(
            (
                Level.WARN,
                f"FINANCE_USERGROUP {settings.finance_usergroup}: not "
                f"listed ({group_error}); counting FINANCE_USERS only",
            )
        )
    channels = [
        ("FAILED_PAYMENTS_CHANNEL", settings.failed_payments_channel),
        ("ALERT_CHANNEL", settings.alert_channel),
    ]
    for setting, channel in channels:
        lines.append(describe(await audience(services, setting, channel, finance, bot_user)))
    return lines


__all__ = [
    "Audience",
    "Level",
    "audience",
    "audience_lines",
    "channel_members",
    "describe",
    "finance_people",
]
