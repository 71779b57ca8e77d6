"""A remedy as a plan (``RemedyPlan``): the exact writes, in order, each with the body sent and
the line a person reads; its ``digest`` travels with the button that shows it. Planned by
``bot.remedies.plan.plan_remedy``; see there for plan, show, re-check, write.

A plan is in one of three states:

- **may run** (``may_run``): no ``refusal`` and no ``pick`` — its writes are what a click sends;
- **awaiting a pick** (``pick`` set): the remedy fits, but part of the money has nowhere to go
  until a person picks an invoice (or "keep as credit"); the card offers the button, which opens
  the picker, and the plan made with the pick is the one that runs;
- **refused** (``refusal`` set): the remedy must not run on these facts, and why.

The digest covers what would be sent, whoever clicks: the Slack user named in a private note
(``requested_by``) is masked, so the plan drawn on the card (for nobody yet) and the plan made
again at click time for the clicker have the same digest when they send the same money.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.models.causes import RemedyKind

PORTAL_REFUSAL = (
    "the bot cannot reach ConnectBooster for this payment: do it in the ConnectBooster "
    "portal, then press *Done in the portal*"
)
"""The refusal of Dismiss Syncing and Delete on a payment found at the gateway whose books
otherwise allow them: the card shows the portal's link and *Done in the portal* instead."""


class WriteKind(StrEnum):
    """One external write a plan makes."""

    QBO_CREATE_PAYMENT = "qbo_create_payment"
    QBO_UPDATE_PAYMENT = "qbo_update_payment"  # full line list (QBO replaces lines whole)
    QBO_DELETE_PAYMENT = "qbo_delete_payment"
    QBO_UPDATE_CUSTOMER = "qbo_update_customer"  # sparse: reactivate
    CB_DISMISS = "cb_dismiss"
    CB_DELETE = "cb_delete"
    CB_RESYNC = "cb_resync"


class PlannedWrite(BaseModel):
    """One write of a plan, in order: what is sent, and how a person reads it."""

    model_config = ConfigDict(frozen=True)

    step: str  # the journal step's name, unique in the plan ("cb_dismiss", "qbo_unapply:123")
    kind: WriteKind
    target_id: str | None = None  # the QuickBooks entity id, or the ConnectBooster payment id
    body: dict[str, Any] | None = None  # the exact JSON body sent to QuickBooks
    reads_as: str  # one line, e.g. "Create payment CB10234 in QuickBooks: $250.00 to invoice 1002"


class RemedyPlan(BaseModel):
    """The exact writes of one remedy on one payment, planned from fresh facts."""

    model_config = ConfigDict(frozen=True)

    kind: RemedyKind
    payment_id: str
    reference: str
    amount: Decimal  # A
    currency: str = "USD"
    recorded_before: Decimal  # R: what QuickBooks records for the payment now
    recorded_after: Decimal  # what it records once the plan ran (= A for a plan that may run)
    writes: tuple[PlannedWrite, ...] = ()
    refusal: str | None = None  # set: this remedy must not run on these facts, and why
    notes: tuple[str, ...] = ()  # e.g. "Nothing changes in QuickBooks."
    pick: str | None = None  # set: a person must pick where part of the money goes (in words)
    requested_by: str = ""  # the Slack user named in the bodies (masked in the digest)
    planned_at: datetime | None = Field(default=None, exclude=True)

    @property
    def may_run(self) -> bool:
        """Its writes may be sent as they are: not refused, and no pick outstanding."""
        return self.refusal is None and self.pick is None

    @property
    def offered(self) -> bool:
        """The card offers this remedy: it may run, or it awaits the user's pick."""
        return self.refusal is None

    def lines(self) -> list[str]:
        """What the confirm shows, line for line: each write, then the notes."""
        return [w.reads_as for w in self.writes] + list(self.notes)

    def digest(self) -> str:
        """A short hash of what the plan would send (kind, payment, each write's step, kind,
        target and body, the refusal, the pick asked): equal digests mean the same writes.
        The Slack user named in a body is masked (see the module docstring)."""
        core = {
            "kind": self.kind.value,
            "payment": self.payment_id,
            "refusal": self.refusal,
            "pick": self.pick,
            "writes": [
                [w.step, w.kind.value, w.target_id, self._masked(w.body)] for w in self.writes
            ],
        }
        text = json.dumps(core, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _masked(self, body: dict[str, Any] | None) -> dict[str, Any] | None:
        """``body`` with the requesting user's mention in its private note masked."""
        if body is None or "PrivateNote" not in body:
            return body
        note = str(body["PrivateNote"]).replace(
            requester_phrase(self.requested_by), requester_phrase("*")
        )
        return {**body, "PrivateNote": note}


def requester_phrase(user: str) -> str:
    """How a private note names the Slack user a write was made for (masked in digests)."""
    return f"at the request of Slack user {user or 'unknown'}"
