"""Payment references as people type them, compared the way a bookkeeper reads them.

A ConnectBooster reference (``CB10234``) reaches QuickBooks in ConnectBooster's own sync, in the
bot's recreated payment and in hand entries, where it is typed ``CB-10234``, ``cb 10234`` or
``CB#10234``: ``normalise_reference`` drops case, spaces and punctuation so that all of these are
one reference, and ``same_reference`` compares two that way. ``is_cb_reference`` tells a
ConnectBooster reference from a check number; ``recreate_marker`` is the private-note marker
(``[fp:<payment id>]``) the bot's recreated payment carries, ``is_recreated_for`` finds it.

``bot.diagnosis.books`` re-exports the first two: every guard and rule compares references
through them.
"""

from __future__ import annotations

import re
from functools import lru_cache

from qb.models import Payment as QBPayment

_CB = re.compile(r"^cb\d")


@lru_cache(maxsize=1 << 16)
def normalise_reference(ref: str | None) -> str:
    """A payment reference compared ignoring case, spaces and punctuation (``CB-10234`` is
    ``cb 10234`` is ``CB10234``: all read ``cb10234``). Kept for the references seen last:
    a backlog compares each payment's reference with its customer's payments many times."""
    return "".join(ch for ch in (ref or "").casefold() if ch.isalnum())


def same_reference(a: str | None, b: str | None) -> bool:
    """Whether two references name the same payment (see ``normalise_reference``); an empty
    reference names none."""
    na = normalise_reference(a)
    return bool(na) and na == normalise_reference(b)


def is_cb_reference(ref: str | None) -> bool:
    """Whether a reference is ConnectBooster's (``CB`` then digits, in any spelling)."""
    return _CB.match(normalise_reference(ref)) is not None


def recreate_marker(payment_id: str) -> str:
    """The private-note marker of the payment the bot recreates for ``payment_id``."""
    return f"[fp:{payment_id}]"


def is_recreated_for(p: QBPayment, payment_id: str) -> bool:
    """Whether QBO payment ``p`` is the bot's recreated payment for ``payment_id``."""
    return recreate_marker(payment_id) in (p.private_note or "")


__all__ = [
    "is_cb_reference",
    "is_recreated_for",
    "normalise_reference",
    "recreate_marker",
    "same_reference",
]
