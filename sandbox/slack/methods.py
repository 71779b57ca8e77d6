"""The Web API methods the Slack stand-in answers, one function each over its workspace.

Each takes the workspace and the call's arguments and returns the answer's fields (the
``{"ok": true}`` is added by the server) or raises :class:`SlackError`. They check what
Slack checks: the channel, text and blocks (:mod:`sandbox.slack.validation`), the pacing of
``chat.postMessage``, trigger ids for ``views.open``, view hashes for ``views.update``.
:data:`METHODS` maps each method name to its function.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from urllib.parse import urlencode

from sandbox.slack.records import (
    BOT_ID,
    BOT_USER_ID,
    MAX_BLOCKS_JSON,
    MAX_MESSAGE_TEXT,
    PERMALINK_BASE,
    TEAM_ID,
    EphemeralMessage,
    Json,
    Message,
    OpenView,
    SlackError,
    is_reply,
    view_payload,
)
from sandbox.slack.validation import blocks_json_size, validate_blocks, validate_view
from sandbox.slack.wire import (
    decode_cursor,
    encode_cursor,
    in_window,
    listed,
    page_limit,
    time_window,
    truthy,
)
from sandbox.slack.workspace import SlackWorkspace

Method = Callable[[SlackWorkspace, Json], Json]

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]+$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")


# ---- arguments every method checks the same way ----


def channel_arg(ws: SlackWorkspace, args: Json, key: str = "channel") -> str:
    """The channel named by ``args[key]``: one of the workspace's known channels (or any
    well-formed id when it names none); ``channel_not_found`` otherwise."""
    channel = args.get(key)
    if not isinstance(channel, str) or not channel:
        raise SlackError("channel_not_found")
    if ws.known_channels is not None:
        if channel not in ws.known_channels:
            raise SlackError("channel_not_found")
    elif not _CHANNEL_ID.match(channel):
        raise SlackError("channel_not_found")
    return channel


def content_args(args: Json, *, required: bool = True) -> tuple[str, list[Json] | None]:
    """``text`` and ``blocks`` of a message, checked against Slack's limits."""
    text = args.get("text")
    blocks = args.get("blocks")
    if text is not None and not isinstance(text, str):
        raise SlackError("invalid_arguments")
    if blocks is not None:
        if isinstance(blocks, list) and not blocks:
            blocks = None
        else:
            problems = validate_blocks(blocks)
            if problems:
                raise SlackError("invalid_blocks", extra={"messages": problems})
            if blocks_json_size(blocks) > MAX_BLOCKS_JSON:
                raise SlackError("msg_blocks_too_long")
    if required and not text and not blocks:
        raise SlackError("no_text")
    if text and len(text) > MAX_MESSAGE_TEXT:
        raise SlackError("msg_too_long")
    return text or "", blocks


def _existing(ws: SlackWorkspace, channel: str, ts: str) -> Message:
    msg = ws.message(channel, ts)
    if msg is None:
        raise SlackError("message_not_found")
    return msg


# ---- auth and chat.* ----


def api_test(ws: SlackWorkspace, args: Json) -> Json:
    """``api.test``: the arguments, echoed."""
    return {"args": args}


def auth_test(ws: SlackWorkspace, args: Json) -> Json:
    """``auth.test``: the bot user and team."""
    return {
        "url": f"{PERMALINK_BASE}/",
        "team": "Sandbox",
        "user": "failed-payments",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def post_message(ws: SlackWorkspace, args: Json) -> Json:
    """``chat.postMessage``: a message (or thread reply), paced per channel."""
    channel = channel_arg(ws, args)
    text, blocks = content_args(args)
    ws.take_token(channel)
    thread_ts = args.get("thread_ts") or None
    msg = Message(
        channel=channel,
        ts=ws.new_ts(),
        text=text,
        blocks=blocks or [],
        thread_ts=str(thread_ts) if thread_ts else None,
        metadata=args.get("metadata") if isinstance(args.get("metadata"), dict) else None,
    )
    if msg.thread_ts:
        parent = ws.message(channel, msg.thread_ts)
        if parent is not None:
            parent.reply_count += 1
            parent.thread_ts = parent.ts
    ws.add_message(msg)
    return {"channel": channel, "ts": msg.ts, "message": msg.to_slack()}


def update(ws: SlackWorkspace, args: Json) -> Json:
    """``chat.update``: the bot's own message rewritten (its versions kept)."""
    channel = channel_arg(ws, args)
    ts = str(args.get("ts") or "")
    msg = _existing(ws, channel, ts)
    if msg.user != BOT_USER_ID:
        raise SlackError("cant_update_message")
    text, blocks = content_args(args)
    msg.versions.append((msg.text, msg.blocks))
    msg.text = text
    if blocks is not None or "blocks" in args:
        msg.blocks = blocks or []
    msg.edited_ts = ws.new_ts()
    return {"channel": channel, "ts": ts, "text": msg.text, "message": msg.to_slack()}


def delete(ws: SlackWorkspace, args: Json) -> Json:
    """``chat.delete``: the message removed."""
    channel = channel_arg(ws, args)
    ts = str(args.get("ts") or "")
    ws.remove_message(_existing(ws, channel, ts))
    return {"channel": channel, "ts": ts}


def post_ephemeral(ws: SlackWorkspace, args: Json) -> Json:
    """``chat.postEphemeral``: a message only ``user`` sees."""
    channel = channel_arg(ws, args)
    user = args.get("user")
    if not isinstance(user, str) or not _USER_ID.match(user):
        raise SlackError("user_not_found")
    text, blocks = content_args(args)
    ts = ws.new_ts()
    ws.ephemerals.append(EphemeralMessage(channel, user, ts, text, blocks or []))
    return {"message_ts": ts}


def get_permalink(ws: SlackWorkspace, args: Json) -> Json:
    """``chat.getPermalink``: a link to the message (a reply's names its thread)."""
    channel = channel_arg(ws, args)
    ts = str(args.get("message_ts") or "")
    msg = _existing(ws, channel, ts)
    link = f"{PERMALINK_BASE}/archives/{channel}/p{ts.replace('.', '')}"
    if is_reply(msg):
        link += "?" + urlencode({"thread_ts": msg.thread_ts, "cid": channel})
    return {"channel": channel, "permalink": link}


# ---- conversations.* ----


def conversations_info(ws: SlackWorkspace, args: Json) -> Json:
    """``conversations.info``: the channel, as a member sees it."""
    channel = channel_arg(ws, args)
    return {
        "channel": {
            "id": channel,
            "name": f"sandbox-{channel.lower()}",
            "is_channel": channel.startswith("C"),
            "is_private": channel.startswith("G") or channel in ws.private_channels,
            "is_im": channel.startswith("D"),
            "is_member": True,
            "is_archived": False,
        }
    }


def conversations_members(ws: SlackWorkspace, args: Json) -> Json:
    """``conversations.members``: the channel's member ids (``ws.channel_members``; the bot
    alone when none were set), ``limit`` a page (default 100, at most 1000), by ``cursor``."""
    channel = channel_arg(ws, args)
    members = ws.channel_members.get(channel, [BOT_USER_ID])
    limit = page_limit(args, default=100, most=1000)
    start = int(decode_cursor(args.get("cursor")) or 0)
    end = start + limit
    return {
        "members": list(members[start:end]),
        "response_metadata": {"next_cursor": encode_cursor(str(end)) if end < len(members) else ""},
    }


def conversations_history(ws: SlackWorkspace, args: Json) -> Json:
    """Top-level messages, newest first, within ``oldest``..``latest`` (exclusive unless
    ``inclusive``), ``limit`` a page (default 100, at most 999), paged by ``cursor``;
    message ``metadata`` only with ``include_all_metadata``."""
    channel = channel_arg(ws, args)
    oldest, latest, inclusive = time_window(args)
    limit = page_limit(args, default=100, most=999)
    before = decode_cursor(args.get("cursor"))
    rows = [
        m
        for m in reversed(ws.messages(channel))
        if in_window(m.ts, oldest, latest, inclusive) and (before is None or float(m.ts) < before)
    ]
    page, more = rows[:limit], len(rows) > limit
    meta = truthy(args.get("include_all_metadata"))
    return {
        "messages": [listed(m, meta) for m in page],
        "has_more": more,
        "pin_count": 0,
        "response_metadata": {"next_cursor": encode_cursor(page[-1].ts) if more else ""},
    }


def conversations_replies(ws: SlackWorkspace, args: Json) -> Json:
    """A thread: its parent first, then its replies oldest first within
    ``oldest``..``latest``, ``limit`` a page (default 1000), paged by ``cursor`` (the
    parent heads every page, as Slack sends it); ``ts`` may name the parent or a reply.
    ``thread_not_found`` when no such message is in the channel."""
    channel = channel_arg(ws, args)
    ts = str(args.get("ts") or "")
    msg = ws.message(channel, ts) if ts else None
    if msg is None:
        raise SlackError("thread_not_found")
    parent = msg
    if is_reply(msg) and msg.thread_ts is not None:
        parent = ws.message(channel, msg.thread_ts) or msg  # or: its parent was deleted
    oldest, latest, inclusive = time_window(args)
    limit = page_limit(args, default=1000, most=1000)
    after = decode_cursor(args.get("cursor"))
    rows = [
        m
        for m in ws.thread(channel, parent.ts)
        if in_window(m.ts, oldest, latest, inclusive) and (after is None or float(m.ts) > after)
    ]
    page, more = rows[:limit], len(rows) > limit
    meta = truthy(args.get("include_all_metadata"))
    return {
        "messages": [listed(parent, meta)] + [listed(m, meta) for m in page],
        "has_more": more,
        "response_metadata": {"next_cursor": encode_cursor(page[-1].ts) if more else ""},
    }


# ---- users ----


def usergroup_users(ws: SlackWorkspace, args: Json) -> Json:
    """``usergroups.users.list``: the members of a user group."""
    group = args.get("usergroup")
    if not isinstance(group, str) or group not in ws.usergroups:
        raise SlackError("no_such_subteam")
    return {"users": list(ws.usergroups[group])}


def users_info(ws: SlackWorkspace, args: Json) -> Json:
    """``users.info``: the user (made up for any well-formed id)."""
    user = args.get("user")
    if not isinstance(user, str):
        raise SlackError("user_not_found")
    if user not in ws.users:
        if not _USER_ID.match(user):
            raise SlackError("user_not_found")
        ws.users[user] = {
            "id": user,
            "team_id": TEAM_ID,
            "name": user.lower(),
            "real_name": f"User {user}",
            "tz": "UTC",
            "deleted": False,
            "is_bot": False,
            "profile": {"real_name": f"User {user}", "display_name": user.lower()},
        }
    return {"user": ws.users[user]}


# ---- views.* ----


def _checked_view(args: Json) -> Json:
    view = args.get("view")
    problems = validate_view(view)
    if problems:
        raise SlackError("invalid_arguments", extra={"messages": problems})
    assert isinstance(view, dict)
    return view


def views_open(ws: SlackWorkspace, args: Json) -> Json:
    """``views.open``: a modal, for a trigger id minted less than 3 s ago."""
    trigger = args.get("trigger_id")
    expires = ws.consume_trigger(trigger)
    if expires is None:
        raise SlackError("invalid_trigger_id")
    if ws.clock() > expires:
        raise SlackError("expired_trigger_id")
    view = _checked_view(args)
    vid = ws.new_view_id()
    opened = OpenView(
        id=vid, user=None, view=dict(view), hash=uuid.uuid4().hex, trigger_id=str(trigger)
    )
    ws.views[vid] = opened
    return {"view": view_payload(opened)}


def views_update(ws: SlackWorkspace, args: Json) -> Json:
    """``views.update``: an open modal replaced (by id or external id, hash checked)."""
    vid = args.get("view_id")
    ext = args.get("external_id")
    opened = ws.views.get(str(vid)) if vid else None
    if opened is None and ext:
        opened = next((v for v in ws.views.values() if v.view.get("external_id") == ext), None)
    if opened is None or opened.closed:
        raise SlackError("not_found")
    if args.get("hash") and args["hash"] != opened.hash:
        raise SlackError("hash_conflict")
    view = _checked_view(args)
    opened.view = dict(view)
    opened.hash = uuid.uuid4().hex
    return {"view": view_payload(opened)}


METHODS: dict[str, Method] = {
    "api.test": api_test,
    "auth.test": auth_test,
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": get_permalink,
    "chat.delete": delete,
    "conversations.history": conversations_history,
    "conversations.info": conversations_info,
    "conversations.members": conversations_members,
    "conversations.replies": conversations_replies,
    "usergroups.users.list": usergroup_users,
    "users.info": users_info,
    "views.open": views_open,
    "views.update": views_update,
}
"""Every Web API method the stand-in answers; others get ``unknown_method`` (404)."""
