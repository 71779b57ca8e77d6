"""Small pure helpers every Block Kit builder shares: Slack's limits, mrkdwn escaping,
and text/block constructors that truncate instead of failing.

Money and times are formatted by ``bot.formats`` (one rounding rule, times with zones); its
helpers are re-exported here under the names the builders use (``money``, ``fmt_time``, ...).
Times a person reads in Slack are written with Slack's date tokens (:func:`slack_time`,
:func:`slack_date`), so each reader sees them in their own time zone; the token's fallback
(older clients, notifications) is the UTC text of ``bot.formats``."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from bot.formats import as_utc as as_utc
from bot.formats import fmt_age as fmt_age
from bot.formats import fmt_date as fmt_date
from bot.formats import fmt_rate as fmt_rate
from bot.formats import fmt_time as fmt_time
from bot.formats import money as money

# Slack's limits (see docs/slack-notes: "Block Kit limits").
MAX_BLOCKS = 50
MAX_MODAL_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ID = 255
MAX_ACTION_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 2000  # kept under Slack's own limit for readable context lines
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_CONFIRM_BUTTON = 30
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_MODAL_TITLE = 24
MAX_FALLBACK_TEXT = 3000  # notification text; Slack truncates at 40k, we keep it short
MAX_BLOCKS_JSON = 13_000  # ``msg_blocks_too_long`` beyond about this many characters
BLOCKS_JSON_BUDGET = 12_000  # what builders aim for, leaving headroom

ELLIPSIS = "…"
_PARTIAL_ENTITY = re.compile(r"&[A-Za-z0-9#]{1,6}$")

Block = dict[str, Any]


def escape(text: object) -> str:
    """Escape user data for mrkdwn: ``&``, ``<`` and ``>`` become entities, so a customer
    named ``<!channel> & Co`` cannot mention, link or break formatting."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int, *, suffix: str = ELLIPSIS) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``suffix`` when cut. Never
    splits an ``&amp;``-style entity (Slack counts the escaped length)."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(suffix))]
    partial = _PARTIAL_ENTITY.search(cut)
    if partial:
        cut = cut[: partial.start()]
    return cut + suffix


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def user_ref(user: str | None) -> str:
    """A mention for a Slack user id, or a plain word when there is none."""
    if not user:
        return "someone outside Slack"
    if user[:1] in ("U", "W") and user.isalnum():
        return f"<@{user}>"
    return escape(user)


def slack_time(at: datetime) -> str:
    """``at`` as Slack's date token: "Nov 3, 2026 at 9:05 AM" in each reader's own time zone
    (``{date_short_pretty}`` says "today" or "yesterday" when it is), with ``fmt_time``'s
    "14:05 UTC, 3 Nov 2026" as the fallback text. A naive datetime is refused."""
    return _date_token(at, "{date_short_pretty} at {time}", fmt_time(at))


def slack_date(at: datetime) -> str:
    """The day of ``at`` as Slack's date token (the reader's own calendar day), with
    ``fmt_date``'s "3 Nov 2026" (the UTC day) as the fallback text."""
    return _date_token(at, "{date_short_pretty}", fmt_date(at))


def _date_token(at: datetime, tokens: str, fallback_text: str) -> str:
    unix = int(as_utc(at).timestamp())
    return f"<!date^{unix}^{tokens}|{fallback_text}>"


def link(url: str | None, label: str) -> str:
    """A mrkdwn link, or the (already escaped) label when there is no URL."""
    if not url:
        return label
    safe = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C").replace(" ", "%20")
    return f"<{safe}|{label}>"


# ---- constructors ----------------------------------------------------------------------


def plain(text: str, limit: int, *, emoji: bool = True) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit) or " ", "emoji": emoji}


def mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": truncate(text, limit) or " "}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, MAX_HEADER_TEXT)}


def section(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text, MAX_SECTION_TEXT)}
    if block_id:
        block["block_id"] = block_id[:MAX_ID]
    return block


def plain_section(text: str) -> Block:
    """A section whose text Slack shows as written (no mrkdwn, no mentions, no emoji codes):
    for lines that must read exactly as the bot will send them."""
    return {"type": "section", "text": plain(text, MAX_SECTION_TEXT, emoji=False)}


def fields_section(fields: list[str]) -> Block:
    return {
        "type": "section",
        "fields": [mrkdwn(f, MAX_FIELD_TEXT) for f in fields[:MAX_FIELDS]],
    }


def context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [mrkdwn(t, MAX_CONTEXT_TEXT) for t in texts[:MAX_CONTEXT_ELEMENTS]],
    }


def divider() -> Block:
    return {"type": "divider"}


def confirm(
    title: str,
    text: str,
    ok: str,
    deny: str = "Cancel",
    *,
    danger: bool = False,
    as_written: bool = False,
) -> Block:
    """A confirm dialog; ``as_written`` shows ``text`` as plain text (exactly as given, no
    mrkdwn), else as mrkdwn (escape user data first)."""
    body = (
        plain(text, MAX_CONFIRM_TEXT, emoji=False) if as_written else mrkdwn(text, MAX_CONFIRM_TEXT)
    )
    dialog: Block = {
        "title": plain(title, MAX_CONFIRM_TITLE),
        "text": body,
        "confirm": plain(ok, MAX_CONFIRM_BUTTON),
        "deny": plain(deny, MAX_CONFIRM_BUTTON),
    }
    if danger:
        dialog["style"] = "danger"
    return dialog


def button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm_dialog: Block | None = None,
    url: str | None = None,
) -> Block:
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError("button value over Slack's limit")
    el: Block = {
        "type": "button",
        "text": plain(text, MAX_BUTTON_TEXT),
        "action_id": action_id[:MAX_ID],
        "value": value,
    }
    if style:
        el["style"] = style
    if confirm_dialog:
        el["confirm"] = confirm_dialog
    if url:
        el["url"] = url
    return el


def actions(elements: list[Block], *, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": elements[:MAX_ACTION_ELEMENTS]}
    if block_id:
        block["block_id"] = block_id[:MAX_ID]
    return block


def json_size(obj: Any) -> int:
    """Characters of ``obj`` as Slack will receive it (compact JSON)."""
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str))


def fallback(text: str) -> str:
    """Notification text (``text`` beside ``blocks``): plain words, bounded length."""
    return truncate(text, MAX_FALLBACK_TEXT)
