"""The one-click remedies, run for a Slack user on one failed payment.

``run_remedy(services, payment_id, kind, user_id)`` does, in order:

1. read the failure record; a payment resolved already is answered "already resolved by …"
   (and its message redrawn);
2. take the payment's lease (``payment:<id>``) — a second click meanwhile is answered
   "already being handled by <@x>"; under the lease the record is read again, and a click on
   a button drawn for an earlier attempt is answered with what happened since;
3. start a ``RemedyJournal`` on the record (status ``in_progress``, message redrawn);
4. run the remedy's steps. Each step that writes to QuickBooks or ConnectBooster is recorded
   in the journal, in Redis, *before* its write; QuickBooks writes carry a ``requestid``
   derived from the payment, the step and the attempt, so a repeat after a crash or a lost
   answer replays the first write instead of writing again;
5. finish the journal (``ok``, ``failed`` or ``refused``), set the record's status and
   resolution, redraw the message in place, add an audit line in its thread and in the audit
   stream, and count the remedy in the metrics.

A failed remedy keeps the steps it finished: pressing the same button again continues from
there (a payment already created in QuickBooks is not created again). A remedy cut short by a
crash keeps its lease until the lease expires; ``resume_unfinished`` (at start-up) and the
next click finish it.

The remedies, in ConnectBooster's words:

- Dismiss Syncing: ConnectBooster stops sending the payment to QuickBooks.
- Delete: removes it from ConnectBooster's payment history (dismissing it first).
- Unapply Credit Memo: deletes the $0 QuickBooks payment that applies the credit memo to the
  invoice (or rewrites its lines without that pair), checks the invoice balance moved, and asks
  ConnectBooster to resync; the failure then waits for ConnectBooster's next sync.
- Recreate payment in QuickBooks: creates the received payment in QuickBooks (customer,
  amount, paid date, ``CB…`` reference, deposit account, a private note naming the
  ConnectBooster payment and the Slack user) on the replacement invoices (or as credit), then
  dismisses syncing. Refused when QuickBooks already holds a payment with that reference.
- Re-check: diagnoses the payment again now.

The package, module by module:

- ``runner``: ``run_remedy`` and ``_execute`` (the run and how it is recorded);
- ``resume``: ``resume_unfinished`` and ``resume_one`` (remedies a crash cut short);
- ``journal``: ``_Ctx`` (the step journal kept in Redis) and ``request_id``;
- ``dismiss``, ``unapply``, ``recreate``, ``recheck``: the remedies themselves;
- ``outcome``: ``RemedyOutcome``, ``RemedyResult`` and the exceptions a step raises;
- ``texts``: what the user reads (errors in plain words, "already resolved", …);
- ``reporting``: the message redrawn, the thread note, the metric.

The timings below live here, on the package, and are read from it when used, so setting
``bot.remedies.LEASE_TTL`` (as the crash tests do) reaches every module.
"""

from __future__ import annotations

from bot.remedies.journal import MAX_REQUEST_ID, request_id
from bot.remedies.outcome import RemedyFailed, RemedyOutcome, RemedyRefused, RemedyResult
from bot.remedies.recreate import (
    PICK_CAUSES,
    UNDEPOSITED_FUNDS,
    needs_pick,
    recreate_candidates,
)
from bot.remedies.resume import resume_one, resume_unfinished
from bot.remedies.runner import BOOKS_WRITES, run_remedy
from bot.remedies.texts import CENT, already_resolved_text, describe_error

LEASE_TTL = 120.0
"""Seconds a remedy's lease lives without a heartbeat (each step renews it)."""
REMEDY_TIMEOUT = 150.0
"""Seconds a remedy may run before it is reported as timed out."""
RESUME_POLL = 0.5
"""Seconds between looks at a lease held by a crashed process, when resuming."""
REPORT_MARKER_TTL = 30 * 86400.0
"""Seconds the "this attempt was reported" markers are kept."""

__all__ = [
    "BOOKS_WRITES",
    "CENT",
    "LEASE_TTL",
    "MAX_REQUEST_ID",
    "PICK_CAUSES",
    "REMEDY_TIMEOUT",
    "REPORT_MARKER_TTL",
    "RESUME_POLL",
    "UNDEPOSITED_FUNDS",
    "RemedyFailed",
    "RemedyOutcome",
    "RemedyRefused",
    "RemedyResult",
    "already_resolved_text",
    "describe_error",
    "needs_pick",
    "recreate_candidates",
    "request_id",
    "resume_one",
    "resume_unfinished",
    "run_remedy",
]
