"""The Slack stand-in's file uploads and App Home, as the Web API does them.

Uploads, in Slack's current three steps (what slack_sdk's ``files_upload_v2`` calls):

1. ``files.getUploadURLExternal`` (``filename``, ``length``, ``alt_txt``): a file id and an
   upload URL on this stand-in (``POST /upload/<file id>``);
2. the bytes POSTed to that URL — kept as they came; a body whose size is not the
   ``length`` announced is refused (as Slack refuses the completion);
3. ``files.completeUploadExternal`` (``files`` as JSON ``[{"id", "title"}]``,
   ``channel_id``, ``initial_comment``, ``thread_ts``): each file must have been uploaded;
   shared into the channel, it becomes a message carrying the file (``Message.files``).

``views.publish`` (``user_id``, ``view`` of type ``home``): the user's Home tab, validated as
Slack validates it (100 blocks, text lengths), kept in ``SlackWorkspace.home_views``.
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.slack.records import Json, Message, SlackError, UploadedFile
from sandbox.slack.validation import validate_home_view
from sandbox.slack.workspace import SlackWorkspace

MAX_FILE_BYTES = 1_000_000_000


def get_upload_url(ws: SlackWorkspace, args: Json) -> Json:
    """``files.getUploadURLExternal``."""
    filename = str(args.get("filename") or "")
    try:
        length = int(args.get("length") or 0)
    except (TypeError, ValueError):
        length = 0
    if not filename:
        raise SlackError("invalid_arguments")
    if length <= 0 or length > MAX_FILE_BYTES:
        raise SlackError("invalid_length")
    fid = f"F{next(ws._ids):08d}"
    ws.files[fid] = UploadedFile(fid, filename, length, args.get("alt_txt"))
    return {"file_id": fid, "upload_url": f"{ws.base_url}/upload/{fid}"}


def take_upload(ws: SlackWorkspace, fid: str, data: bytes) -> tuple[int, str]:
    """Step 2: the bytes for ``fid``; ``(status, body)`` as the upload URL answers."""
    f = ws.files.get(fid)
    if f is None or f.completed:
        return 404, "no such upload"
    if len(data) != f.length:
        return 400, f"expected {f.length} bytes, got {len(data)}"
    f.data = data
    return 200, f"OK - {len(data)}"


def complete_upload(ws: SlackWorkspace, args: Json) -> Json:
    """``files.completeUploadExternal``."""
    raw: Any = args.get("files")
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise SlackError("invalid_arguments") from None
    if not isinstance(items, list) or not items:
        raise SlackError("invalid_arguments")
    found = []
    for item in items:
        f = ws.files.get(str((item or {}).get("id")))
        if f is None or f.data is None or f.completed:
            raise SlackError("file_not_found")
        f.title = item.get("title") or f.filename
        found.append(f)
    channel = args.get("channel_id")
    for f in found:
        f.completed = True
        f.channel = str(channel) if channel else None
        f.thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        f.initial_comment = args.get("initial_comment")
    if channel:
        msg = Message(
            str(channel),
            ws.new_ts(),
            str(args.get("initial_comment") or ""),
            [],
            thread_ts=str(args["thread_ts"]) if args.get("thread_ts") else None,
            files=[f.as_slack() for f in found],
        )
        ws.add_message(msg)
        for f in found:
            f.shared_ts = msg.ts
    return {"files": [f.as_slack() for f in found]}


def views_publish(ws: SlackWorkspace, args: Json) -> Json:
    """``views.publish``: a user's Home tab."""
    user = str(args.get("user_id") or "")
    view = args.get("view")
    if not user:
        raise SlackError("invalid_arguments")
    problems = validate_home_view(view)
    if problems:
        raise SlackError("invalid_arguments", extra={"messages": problems})
    ws.home_views[user] = dict(view) if isinstance(view, dict) else {}
    return {"view": {"id": f"VH{user}", **ws.home_views[user]}}


FILE_METHODS = {
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
    "views.publish": views_publish,
}
"""The methods this module answers (merged into the stand-in's method table)."""
