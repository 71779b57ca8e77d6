"""The Slack stand-in's messages as the workbench page draws them, and which
ConnectBooster payment each is about (so the page can open its ledger)."""

from __future__ import annotations

import re
from typing import Any

from sandbox.slack import BOT_USER_ID, Message

_PAYMENT_IN_FOOTER = re.compile(r"ConnectBooster payment `([^`]+)`")


def payment_of(blocks: list[dict[str, Any]], metadata: dict[str, Any] | None = None) -> str | None:
    """The ConnectBooster payment a bot message is about: its metadata, the block id of its
    buttons, or its footer line; ``None`` for other messages."""
    if metadata and metadata.get("event_type") == "failed_payment":
        pid = (metadata.get("event_payload") or {}).get("payment_id")
        if isinstance(pid, str) and pid:
            return pid
    for b in blocks:
        bid = b.get("block_id")
        if isinstance(bid, str) and bid.startswith("fp_actions:"):
            return bid.split(":", 1)[1] or None
    for b in blocks:
        if b.get("type") != "context":
            continue
        for el in b.get("elements", []):
            m = _PAYMENT_IN_FOOTER.search(str(el.get("text", "")))
            if m:
                return m.group(1)
    return None


def message_json(m: Message) -> dict[str, Any]:
    """A channel message (or thread reply) as the page draws it."""
    return {
        "ts": m.ts,
        "user": m.user,
        "bot": m.user == BOT_USER_ID,
        "text": m.text,
        "blocks": m.blocks,
        "thread_ts": m.thread_ts,
        "reply_count": m.reply_count,
        "edited": m.edited_ts is not None,
        "payment_id": payment_of(m.blocks, m.metadata),
    }
