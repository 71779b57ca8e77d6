"""The books equation for one ConnectBooster payment: what QuickBooks already records of it.

For a ConnectBooster payment of amount A, R is the money QuickBooks already records *for this
payment*: a payment ConnectBooster synced or the bot recreated (its reference is this one,
compared ignoring case, spaces and punctuation), and payments entered by hand that the
diagnosis judges to be the same money (the same customer's payment on the same invoice, entered
after the payment run — or shortly before it, from a stale balance). Only money lines count:
credit-memo lines of a QuickBooks payment are credit, not money.

``account(payment, facts)`` (pure) returns the ``Books``: what is recorded (``recorded``, each
with the invoices it covers), what each invoice application still needs (``needs``) and where
it can go (the original invoice while it has room, its replacement, or nowhere: a person
picks), and the client's real overpayment (``overpaid``: the part of A applied to no
invoice). Every remedy plans from it: after any remedy QuickBooks records exactly A for the
payment — never more; Dismiss Syncing and Delete are offered only when R = A to the cent; a
recreated payment carries only A − R.
"""

from __future__ import annotations

from bot.diagnosis.facts import QBOFacts
from bot.models import Books
from cb.models import Payment as CBPayment


def normalise_reference(ref: str | None) -> str:
    """A payment reference compared ignoring case, spaces and punctuation (``CB-10234`` is
    ``cb 10234`` is ``CB10234``)."""
    raise NotImplementedError


def same_reference(a: str | None, b: str | None) -> bool:
    """Whether two references name the same payment (see ``normalise_reference``)."""
    raise NotImplementedError


def account(payment: CBPayment, facts: QBOFacts) -> Books:
    """The books of ``payment`` from the facts (pure; see the module docstring)."""
    raise NotImplementedError
