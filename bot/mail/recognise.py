"""Which of ConnectBooster's notifications an e-mail is, and the hints in its body (pure).

ConnectBooster's subjects and sender are not published and can be customised per tenant, so
they are regular expressions from the settings (``MAIL_FROM_PATTERN`` and the
``MAIL_SYNC_*_PATTERN`` subjects; see ``bot.runtime.settings_mail``). A subject that matches
several patterns is read as the first of Sync Disabled, Sync Not Running, Sync Failed (the
alerts are the more specific news).

Hints: ``CB…`` payment references (in any spelling a person types: ``CB10234``, ``CB-10234``,
``cb 10234``), normalised to ``CB10234``; and money amounts written with a currency sign or
code (``$1,250.00``, ``USD 1250``), as ``Decimal``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from mail import MailMessage

MAX_HINTS = 50
"""At most this many references (and amounts) are kept from one e-mail."""

_REFERENCE = re.compile(r"(?<![A-Za-z0-9])CB[\s#-]?(\d{3,})(?![0-9])", re.IGNORECASE)
_AMOUNT = re.compile(
    r"(?:[$€£]|\b(?:USD|CAD|AUD|EUR|GBP)\s?)\s?(\d{1,3}(?:,\d{3})+|\d+)(\.\d{1,2})?(?![\d,])"
)


class MailKind(StrEnum):
    """The notifications the bot acts on."""

    SYNC_FAILED = "sync_failed"
    SYNC_DISABLED = "sync_disabled"
    SYNC_NOT_RUNNING = "sync_not_running"


@dataclass(frozen=True)
class Patterns:
    """The compiled patterns (from the settings)."""

    sender: re.Pattern[str] | None
    sync_failed: re.Pattern[str]
    sync_disabled: re.Pattern[str]
    sync_not_running: re.Pattern[str]

    @classmethod
    def of(
        cls,
        *,
        sender: str | None,
        sync_failed: str,
        sync_disabled: str,
        sync_not_running: str,
    ) -> Patterns:
        return cls(
            sender=re.compile(sender) if sender else None,
            sync_failed=re.compile(sync_failed),
            sync_disabled=re.compile(sync_disabled),
            sync_not_running=re.compile(sync_not_running),
        )


@dataclass(frozen=True)
class Hints:
    """What a Sync Failed e-mail's body names."""

    references: list[str] = field(default_factory=list)
    amounts: list[Decimal] = field(default_factory=list)

    def describe(self) -> str:
        """``CB10234, CB10235; 1250.00`` (or ``none``), for a log line."""
        refs = ", ".join(self.references)
        amounts = ", ".join(f"{a:.2f}" for a in self.amounts)
        return "; ".join(p for p in (refs, amounts) if p) or "none"


def classify(msg: MailMessage, patterns: Patterns) -> MailKind | None:
    """The notification ``msg`` is, or ``None`` when it is not one the bot acts on (another
    sender, or a subject no pattern matches)."""
    if patterns.sender is not None and not patterns.sender.search(msg.sender):
        return None
    if patterns.sync_disabled.search(msg.subject):
        return MailKind.SYNC_DISABLED
    if patterns.sync_not_running.search(msg.subject):
        return MailKind.SYNC_NOT_RUNNING
    if patterns.sync_failed.search(msg.subject):
        return MailKind.SYNC_FAILED
    return None


def find_hints(text: str) -> Hints:
    """The ``CB…`` references and the amounts in ``text``, each once, in the order found."""
    refs: list[str] = []
    for m in _REFERENCE.finditer(text):
        ref = f"CB{m.group(1)}"
        if ref not in refs and len(refs) < MAX_HINTS:
            refs.append(ref)
    amounts: list[Decimal] = []
    for m in _AMOUNT.finditer(text):
        try:
            amount = Decimal(m.group(1).replace(",", "") + (m.group(2) or ""))
        except InvalidOperation:
            continue
        if amount not in amounts and len(amounts) < MAX_HINTS:
            amounts.append(amount)
    return Hints(references=refs, amounts=amounts)
