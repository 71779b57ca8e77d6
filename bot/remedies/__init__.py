"""The one-click remedies, run for a Slack user on one failed payment: plan, show, re-check,
then write.

Every remedy is a plan first (``bot.remedies.plan.plan_remedy``, pure): from fresh facts, the
exact writes — each QuickBooks body and each ConnectBooster call — or a refusal saying why it
must not run. The card shows the plans (``FailureRecord.plans``, made whenever a diagnosis is
stored) and each button carries its plan's digest.

``run_remedy(services, payment_id, kind, user_id)`` does, in order:

1. read the failure record; a payment resolved already is answered "already resolved by …"
   (and its message redrawn);
2. take the payment's lease (``payment:<id>``) and keep it alive for the whole run — a second
   click meanwhile is answered "already being handled by <@x>"; under the lease the record is
   read again, and a click on a button drawn for an earlier attempt is answered with what
   happened since;
3. re-check at click time: read the payment in ConnectBooster and its facts in QuickBooks
   again, diagnose and plan again (``bot.remedies.fresh``). Nothing is written when
   ConnectBooster synced, dismissed, queued or deleted the payment meanwhile, or when the new
   plan's digest differs from the one the button showed: the record takes the new diagnosis
   and plans, the message is redrawn and the clicker told what changed
   (``RemedyResult.CHANGED``); a refused plan writes nothing either (``REFUSED``);
4. start a ``RemedyJournal`` holding the plan; ``bot.lifecycle.remedy_started`` marks it
   ``in_progress`` and redraws the message;
5. write the plan step by step, in its order: each write is recorded in the journal, in
   Redis, *before* it is made (saves only while the lease is held); QuickBooks writes carry a
   ``requestid`` hashed from the payment, the plan's digest, the step and the attempt, so a
   repeat after a crash or a lost answer replays the first write instead of writing again,
   and a changed plan never replays an old body;
6. finish the journal (``ok``, ``failed`` or ``refused``), add a line to the audit stream and
   count the remedy in the metrics; ``bot.lifecycle.remedy_finished`` sets the record's status
   and resolution and redraws the message in place; then an audit line goes in its thread.

A failed remedy keeps the steps it finished: pressing the same button again continues from
there when the plan is unchanged (a payment already created in QuickBooks is not created
again). A remedy cut short by a crash keeps its lease until the lease expires;
``resume_unfinished`` (at start-up) and the next click finish it.

The remedies, in ConnectBooster's words:

- Dismiss Syncing: ConnectBooster stops sending the payment to QuickBooks (offered only when
  QuickBooks records its whole amount).
- Delete: removes it from ConnectBooster's payment history (dismissing it first).
- Unapply Credit Memo: deletes the $0 QuickBooks payments that apply credit memos to the
  invoices (or rewrites their lines without those pairs), checks the invoice balances moved,
  and asks ConnectBooster to resync; the failure then waits for ConnectBooster's next sync.
- Recreate payment in QuickBooks: dismisses syncing in ConnectBooster first, then creates in
  QuickBooks exactly what it does not record yet, on the invoices that still need it.
- Reactivate customer: makes the inactive customer active again, then re-checks.
- Re-check: diagnoses the payment again now (and plans its remedies again).

The package, module by module:

- ``runner``: ``run_remedy`` and ``execute`` (the click, the run and how it is recorded),
  ``JOURNALED`` (which function runs each journaled remedy);
- ``fresh``: ``planning`` and ``fresh_plan`` (the facts read again, planned), ``plan_context``,
  ``offered_plans`` (what a card offers), ``cb_moved``; ``plan``: ``plan_remedy`` (pure);
- ``lease``: ``KeptLease`` (the payment's lease renewed for a whole run);
- ``journal``: ``RemedyRun`` (the step journal kept in Redis), ``start_journal`` and
  ``request_id``; ``writes``: each planned write as one journal step;
- ``dismiss`` (``dismiss``, ``delete``), ``unapply``, ``recreate``, ``reactivate``,
  ``recheck``: the remedies' endings;
- ``resume``: ``resume_unfinished`` and ``resume_one`` (remedies a crash cut short);
- ``picker``: which invoice a recreated payment pays, when that needs a person;
- ``outcome``: ``RemedyOutcome``, ``RemedyResult``, ``RemedyDone`` and the exceptions a step
  raises;
- ``texts``: what the user reads ("already resolved", "out of date", "changed", "did not
  finish"; errors in plain words are in ``bot.errors``);
- ``reporting``: the thread note and the metric.

Every change of the failure's status (in progress, resolved, waiting for sync, open again),
with its history note, save and message redraw, goes through ``bot.lifecycle``.

The timings (lease, timeout, resume polling, report markers) are ``RemedyTimings`` carried on
``Services.remedy_timings``; a test that needs a crashed holder's lease to expire quickly gives
its services shorter ones.
"""

from __future__ import annotations

from bot.remedies.execute import BOOKS_WRITES, JOURNALED, execute
from bot.remedies.fresh import UNDEPOSITED_FUNDS, fresh_plan, plan_context, planning
from bot.remedies.journal import MAX_REQUEST_ID, RemedyRun, request_id
from bot.remedies.outcome import (
    RemedyDone,
    RemedyFailed,
    RemedyOutcome,
    RemedyRefused,
    RemedyResult,
)
from bot.remedies.recreate import PICK_CAUSES, needs_pick, recreate_candidates
from bot.remedies.resume import resume_one, resume_unfinished
from bot.remedies.runner import run_remedy
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
    "fresh_plan",
    "needs_pick",
    "plan_context",
    "planning",
    "recreate_candidates",
    "request_id",
    "resume_one",
    "resume_unfinished",
    "run_remedy",
]
