"""Block Kit builders: pure functions from domain objects to what Slack draws.

Each builder returns ``(text_fallback, blocks)`` (or a view dict) that fits Slack's limits
whatever the data, with user data escaped for mrkdwn. Nothing here does I/O: posting and
updating live in ``bot.slack.messages``.

- ``card`` — the failure card, one interactive message per failed payment
  (:func:`failure_message`, :func:`resolution_line`);
- ``confirm`` — its remedy buttons and the confirm dialog behind each write;
- ``modal`` — the recreate modal (:func:`recreate_modal`) and its loading and notice views;
- ``labels`` — remedy names (:data:`REMEDY_LABELS`) and the thread's audit lines;
- ``lists`` — the ``/failed-payments`` replies: list pages, stats, help, "who may act";
- ``digest`` — channel messages: the burst digest, the failure-rate alert, its recovery
  and "sync not running";
- ``common`` — Slack's limits, escaping, truncation and the block constructors they share.
"""

from __future__ import annotations

from bot.slack.blocks.card import failure_message, resolution_line
from bot.slack.blocks.common import Block
from bot.slack.blocks.confirm import (
    recreate_confirm_text,
    recreate_targets,
    remedy_buttons,
    unapply_confirm_text,
)
from bot.slack.blocks.digest import (
    alert_message,
    digest_message,
    recovered_message,
    sync_not_running_message,
)
from bot.slack.blocks.labels import REMEDY_LABELS, audit_line
from bot.slack.blocks.lists import help_message, list_page, not_allowed_message, stats_message
from bot.slack.blocks.modal import picker_loading, picker_notice, recreate_modal

__all__ = [
    "REMEDY_LABELS",
    "Block",
    "alert_message",
    "audit_line",
    "digest_message",
    "failure_message",
    "help_message",
    "list_page",
    "not_allowed_message",
    "picker_loading",
    "picker_notice",
    "recovered_message",
    "recreate_confirm_text",
    "recreate_modal",
    "recreate_targets",
    "remedy_buttons",
    "resolution_line",
    "stats_message",
    "sync_not_running_message",
    "unapply_confirm_text",
]
