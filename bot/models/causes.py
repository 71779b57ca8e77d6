"""The vocabulary of a failure: why it happened (``Cause``), how sure the bot is
(``Certainty``) and what can be done about it (``RemedyKind``); and ``utcnow``, the one clock
default every model uses."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum


def utcnow() -> datetime:
    """Now, with a time zone (UTC)."""
    return datetime.now(UTC)


class Cause(StrEnum):
    """Why QuickBooks rejected the receipt for one invoice. Values are the short names
    users type in filters (``cause:credit-memo``)."""

    PAID_MANUALLY = "paid-manually"
    CREDIT_MEMO = "credit-memo"
    RECREATED = "recreated"
    DELETED = "deleted"
    VOIDED = "voided"
    AMOUNT_CHANGED = "amount-changed"
    ALREADY_IN_QBO = "already-in-qbo"
    INACTIVE_CUSTOMER = "inactive-customer"
    REFUNDED = "refunded"  # refunded/voided/returned at the gateway, the receipt still stands
    UNKNOWN = "unknown"
    NONE = "none"  # this invoice is fine; another one on the payment is the cause

    @property
    def label(self) -> str:
        return CAUSE_LABELS[self]


CAUSE_LABELS: dict[Cause, str] = {
    Cause.PAID_MANUALLY: "Paid manually in QuickBooks",
    Cause.CREDIT_MEMO: "Credit memo applied",
    Cause.RECREATED: "Invoice deleted and recreated",
    Cause.DELETED: "Invoice deleted",
    Cause.VOIDED: "Invoice voided",
    Cause.AMOUNT_CHANGED: "Invoice amount changed",
    Cause.ALREADY_IN_QBO: "Already in QuickBooks",
    Cause.INACTIVE_CUSTOMER: "Customer inactive in QuickBooks",
    Cause.REFUNDED: "Refunded at the gateway, receipt still in QuickBooks",
    Cause.UNKNOWN: "Cause unknown",
    Cause.NONE: "No problem found",
}


class Certainty(StrEnum):
    CERTAIN = "certain"  # QBO's records prove it
    LIKELY = "likely"  # a number or amount match only


class RemedyKind(StrEnum):
    """The one-click remedies, in the words of ConnectBooster's article."""

    DISMISS_SYNC = "dismiss_sync"
    DELETE_HISTORY = "delete_history"
    UNAPPLY_CREDIT_MEMO = "unapply_credit_memo"
    RECREATE_PAYMENT = "recreate_payment"
    RECHECK = "recheck"
    REACTIVATE_CUSTOMER = "reactivate_customer"  # a customer made inactive in QuickBooks
    DELETE_RECEIPT = "delete_receipt"  # a receipt whose money the gateway gave back
