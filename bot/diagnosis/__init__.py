"""Why QuickBooks rejected a ConnectBooster payment: fetch the facts in bulk, then decide.

A diagnosis is made in two steps, kept apart so the deciding can be tested as a table:

1. **Fetch** (``fetch``, I/O): ``fetch_facts`` reads from QuickBooks, for a whole batch of
   failed payments at once, everything the rules need — the invoices they apply to, the
   payments and credit memos linked to those invoices, invoices that could replace deleted
   ones, the customers' open invoices, QBO payments already carrying a ``CB…`` reference, the
   customers (active or not) and their recent payments and, through one CDC call, when
   invoices were deleted. A handful of chunked ``IN`` queries sent as QBO batch items
   (``bulk``), never one round trip per failure. ``diagnose_many`` is the entry point the
   poll cycle and Recheck use: one fetch, then ``diagnose`` for each payment.
2. **Decide** (``decide``, pure): ``diagnose(payment, facts)`` returns a ``Diagnosis`` — the
   dominant cause, one finding per invoice with the QBO objects it rests on, the books (what
   QuickBooks already records of the payment against its amount), the remedies in order and
   the sentences a finance person reads. It does no I/O and reads only the facts.

The modules, in the order a diagnosis passes them:

- ``facts``: ``QBOFacts``, what QuickBooks holds about a batch (the model both steps share;
  its own module so the rules and the fetch need not import each other), and the sort keys;
- ``bulk`` and ``fetch``: the bulk questions, ``fetch_facts``, ``diagnose_many``;
- ``references``: references compared ignoring case, spaces and punctuation;
- ``linked``: what the payments linked to an invoice did (money and credit apart), before and
  after the run's balance;
- ``books``: ``account``, the books equation's terms: R (what QuickBooks records of the
  payment), each invoice's need and where it can go, the client's overpayment;
- ``decide``: ``diagnose``: per-invoice findings, the dominant cause
  (``CAUSE_PRECEDENCE``) and the payment's summary;
- the rules, one finding per invoice: ``deleted`` (the invoice can no longer be read:
  recreated or deleted), ``invoice`` (voided, fine, credit memo, paid manually, amount
  changed); ``already`` (a QBO payment carries the reference); ``unknown`` (no invoice explains
  the failure: an inactive customer, QBO's fault, a failure rate that points at a setting);
- ``advice``: the remedies from the books and the cause, the books' sentences;
- ``wording``: the evidence objects shown under a finding and the next-step sentence for
  recording a payment. Amounts and dates are written by ``bot.formats``.

The benchmark's per-invoice baseline fetch lives outside production code, in
``bench/naive_fetch.py``.
"""

from __future__ import annotations

from bot.diagnosis.books import account, normalise_reference, same_reference
from bot.diagnosis.bulk import QBOReader
from bot.diagnosis.decide import (
    CAUSE_PRECEDENCE,
    DEFAULT_THRESHOLD,
    RECREATE_CAUSES,
    diagnose,
    diagnose_all,
)
from bot.diagnosis.facts import QBOFacts
from bot.diagnosis.fetch import diagnose_many, fetch_facts

__all__ = [
    "CAUSE_PRECEDENCE",
    "DEFAULT_THRESHOLD",
    "RECREATE_CAUSES",
    "QBOFacts",
    "QBOReader",
    "account",
    "diagnose",
    "diagnose_all",
    "diagnose_many",
    "fetch_facts",
    "normalise_reference",
    "same_reference",
]
