"""The one-click remedies, run for a Slack user on one failed payment.

``run_remedy(services, payment_id, kind, user_id)`` does, in order:

1. read the failure record; a payment resolved already is answered "already resolved by …"
   (and its message redrawn);
2. take the payment's lease (``payment:<id>``) — a second click meanwhile is answered
   "already being handled by <@x>"; under the lease the record is read again, and a click on
   a button drawn for an earlier attempt is answered with what happened since;
3. start a ``RemedyJournal`` on the record; ``bot.lifecycle.remedy_started`` marks it
   ``in_progress`` and redraws the message;
4. run the remedy's steps. Each step that writes to QuickBooks or ConnectBooster is recorded
   in the journal, in Redis, *before* its write; QuickBooks writes carry a ``requestid``
   derived from the payment, the step and the attempt, so a repeat after a crash or a lost
   answer replays the first write instead of writing again;
5. finish the journal (``ok``, ``failed`` or ``refused``), add a line to the audit stream and
   count the remedy in the metrics; ``bot.lifecycle.remedy_finished`` sets the record's status
   and resolution and redraws the message in place; then an audit line goes in its thread.

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

- ``runner``: ``run_remedy`` and ``execute`` (the run and how it is recorded), ``JOURNALED``
  (which function runs each journaled remedy);
- ``resume``: ``resume_unfinished`` and ``resume_one`` (remedies a crash cut short);
- ``journal``: ``RemedyRun`` (the step journal kept in Redis), ``start_journal`` and
  ``request_id``;
- ``dismiss`` (``dismiss``, ``delete``, ``cb_dismiss``, ``synced_meanwhile``), ``unapply``,
  ``recreate``, ``recheck``: the remedies themselves;
- ``outcome``: ``RemedyOutcome``, ``RemedyResult``, ``RemedyDone`` and the exceptions a step
  raises;
- ``texts``: what the user reads ("already resolved", "out of date", "did not finish"; errors
  in plain words are in ``bot.errors``);
- ``reporting``: the thread note and the metric.

Every change of the failure's status (in progress, resolved, waiting for sync, open again),
with its history note, save and message redraw, goes through ``bot.lifecycle``.

The timings (lease, timeout, resume polling, report markers) are ``RemedyTimings`` carried on
``Services.remedy_timings``; a test that needs a crashed holder's lease to expire quickly gives
its services shorter ones.
"""

from __future__ import annotations

from bot.remedies.journal import MAX_REQUEST_ID, RemedyRun, request_id
from bot.remedies.outcome import (
    RemedyDone,
    RemedyFailed,
    RemedyOutcome,
    RemedyRefused,
    RemedyResult,
)
from bot.remedies.recreate import (
    PICK_CAUSES,
    UNDEPOSITED_FUNDS,
    needs_pick,
    recreate_candidates,
)
from bot.remedies.resume import resume_one, resume_unfinished
from bot.remedies.runner import BOOKS_WRITES, JOURNALED, execute, run_remedy
from bot.remedies.texts import CENT, already_resolved_text, describe_error
from bot.runtime.services import RemedyTimings

__all__ = [
    "BOOKS_WRITES",
    "CENT",
    "JOURNALED",
    "MAX_REQUEST_ID",
    "PICK_CAUSES",
    "UNDEPOSITED_FUNDS",
    "RemedyDone",
    "RemedyFailed",
    "RemedyOutcome",
    "RemedyRefused",
    "RemedyResult",
    "RemedyRun",
    "RemedyTimings",
    "already_resolved_text",
    "describe_error",
    "execute",
    "needs_pick",
    "recreate_candidates",
    "request_id",
    "resume_one",
    "resume_unfinished",
    "run_remedy",
]
