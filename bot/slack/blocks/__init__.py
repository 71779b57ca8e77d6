"""Block Kit builders: pure functions from domain objects to what Slack draws.

Each builder returns ``(text_fallback, blocks)`` (or a view dict) that fits Slack's limits
whatever the data, with user data escaped for mrkdwn. Nothing here does I/O: posting and
updating live in ``bot.slack.messages``.

- ``card`` — the failure card, one interactive message per failed payment
  (:func:`failure_message`, :func:`resolution_line`);
- ``confirm`` — its remedy buttons and the confirm dialog behind each write;
- ``plan`` — a remedy's plan as the user reads it: the dialog (the plan's lines, line for
  line), the confirmation modal when the dialog is too short (:func:`plan_confirm_modal`),
  and what the clicker is told when the plan changed (:func:`changed_plan_text`);
- ``books`` — what QuickBooks records of the payment, on the card (:func:`books_text`);
- ``modal`` — the recreate modal (:func:`recreate_modal`) and its loading and notice views;
- ``labels`` — remedy names (:data:`REMEDY_LABELS`) and the thread's audit lines;
- ``lists`` — the ``/failed-payments`` replies: list pages, stats, help, "who may act";
- ``digest`` — channel messages: the burst digest, the failure-rate alert, its recovery
  and "sync not running";
- ``common`` — Slack's limits, escaping, truncation and the block constructors they share.
"""

from __future__ import annotations

from bot.slack.blocks.books import books_text
from bot.slack.blocks.card import failure_message, resolution_line
from bot.slack.blocks.common import Block, slack_date, slack_time
from bot.slack.blocks.confirm import (
    recreate_confirm_text,
    recreate_targets,
    refused_remedies,
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
from bot.slack.blocks.plan import (
    changed_plan_text,
    fits_dialog,
    plan_confirm_modal,
    plan_notice,
    plan_text,
    plan_to_confirm,
)

__all__ = [
    "REMEDY_LABELS",
    "Block",
    "alert_message",
    "audit_line",
    "books_text",
    "changed_plan_text",
    "digest_message",
    "failure_message",
    "fits_dialog",
    "help_message",
    "list_page",
    "not_allowed_message",
    "picker_loading",
    "picker_notice",
    "plan_confirm_modal",
    "plan_notice",
    "plan_text",
    "plan_to_confirm",
    "recovered_message",
    "recreate_confirm_text",
    "recreate_modal",
    "recreate_targets",
    "refused_remedies",
    "remedy_buttons",
    "resolution_line",
    "slack_date",
    "slack_time",
    "stats_message",
    "sync_not_running_message",
    "unapply_confirm_text",
]
