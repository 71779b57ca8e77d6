"""Every interactive id the bot's Block Kit emits, and the format of button values.

Action ids are an enum so that builders and listeners cannot drift apart: a builder only
emits ``ActionId`` members and ``ALL_ACTION_IDS`` lists what ``handlers/`` must register.

Button values are compact JSON objects (Slack allows 2,000 characters)::

    {"p": "pmt_8f2c41", "a": 2}          # payment id, remedy attempt the button was drawn for
    {"p": "pmt_8f2c41", "a": 2, "x": {"d": "9f1c…"}}            # … and the plan it shows
    {"p": "pmt_8f2c41", "a": 2, "x": {"d": "9f1c…", "m": 1}}    # … in a confirmation modal
    {"t": "list:7f3a", "pg": 3}          # a list page: paging token and the page to show

The confirmation modal of a plan too long for a confirm dialog (``ViewId.CONFIRM_PLAN``)
carries in its ``private_metadata`` what its submission runs (``PlanConfirm``)::

    {"p": "pmt_8f2c41", "k": "recreate_payment", "a": 2, "d": "9f1c…", "c": "C0FAILED"}

``encode_value``/``decode_value``, ``encode_page_value``/``decode_page_value`` and
``encode_plan_confirm``/``decode_plan_confirm`` are the only code that knows the formats; a
value that does not decode raises ``BadActionValue``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.models import RemedyKind

MAX_VALUE_CHARS = 2000
MAX_METADATA_CHARS = 3000
"""Slack's limit on a view's ``private_metadata``."""


class ActionId(StrEnum):
    """``action_id`` of every button the bot draws."""

    DISMISS_SYNC = "fp_dismiss_sync"
    DELETE_HISTORY = "fp_delete_history"
    UNAPPLY_CREDIT_MEMO = "fp_unapply_credit_memo"
    RECREATE_PAYMENT = "fp_recreate_payment"
    RECHECK = "fp_recheck"
    REACTIVATE_CUSTOMER = "fp_reactivate_customer"
    DELETE_RECEIPT = "fp_delete_receipt"
    PORTAL_DONE = "fp_portal_done"  # gateway mode: a person did it in the ConnectBooster portal
    OPEN_PORTAL = "fp_open_portal"  # the link button to the portal (Slack still sends a click)
    LIST_NEXT = "fp_list_next"
    LIST_PREV = "fp_list_prev"
    TAKE = "fp_take"  # the team's buttons (bot.team): own, reassign, release, snooze
    RELEASE = "fp_release"
    REASSIGN = "fp_reassign"
    SNOOZE = "fp_snooze"
    UNSNOOZE = "fp_unsnooze"


REMEDY_ACTIONS: dict[RemedyKind, ActionId] = {
    RemedyKind.DISMISS_SYNC: ActionId.DISMISS_SYNC,
    RemedyKind.DELETE_HISTORY: ActionId.DELETE_HISTORY,
    RemedyKind.UNAPPLY_CREDIT_MEMO: ActionId.UNAPPLY_CREDIT_MEMO,
    RemedyKind.RECREATE_PAYMENT: ActionId.RECREATE_PAYMENT,
    RemedyKind.RECHECK: ActionId.RECHECK,
    RemedyKind.REACTIVATE_CUSTOMER: ActionId.REACTIVATE_CUSTOMER,
    RemedyKind.DELETE_RECEIPT: ActionId.DELETE_RECEIPT,
}
"""The button that runs each remedy."""

ACTION_REMEDIES: dict[ActionId, RemedyKind] = {a: k for k, a in REMEDY_ACTIONS.items()}
"""The remedy a button runs (the inverse of ``REMEDY_ACTIONS``)."""


class ViewId(StrEnum):
    """``callback_id`` of every modal the bot opens."""

    RECREATE_PICK = "fp_recreate_pick"
    CONFIRM_PLAN = "fp_confirm_plan"  # a remedy's plan, every line, when a dialog is too short
    REASSIGN = "fp_reassign_view"  # pick the new owner (a finance user)
    SNOOZE = "fp_snooze_view"  # until a date or the next sync, and why


TEAM_ACTIONS: frozenset[str] = frozenset(
    {ActionId.TAKE, ActionId.RELEASE, ActionId.REASSIGN, ActionId.SNOOZE, ActionId.UNSNOOZE}
)
"""The team's buttons (``handlers.team``)."""
REASSIGN_BLOCK, REASSIGN_ACTION = "fp_reassign_to", "fp_reassign_user"
"""The reassign modal's user picker: ``view.state.values[block][action].selected_user``."""
SNOOZE_KIND_BLOCK, SNOOZE_KIND_ACTION = "fp_snooze_kind", "fp_snooze_kind_pick"
SNOOZE_DATE_BLOCK, SNOOZE_DATE_ACTION = "fp_snooze_date", "fp_snooze_date_pick"
SNOOZE_REASON_BLOCK, SNOOZE_REASON_ACTION = "fp_snooze_reason", "fp_snooze_reason_text"


RECREATE_TARGET_BLOCK = "fp_recreate_target"
"""``block_id`` of the input block holding the invoice select in the recreate modal."""
RECREATE_TARGET_ACTION = "fp_recreate_target_select"
"""``action_id`` of that select (its value is in ``view.state.values[block][action]``)."""
KEEP_AS_CREDIT = "__credit__"
"""The select option value meaning "keep the payment as credit on the customer"."""

ALL_ACTION_IDS: frozenset[str] = frozenset(ActionId)
"""Every ``action_id`` a message can carry; each needs a registered ``app.action`` handler."""
ALL_VIEW_IDS: frozenset[str] = frozenset(ViewId)
"""Every modal ``callback_id``; each needs a registered ``app.view`` handler."""


class BadActionValue(ValueError):
    """A button value that is not one the bot drew (garbage, forged or truncated)."""


@dataclass(frozen=True)
class ButtonValue:
    """What a remedy button carries: the payment and the attempt it was drawn for."""

    payment_id: str
    attempt: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str | None:
        """The digest of the remedy plan the button was drawn for (``RemedyPlan.digest``)."""
        d = self.extra.get("d")
        return d if isinstance(d, str) else None

    @property
    def opens_confirm(self) -> bool:
        """True when the button had no confirm dialog (its plan is too long for one): a click
        opens the confirmation modal (``ViewId.CONFIRM_PLAN``) and runs nothing."""
        return self.extra.get("m") == 1 and self.digest is not None


@dataclass(frozen=True)
class PlanConfirm:
    """What a confirmation modal's submission runs: remedy ``kind`` on ``payment_id``, for
    the button's ``attempt``, only while the plan's digest is still ``digest``; ``channel``
    is where its answers go, ``params`` the remedy's choices (e.g. Recreate's target)."""

    payment_id: str
    kind: RemedyKind
    digest: str
    attempt: int | None = None
    channel: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def encode_plan_confirm(pc: PlanConfirm) -> str:
    """The confirmation modal's ``private_metadata`` for ``pc`` (at most 3,000 characters,
    else ``ValueError``)."""
    body: dict[str, Any] = {"p": pc.payment_id, "k": pc.kind.value, "d": pc.digest}
    if pc.attempt is not None:
        body["a"] = int(pc.attempt)
    if pc.channel:
        body["c"] = pc.channel
    if pc.params:
        body["x"] = pc.params
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    if len(text) > MAX_METADATA_CHARS:
        raise ValueError(f"private_metadata is {len(text)} chars, over {MAX_METADATA_CHARS}")
    return text


def decode_plan_confirm(s: str | None) -> PlanConfirm:
    """Parse what ``encode_plan_confirm`` made; anything else raises ``BadActionValue``."""
    body = _load_object(s, MAX_METADATA_CHARS)
    pid, kind, digest = body.get("p"), body.get("k"), body.get("d")
    attempt, channel, params = body.get("a"), body.get("c"), body.get("x", {})
    if not isinstance(pid, str) or not pid or len(pid) > 200:
        raise BadActionValue("confirmation has no payment id")
    if not isinstance(digest, str) or not digest:
        raise BadActionValue("confirmation has no plan digest")
    try:
        remedy = RemedyKind(str(kind))
    except ValueError as exc:
        raise BadActionValue("confirmation names no remedy") from exc
    if attempt is not None and (not isinstance(attempt, int) or isinstance(attempt, bool)):
        raise BadActionValue("confirmation has a malformed attempt")
    if channel is not None and not isinstance(channel, str):
        raise BadActionValue("confirmation has a malformed channel")
    if not isinstance(params, dict):
        raise BadActionValue("confirmation has malformed choices")
    return PlanConfirm(
        payment_id=pid,
        kind=remedy,
        digest=digest,
        attempt=attempt,
        channel=channel or None,
        params=params,
    )


def encode_value(payment_id: str, **extra: Any) -> str:
    """A button value for ``payment_id``; ``attempt=`` is kept as a typed field, any other
    keyword (JSON-serialisable) lands in ``ButtonValue.extra``. Raises ``ValueError`` if the
    result would exceed Slack's 2,000 characters."""
    if not payment_id:
        raise ValueError("payment_id is required")
    body: dict[str, Any] = {"p": payment_id}
    attempt = extra.pop("attempt", None)
    if attempt is not None:
        body["a"] = int(attempt)
    if extra:
        body["x"] = extra
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    if len(text) > MAX_VALUE_CHARS:
        raise ValueError(f"button value is {len(text)} chars, over {MAX_VALUE_CHARS}")
    return text


def decode_value(s: str | None) -> ButtonValue:
    """Parse a value made by ``encode_value``; anything else raises ``BadActionValue``."""
    body = _load_object(s)
    payment_id = body.get("p")
    if not isinstance(payment_id, str) or not payment_id or len(payment_id) > 200:
        raise BadActionValue("button value has no payment id")
    attempt = body.get("a")
    if attempt is not None and (not isinstance(attempt, int) or isinstance(attempt, bool)):
        raise BadActionValue("button value has a malformed attempt")
    extra = body.get("x", {})
    if not isinstance(extra, dict):
        raise BadActionValue("button value has malformed extras")
    return ButtonValue(payment_id=payment_id, attempt=attempt, extra=extra)


def encode_page_value(token: str, page: int) -> str:
    """Value of a list paging button: the paging token (kept in Redis) and the 1-based page."""
    if page < 1:
        raise ValueError("page is 1-based")
    text = json.dumps({"t": token, "pg": page}, separators=(",", ":"), ensure_ascii=False)
    if len(text) > MAX_VALUE_CHARS:
        raise ValueError("paging token too long")
    return text


def decode_page_value(s: str | None) -> tuple[str, int]:
    """``(token, page)`` from a value made by ``encode_page_value``; else ``BadActionValue``."""
    body = _load_object(s)
    token, page = body.get("t"), body.get("pg")
    if not isinstance(token, str):
        raise BadActionValue("paging value has no token")
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        raise BadActionValue("paging value has no valid page")
    return token, page


def _load_object(s: str | None, limit: int = MAX_VALUE_CHARS) -> dict[str, Any]:
    if not s or len(s) > limit:
        raise BadActionValue("empty or oversized action value")
    try:
        body = json.loads(s)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BadActionValue("action value is not JSON") from exc
    if not isinstance(body, dict):
        raise BadActionValue("action value is not an object")
    return body
