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
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.actions import KEEP_AS_CREDIT
from bot.blocks import REMEDY_LABELS, audit_line
from bot.blocks_common import fmt_time
from bot.messages import refresh_message, thread_note
from bot.models import (
    AuditEntry,
    Cause,
    FailureRecord,
    FailureStatus,
    Finding,
    RemedyJournal,
    RemedyKind,
    RemedyStep,
    Resolution,
)
from bot.services import Services
from bot.store import Lease
from cb import errors as cbe
from cb.models import Payment as CBPayment
from cb.models import SyncStatus
from qb import errors as qbe
from qb.models import Invoice, LinkedTxn, PaymentLine, Ref
from qb.models import Payment as QBPayment
from qb.query import join_where, quote

log = logging.getLogger(__name__)

LEASE_TTL = 120.0
"""Seconds a remedy's lease lives without a heartbeat (each step renews it)."""
REMEDY_TIMEOUT = 150.0
"""Seconds a remedy may run before it is reported as timed out."""
RESUME_POLL = 0.5
"""Seconds between looks at a lease held by a crashed process, when resuming."""
MAX_REQUEST_ID = 50
REPORT_MARKER_TTL = 30 * 86400.0
"""Seconds the "this attempt was reported" markers are kept."""
UNDEPOSITED_FUNDS = "Undeposited Funds"
CENT = Decimal("0.01")
BOOKS_WRITES = frozenset(
    {RemedyKind.DISMISS_SYNC, RemedyKind.DELETE_HISTORY, RemedyKind.UNAPPLY_CREDIT_MEMO,
     RemedyKind.RECREATE_PAYMENT}
)
PICK_CAUSES = frozenset({Cause.RECREATED, Cause.DELETED, Cause.VOIDED})
_UNKNOWN_OUTCOME = (qbe.ServerError, qbe.TransportError, cbe.ServerError, cbe.TransportError,
                    TimeoutError)
"""Errors after which a write may or may not have happened: repeated with the same id."""


class RemedyResult(StrEnum):
    """How a click ended, from the clicker's point of view."""

    OK = "ok"
    FAILED = "failed"  # a step failed; the message says what was done and what to do next
    REFUSED = "refused"  # nothing was written: the remedy does not fit the payment
    BUSY = "busy"  # someone else's remedy holds the payment's lease
    STALE = "stale"  # the button was drawn before another remedy ran
    ALREADY_RESOLVED = "already_resolved"
    NOT_FOUND = "not_found"  # the bot has no failure record for this payment


@dataclass
class RemedyOutcome:
    """What ``run_remedy`` did. ``message`` is mrkdwn for the user who clicked (ephemeral)."""

    kind: RemedyKind
    payment_id: str
    result: RemedyResult
    message: str
    record: FailureRecord | None = None
    holder: str | None = None  # who holds the lease, for BUSY

    @property
    def ok(self) -> bool:
        return self.result == RemedyResult.OK


class RemedyRefused(Exception):
    """The remedy does not fit the payment; nothing was written."""


class RemedyFailed(Exception):
    """A step did not do what it should; the text says so in plain words."""


@dataclass
class _Done:
    status: FailureStatus
    message: str
    resolution: Resolution | None = None


@dataclass
class _Ctx:
    services: Services
    rec: FailureRecord
    lease: Lease
    user: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def journal(self) -> RemedyJournal:
        assert self.rec.remedy is not None
        return self.rec.remedy

    async def save(self) -> None:
        self.rec.updated_at = self.services.clock()
        await self.services.store.put_failure(self.rec)

    async def begin(
        self, name: str, *, request_id: str | None = None, plan: dict[str, Any] | None = None
    ) -> RemedyStep:
        """The step ``name``: returned as is when done; otherwise recorded as started (with
        its request id and plan) in Redis before the caller's external write."""
        step = self.journal.step(name)
        if step is not None and step.state == "done":
            return step
        if step is None:
            step = RemedyStep(name=name, request_id=request_id, result=dict(plan or {}))
            self.journal.steps.append(step)
        else:  # started before a crash or a lost answer: same request id, same plan
            step.state = "started"
            if plan and not step.result:
                step.result = dict(plan)
        step.at = self.services.clock()
        await self.lease.extend(LEASE_TTL)
        await self.save()
        return step

    async def done(self, step: RemedyStep, **result: Any) -> None:
        step.state = "done"
        step.result.update(result)
        step.at = self.services.clock()
        await self.save()

    async def failed(self, step: RemedyStep, error: str) -> None:
        """A step QuickBooks or ConnectBooster refused for sure (nothing written)."""
        step.state = "failed"
        step.result["error"] = error
        await self.save()


# ---------------------------------------------------------------------------- helpers


def request_id(payment_id: str, step: str, attempt: int) -> str:
    """QBO ``requestid`` for one write of one attempt (at most 50 characters)."""
    rid = f"fp-{payment_id}-{step}-{attempt}"
    if len(rid) <= MAX_REQUEST_ID:
        return rid
    digest = hashlib.sha256(payment_id.encode()).hexdigest()[:16]
    return f"fp-{digest}-{step[:20]}-{attempt}"[:MAX_REQUEST_ID]


def _money(v: Decimal) -> str:
    return f"${v.quantize(CENT):,}"


def describe_error(exc: BaseException) -> str:
    """An error from QuickBooks, ConnectBooster or the bot, in plain words with what to do."""
    if isinstance(exc, RemedyFailed | RemedyRefused):
        return str(exc)
    if isinstance(exc, qbe.ReconnectRequired):
        return ("the QuickBooks connection has expired: an admin must reconnect it "
                "(`python app.py qbo-connect`), then try again")
    if isinstance(exc, qbe.AuthenticationError | qbe.AuthorizationError):
        return ("QuickBooks refused the bot's access; an admin should check the QuickBooks "
                "connection, then try again")
    if isinstance(exc, qbe.ThrottledError):
        return "QuickBooks is busy (too many requests); try again in a minute"
    if isinstance(exc, qbe.StaleObjectError):
        return ("someone changed the same record in QuickBooks at the same moment; press "
                "*Re-check*, then try again")
    if isinstance(exc, qbe.NotFoundError):
        what = "something it refers to was made inactive" if exc.inactive else (
            "a record it needs was deleted")
        return f"QuickBooks says {what}; press *Re-check* to look again"
    if isinstance(exc, qbe.ValidationError):
        detail = exc.detail or exc.message
        return f"QuickBooks refused it: {detail}. Check the payment in QuickBooks"
    if isinstance(exc, qbe.ServerError | qbe.TransportError):
        return "QuickBooks did not answer; try again in a few minutes"
    if isinstance(exc, qbe.QBOError):
        return f"QuickBooks answered with an error ({exc.message}); try again or check QuickBooks"
    if isinstance(exc, cbe.Conflict):
        return (f"ConnectBooster refused: {exc.message} (the payment's sync state changed). "
                "Press *Re-check* to see where it stands")
    if isinstance(exc, cbe.NotFound):
        return "ConnectBooster no longer has this payment; press *Re-check*"
    if isinstance(exc, cbe.Unauthorized):
        return "ConnectBooster refused the bot's API key; an admin must check CB_API_KEY"
    if isinstance(exc, cbe.RateLimited | cbe.ServerError | cbe.TransportError):
        return "ConnectBooster did not answer; try again in a few minutes"
    if isinstance(exc, cbe.CBError):
        return f"ConnectBooster answered with an error ({exc.message}); try again later"
    if isinstance(exc, TimeoutError):
        return "it took too long and was stopped; press *Re-check*, then try again"
    return (f"an unexpected error ({type(exc).__name__}); try again or ask an admin to look "
            "at the logs")


def already_resolved_text(rec: FailureRecord) -> str:
    """ "Already resolved: syncing dismissed by <@U1> at 10:42 UTC, 3 Nov 2026." """
    r = rec.resolution
    if r is None:
        return "This payment is already resolved."
    how = {
        "dismissed": "syncing dismissed", "deleted": "deleted from ConnectBooster's history",
        "synced": "synced to QuickBooks", "recreated": "recreated in QuickBooks",
    }.get(r.how, r.how.replace("_", " ").replace("-", " "))
    who = f"<@{r.by}>" if r.by else ("ConnectBooster's sync" if r.how == "synced"
                                     else "someone outside Slack")
    return f"Already resolved by {who}: {how} at {fmt_time(r.at)}."


def needs_pick(rec: FailureRecord) -> bool:
    """True when recreating this payment needs the user to pick an invoice (a deleted or
    voided invoice, or a recreated one whose replacement is ambiguous or missing)."""
    d = rec.diagnosis
    if d is None:
        return False
    return any(f.cause in PICK_CAUSES and not f.replacement_invoice_id for f in d.findings)


async def recreate_candidates(services: Services, rec: FailureRecord) -> list[Invoice]:
    """The customer's open invoices in QuickBooks (what the recreate modal offers)."""
    cust = rec.payment.customer.qb_customer_id
    if not cust:
        return []
    where = join_where(f"CustomerRef = {quote(cust)}", "Balance > '0'")
    return await services.qbo.query(Invoice, where)


async def _redraw(services: Services, rec: FailureRecord, notice: str | None = None) -> None:
    try:
        await refresh_message(services, rec, notice=notice)
    except SlackApiError as exc:  # the record is the truth; the message catches up later
        log.warning("message for %s not updated: %s", rec.payment.reference,
                    exc.response.get("error") if exc.response is not None else exc)


async def _note(services: Services, rec: FailureRecord, text: str) -> None:
    try:
        await thread_note(services, rec, text)
    except SlackApiError as exc:
        log.warning("thread note for %s not posted: %s", rec.payment.reference, exc)


def _count(services: Services, kind: RemedyKind, result: RemedyResult | str) -> None:
    services.metrics.remedies.labels(kind.value, str(result)).inc()


# ---------------------------------------------------------------------------- entry points


async def run_remedy(
    services: Services,
    payment_id: str,
    kind: RemedyKind,
    user_id: str,
    *,
    params: dict[str, Any] | None = None,
    expected_attempt: int | None = None,
) -> RemedyOutcome:
    """Run remedy ``kind`` on failure ``payment_id`` for Slack user ``user_id``.

    ``params`` carries the remedy's choices (``{"target": invoice id or KEEP_AS_CREDIT}`` for
    Recreate). ``expected_attempt`` is the attempt number the clicked button was drawn for;
    when another remedy ran since, nothing is done and the outcome says what happened.
    Never raises for a QuickBooks or ConnectBooster failure: the outcome (and the message
    in Slack) says what was done and what to do next. ``StoreUnavailable`` propagates.
    """
    store = services.store
    rec = await store.get_failure(payment_id)
    if rec is None:
        _count(services, kind, RemedyResult.NOT_FOUND)
        return RemedyOutcome(kind, payment_id, RemedyResult.NOT_FOUND,
                             "I have no record of that payment; the button is out of date.")
    if rec.status == FailureStatus.RESOLVED:
        return await _already_resolved(services, rec, kind)
    lease = store.lease(f"payment:{payment_id}", user_id, ttl=LEASE_TTL)
    if not await lease.acquire():
        holder = await store.lease_holder(f"payment:{payment_id}")
        _count(services, kind, RemedyResult.BUSY)
        who = f"<@{holder}>" if holder else "someone else"
        return RemedyOutcome(kind, payment_id, RemedyResult.BUSY,
                             f"This payment is already being handled by {who}; nothing was "
                             "done twice. The message updates when they finish.",
                             record=rec, holder=holder)
    release = True
    try:
        fresh = await store.get_failure(payment_id)
        if fresh is None:
            return RemedyOutcome(kind, payment_id, RemedyResult.NOT_FOUND,
                                 "I have no record of that payment any more.")
        rec = fresh
        if rec.status == FailureStatus.RESOLVED:
            return await _already_resolved(services, rec, kind)
        if kind == RemedyKind.RECHECK:
            return await _recheck(services, rec, user_id)
        if rec.remedy is not None and rec.remedy.finished_at is None:
            release = False  # released below only once the journal is finished
            outcome = await _execute(_Ctx(services, rec, lease, rec.remedy.user,
                                          dict(rec.remedy.params)))
            release = True
            label = REMEDY_LABELS[outcome.kind]
            outcome.message = (f"An earlier *{label}* on this payment was cut short; I finished "
                               f"it instead of starting another. {outcome.message}")
            return outcome
        if expected_attempt is not None and expected_attempt != rec.remedy_attempts:
            await _redraw(services, rec)
            _count(services, kind, RemedyResult.STALE)
            return RemedyOutcome(kind, payment_id, RemedyResult.STALE,
                                 _stale_text(rec), record=rec)
        _start_journal(services, rec, kind, user_id, params or {})
        release = False
        outcome = await _execute(_Ctx(services, rec, lease, user_id, dict(params or {})))
        release = True
        return outcome
    finally:
        if release:
            await lease.release()


async def resume_unfinished(services: Services) -> list[RemedyOutcome]:
    """Finish (or report) every remedy a crash cut short; called at start-up.

    A remedy whose lease is still held (the crashed process's lease has not expired yet, or
    another instance is finishing it) is retried in the background until the lease frees."""
    outcomes: list[RemedyOutcome] = []
    ids = await services.store.open_ids()
    for start in range(0, len(ids), 200):
        for rec in await services.store.get_failures(ids[start:start + 200]):
            j = rec.remedy
            if j is None or j.finished_at is not None or j.kind == RemedyKind.RECHECK:
                continue
            outcome = await resume_one(services, rec.payment_id)
            if outcome is None:
                continue
            if outcome.result == RemedyResult.BUSY:
                log.info("remedy on %s still leased; resuming when the lease frees",
                         rec.payment.reference)
                services.run_work(_resume_when_free(services, rec.payment_id))
            outcomes.append(outcome)
    return outcomes


async def resume_one(services: Services, payment_id: str) -> RemedyOutcome | None:
    """Finish the payment's unfinished remedy, if it has one (``None`` when it has none)."""
    rec = await services.store.get_failure(payment_id)
    if rec is None or rec.remedy is None or rec.remedy.finished_at is not None:
        return None
    j = rec.remedy
    lease = services.store.lease(f"payment:{payment_id}", j.user, ttl=LEASE_TTL)
    if not await lease.acquire():
        holder = await services.store.lease_holder(f"payment:{payment_id}")
        return RemedyOutcome(j.kind, payment_id, RemedyResult.BUSY, "still leased",
                             record=rec, holder=holder)
    release = True
    try:
        rec = await services.store.get_failure(payment_id)
        if rec is None or rec.remedy is None or rec.remedy.finished_at is not None:
            return None
        log.info("resuming %s on %s (attempt %d) after a restart", rec.remedy.kind.value,
                 rec.payment.reference, rec.remedy.attempt)
        release = False
        outcome = await _execute(_Ctx(services, rec, lease, rec.remedy.user,
                                      dict(rec.remedy.params)), resumed=True)
        release = True
        return outcome
    finally:
        if release:
            await lease.release()


async def _resume_when_free(services: Services, payment_id: str) -> None:
    deadline = asyncio.get_running_loop().time() + LEASE_TTL + 10
    while services.accepting and asyncio.get_running_loop().time() < deadline:
        outcome = await resume_one(services, payment_id)
        if outcome is None or outcome.result != RemedyResult.BUSY:
            return
        await asyncio.sleep(RESUME_POLL)
    log.warning("remedy on %s not resumed: its lease is still held", payment_id)


# ---------------------------------------------------------------------------- the run


async def _already_resolved(
    services: Services, rec: FailureRecord, kind: RemedyKind
) -> RemedyOutcome:
    await _redraw(services, rec)
    _count(services, kind, RemedyResult.ALREADY_RESOLVED)
    return RemedyOutcome(kind, rec.payment_id, RemedyResult.ALREADY_RESOLVED,
                         already_resolved_text(rec) + " Nothing more was done.", record=rec)


def _stale_text(rec: FailureRecord) -> str:
    j = rec.remedy
    if j is None:
        return "That button was out of date; the message now shows where things stand."
    label = REMEDY_LABELS[j.kind]
    at = fmt_time(j.finished_at or j.started_at)
    return (f"That button was out of date: <@{j.user}> ran *{label}* at {at} "
            f"({j.outcome or 'running'}). Nothing was done; the message now shows where "
            "things stand.")


def _start_journal(
    services: Services, rec: FailureRecord, kind: RemedyKind, user: str, params: dict[str, Any]
) -> None:
    previous = rec.remedy
    attempt = rec.remedy_attempts + 1
    journal = RemedyJournal(kind=kind, user=user, attempt=attempt, params=params,
                            started_at=services.clock())
    if previous is not None and previous.kind == kind and previous.outcome == "failed":
        # continue a failed run: keep what was done (and writes of unknown outcome, which are
        # repeated with the same requestid); redo steps that were refused for sure
        journal.steps = [s.model_copy(deep=True) for s in previous.steps if s.state != "failed"]
        if not params:
            journal.params = dict(previous.params)
    rec.remedy = journal
    rec.remedy_attempts = attempt


_IMPLS: dict[RemedyKind, Callable[[_Ctx], Awaitable[_Done]]] = {}


async def _execute(ctx: _Ctx, *, resumed: bool = False) -> RemedyOutcome:
    """Run (or continue) the journal's remedy and record how it ended. Releases the lease
    once the journal is finished."""
    services, rec = ctx.services, ctx.rec
    j = ctx.journal
    kind = j.kind
    rec.status = FailureStatus.IN_PROGRESS
    await ctx.save()
    await _redraw(services, rec)
    notice: str | None = None
    resolution: Resolution | None = None
    try:
        done = await asyncio.wait_for(_IMPLS[kind](ctx), timeout=REMEDY_TIMEOUT)
    except RemedyRefused as exc:
        result, detail = RemedyResult.REFUSED, str(exc)
        j.outcome, j.error = "refused", detail
        rec.status = FailureStatus.OPEN
        notice = f"{REMEDY_LABELS[kind]} was not done: {detail}"
        message = f"*{REMEDY_LABELS[kind]}* was not done: {detail}"
    except (RemedyFailed, qbe.QBOError, cbe.CBError, TimeoutError) as exc:
        result = RemedyResult.FAILED
        if not isinstance(exc, _UNKNOWN_OUTCOME):
            for s in j.steps:  # refused for sure: a new attempt redoes them with new ids
                if s.state == "started":
                    s.state = "failed"
                    s.result["error"] = describe_error(exc)
        detail = _failure_text(j, exc)
        log.warning("%s on %s failed: %r", kind.value, rec.payment.reference, exc)
        j.outcome, j.error = "failed", detail
        rec.status = FailureStatus.OPEN
        message = f"*{REMEDY_LABELS[kind]}* did not finish: {detail}"
    except Exception as exc:
        log.exception("%s on %s crashed", kind.value, rec.payment.reference)
        j.outcome, j.error = "failed", _failure_text(j, exc)
        j.finished_at = services.clock()
        rec.status = FailureStatus.OPEN
        await ctx.save()
        await ctx.lease.release()
        await _redraw(services, rec)
        _count(services, kind, RemedyResult.FAILED)
        raise
    else:
        result = RemedyResult.OK
        detail = done.message
        j.outcome = "ok"
        rec.status = done.status
        resolution = done.resolution
        message = done.message
    now = services.clock()
    j.finished_at = now
    if resolution is not None:
        rec.resolution = resolution
    rec.note(f"{REMEDY_LABELS[kind]}: {result.value}" + (" (after a restart)" if resumed else ""),
             who=j.user)
    audit_result = {"ok": "ok", "failed": "failed"}.get(result.value, "refused")
    note_detail = detail + (" (finished after a restart)" if resumed else "")
    # Reported once per attempt even if a crash lands between the report and the save
    # below (the resumed run finds the marker): audit and metric before the save, so a
    # crash after the save cannot lose them.
    report = f"{rec.payment_id}:{j.attempt}"
    if await services.store.once(f"remedy-audit:{report}", ttl=REPORT_MARKER_TTL):
        await services.store.audit(AuditEntry(
            at=now, user=j.user, action=kind.value, payment_id=rec.payment_id,
            reference=rec.payment.reference, result=audit_result, detail=note_detail[:1000],
        ))
        _count(services, kind, result)
    await ctx.save()
    await ctx.lease.release()
    await _redraw(services, rec, notice=notice)
    if await services.store.once(f"remedy-note:{report}", ttl=REPORT_MARKER_TTL):
        await _note(services, rec,
                    audit_line(j.user, kind, audit_result, now, _plain(note_detail)))
    return RemedyOutcome(kind, rec.payment_id, result, message, record=rec)


def _plain(text: str) -> str:
    """Detail for ``audit_line`` (which escapes it): drop the mrkdwn stars."""
    return text.replace("*", "")


def _failure_text(j: RemedyJournal, exc: BaseException) -> str:
    """Why it failed, what was already done, and what to do next."""
    reason = describe_error(exc)
    done = [s for s in j.steps if s.state == "done"]
    created = j.step("qbo_create_payment")
    parts = [reason[0].upper() + reason[1:] + "."]
    if created is not None and created.state == "done" and created.result.get("qbo_payment_id"):
        parts.append(
            f"QuickBooks payment {created.result['qbo_payment_id']} was created; press "
            f"*{REMEDY_LABELS[j.kind]}* again to finish — it will not be created twice."
        )
    elif any(s.name.startswith("qbo_unapply") for s in done):
        parts.append(
            f"The credit memo is already un-applied in QuickBooks; press "
            f"*{REMEDY_LABELS[j.kind]}* again to finish."
        )
    elif any(s.name == "cb_dismiss" for s in done):
        parts.append("Syncing is already dismissed in ConnectBooster.")
    elif any(s.state == "started" and s.request_id for s in j.steps):
        parts.append(
            "QuickBooks may or may not have recorded the change; pressing the button again "
            "repeats it safely (QuickBooks will not do it twice)."
        )
    else:
        parts.append("Nothing was changed.")
    return " ".join(parts)


# ---------------------------------------------------------------------------- re-check


async def _recheck(services: Services, rec: FailureRecord, user: str) -> RemedyOutcome:
    kind = RemedyKind.RECHECK
    now = services.clock()
    before = rec.status
    try:
        payment = await services.cb.get_payment(rec.payment_id)
    except cbe.NotFound:
        rec.status = FailureStatus.RESOLVED
        rec.resolution = Resolution(how="deleted", by=None, at=now,
                                    detail="Deleted from ConnectBooster's history")
        message = "ConnectBooster no longer has this payment (deleted from its history)."
    except cbe.CBError as exc:
        return await _check_failed(services, rec, user, exc)
    else:
        rec.payment = payment
        if payment.sync.status == SyncStatus.SYNCED:
            rec.status = FailureStatus.RESOLVED
            qb_id = payment.sync.qb_payment_id
            rec.resolution = Resolution(how="synced", by=None, at=now,
                                        detail=f"QuickBooks payment {qb_id}" if qb_id else None)
            message = "ConnectBooster has synced it to QuickBooks: resolved."
        elif payment.sync.status == SyncStatus.DISMISSED:
            rec.status = FailureStatus.RESOLVED
            rec.resolution = Resolution(how="dismissed", by=None, at=now)
            message = "Syncing was dismissed in ConnectBooster: resolved."
        else:
            from bot.facts import diagnose_many

            try:
                diagnoses = await diagnose_many(services.qbo, [payment])
            except qbe.QBOError as exc:
                return await _check_failed(services, rec, user, exc)
            rec.diagnosis = diagnoses.get(payment.id, rec.diagnosis)
            if payment.sync.status == SyncStatus.FAILED:
                rec.status = FailureStatus.OPEN
            elif payment.sync.status == SyncStatus.PENDING and before == FailureStatus.OPEN:
                rec.status = FailureStatus.WAITING_SYNC
            cause = rec.diagnosis.cause.label if rec.diagnosis else "unknown"
            message = f"Re-checked just now: {cause}."
    rec.note("Re-check", who=user)
    rec.updated_at = now
    await services.store.put_failure(rec)
    await _redraw(services, rec)
    if rec.status != before:
        await _note(services, rec, audit_line(user, kind, "ok", now, message))
    await services.store.audit(AuditEntry(
        at=now, user=user, action=kind.value, payment_id=rec.payment_id,
        reference=rec.payment.reference, result="ok", detail=message))
    _count(services, kind, RemedyResult.OK)
    return RemedyOutcome(kind, rec.payment_id, RemedyResult.OK, message, record=rec)


async def _check_failed(
    services: Services, rec: FailureRecord, user: str, exc: Exception
) -> RemedyOutcome:
    kind = RemedyKind.RECHECK
    reason = describe_error(exc)
    await _redraw(services, rec, notice=f"Re-check did not finish: {reason}.")
    await services.store.audit(AuditEntry(
        user=user, action=kind.value, payment_id=rec.payment_id,
        reference=rec.payment.reference, result="failed", detail=reason))
    _count(services, kind, RemedyResult.FAILED)
    return RemedyOutcome(kind, rec.payment_id, RemedyResult.FAILED,
                         f"*Re-check* did not finish: {reason}. Nothing was changed.", record=rec)


# ---------------------------------------------------------------------------- the remedies


async def _cb_dismiss(ctx: _Ctx) -> bool:
    """Dismiss syncing (journaled). False when ConnectBooster had synced it already."""
    step = await ctx.begin("cb_dismiss")
    if step.state == "done":
        return not step.result.get("synced", False)
    try:
        payment = await ctx.services.cb.dismiss_sync(ctx.rec.payment_id)
    except cbe.Conflict:
        payment = await ctx.services.cb.get_payment(ctx.rec.payment_id)
        if payment.sync.status != SyncStatus.SYNCED:
            raise
        ctx.rec.payment = payment
        await ctx.done(step, synced=True)
        return False
    ctx.rec.payment = payment
    await ctx.done(step, status=payment.sync.status.value)
    return True


def _synced(ctx: _Ctx, message: str) -> _Done:
    qb_id = ctx.rec.payment.sync.qb_payment_id
    return _Done(FailureStatus.RESOLVED, message, Resolution(
        how="synced", by=None, at=ctx.services.clock(),
        detail=f"QuickBooks payment {qb_id}" if qb_id else None))


async def _dismiss(ctx: _Ctx) -> _Done:
    try:
        dismissed = await _cb_dismiss(ctx)
    except cbe.NotFound:
        return _gone(ctx)
    if not dismissed:
        return _synced(ctx, "ConnectBooster had already synced it to QuickBooks; nothing to "
                            "dismiss.")
    return _Done(FailureStatus.RESOLVED,
                 f"Syncing dismissed: ConnectBooster no longer sends {ctx.rec.payment.reference} "
                 "to QuickBooks.",
                 Resolution(how="dismissed", by=ctx.user, at=ctx.services.clock()))


def _gone(ctx: _Ctx) -> _Done:
    return _Done(FailureStatus.RESOLVED, "ConnectBooster no longer has this payment (it was "
                 "deleted from its history).",
                 Resolution(how="deleted", by=None, at=ctx.services.clock(),
                            detail="Already gone from ConnectBooster's history"))


async def _delete(ctx: _Ctx) -> _Done:
    cb = ctx.services.cb
    pid = ctx.rec.payment_id
    if ctx.journal.step("cb_delete") is None:
        try:
            payment = await cb.get_payment(pid)
        except cbe.NotFound:
            return _gone(ctx)
        ctx.rec.payment = payment
        if payment.sync.status == SyncStatus.SYNCED:
            return _synced(ctx, "ConnectBooster had synced it to QuickBooks meanwhile; it was "
                                "not deleted.")
        if payment.sync.status != SyncStatus.DISMISSED and not await _cb_dismiss(ctx):
            return _synced(ctx, "ConnectBooster had synced it to QuickBooks meanwhile; it was "
                                "not deleted.")
    step = await ctx.begin("cb_delete")
    if step.state != "done":
        deleted = await cb.delete_history(pid)
        await ctx.done(step, deleted=deleted)
    return _Done(FailureStatus.RESOLVED,
                 f"Syncing dismissed and {ctx.rec.payment.reference} deleted from "
                 "ConnectBooster's payment history.",
                 Resolution(how="deleted", by=ctx.user, at=ctx.services.clock()))


# -- unapply credit memo --------------------------------------------------------------------


def _credit_findings(rec: FailureRecord) -> list[Finding]:
    d = rec.diagnosis
    return [
        f for f in (d.findings if d else [])
        if f.cause == Cause.CREDIT_MEMO and f.credit_memo_payment_id and f.credit_memo_id
    ]


def _lines_without(zero: QBPayment, pairs: list[Finding]) -> tuple[list[PaymentLine], Decimal]:
    """The $0 payment's lines without the (invoice, credit memo) pairs; and what it removes."""
    inv_ids = {f.invoice_id for f in pairs}
    removed: dict[str, Decimal] = {}
    kept: list[PaymentLine] = []
    for ln in zero.line:
        hit = [lt for lt in ln.linked_txn if lt.txn_type == "Invoice" and lt.txn_id in inv_ids]
        if hit:
            for lt in hit:
                removed[lt.txn_id] = removed.get(lt.txn_id, Decimal(0)) + ln.amount
            rest = [lt for lt in ln.linked_txn if lt not in hit]
            if rest:
                kept.append(PaymentLine(amount=ln.amount, linked_txn=rest))
            continue
        kept.append(ln.model_copy(deep=True))
    # take the same amounts off the credit memo lines of each pair
    for f in pairs:
        owed = removed.get(f.invoice_id, Decimal(0))
        for ln in kept:
            if owed <= 0:
                break
            if any(lt.txn_type == "CreditMemo" and lt.txn_id == f.credit_memo_id
                   for lt in ln.linked_txn):
                take = min(owed, ln.amount)
                ln.amount -= take
                owed -= take
    kept = [ln for ln in kept if ln.amount > 0]
    return kept, sum(removed.values(), Decimal(0))


async def _unapply(ctx: _Ctx) -> _Done:
    qbo = ctx.services.qbo
    rec = ctx.rec
    findings = _credit_findings(rec)
    if not findings:
        raise RemedyRefused("the diagnosis names no credit memo application to remove; press "
                            "*Re-check* to look again")
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(str(f.credit_memo_payment_id), []).append(f)
    before: dict[str, str] = {}
    for zero_id, pairs in groups.items():
        name = f"qbo_unapply:{zero_id}"
        existing = ctx.journal.step(name)
        if existing is not None and existing.state == "done":
            before.update(existing.result.get("before", {}))
            continue
        try:
            zero = await qbo.get(QBPayment, zero_id)
        except qbe.NotFoundError as exc:
            if not exc.deleted:
                raise
            zero = None
        if existing is not None and existing.result.get("before"):
            balances = dict(existing.result["before"])
        else:
            invoices = await qbo.query_in(Invoice, "Id", [f.invoice_id for f in pairs])
            balances = {i.id: str(i.balance) for i in invoices if i.id}
        before.update(balances)
        if zero is None:  # already deleted (by us before a crash, or by someone else)
            step = await ctx.begin(name, plan={"before": balances})
            await ctx.done(step, action="already-gone")
            continue
        if zero.total_amt != 0:
            raise RemedyRefused(f"QuickBooks payment {zero_id} is not a $0 credit memo "
                                f"application any more ({_money(zero.total_amt)}); press "
                                "*Re-check*")
        lines, removed = _lines_without(zero, pairs)
        still_links_invoice = any(lt.txn_type == "Invoice" for ln in lines for lt in ln.linked_txn)
        action = "update" if still_links_invoice else "delete"
        rid = request_id(rec.payment_id, f"unapply{zero_id}", ctx.journal.attempt)
        step = await ctx.begin(name, request_id=rid,
                               plan={"before": balances, "action": action,
                                     "removed": str(removed)})
        if removed == 0 and action == "update":
            await ctx.done(step, action="nothing-to-remove")
            continue
        assert step.request_id is not None
        if action == "delete":
            assert zero.id is not None and zero.sync_token is not None
            await qbo.delete_payment(zero.id, zero.sync_token, request_id=step.request_id)
        else:
            change = QBPayment(id=zero.id, sync_token=zero.sync_token, line=lines)
            await qbo.update_payment(change, request_id=step.request_id, sparse=True)
        await ctx.done(step, action=action)

    # re-read and check that the balances moved
    check = await ctx.begin("qbo_check_balances")
    if check.state != "done":
        after = {i.id: i for i in await qbo.query_in(Invoice, "Id", [f.invoice_id
                                                                       for f in findings])}
        short: list[str] = []
        for f in findings:
            inv = after.get(f.invoice_id)
            if inv is None:
                short.append(f"invoice {f.invoice_number} is gone")
                continue
            was = Decimal(before.get(f.invoice_id, "0"))
            moved = inv.balance > was or inv.balance + CENT > f.applied
            if not moved:
                short.append(f"invoice {f.invoice_number} still shows a balance of "
                             f"{_money(inv.balance)}")
        if short:
            raise RemedyFailed(
                "the credit memo application was removed, but " + "; ".join(short)
                + ". Check the invoice in QuickBooks before pressing *Re-check*")
        await ctx.done(check, balances={k: str(v.balance) for k, v in after.items() if k})

    step = await ctx.begin("cb_resync")
    if step.state != "done":
        try:
            payment = await ctx.services.cb.resync(rec.payment_id)
        except cbe.Conflict:
            payment = await ctx.services.cb.get_payment(rec.payment_id)
            if payment.sync.status == SyncStatus.SYNCED:
                rec.payment = payment
                await ctx.done(step, status="synced")
                return _synced(ctx, "Credit memo un-applied; ConnectBooster has synced the "
                                    "payment to QuickBooks.")
            raise
        rec.payment = payment
        await ctx.done(step, status=payment.sync.status.value)
    memos = ", ".join(sorted({f"{f.credit_memo_id}" for f in findings}))
    return _Done(FailureStatus.WAITING_SYNC,
                 f"Credit memo {memos} un-applied in QuickBooks and the payment queued for "
                 "ConnectBooster's next sync; this message turns resolved once it syncs.")


# -- recreate payment ---------------------------------------------------------------------


def _marker(payment_id: str) -> str:
    return f"[fp:{payment_id}]"


def _targets(rec: FailureRecord, target: str | None) -> list[tuple[str, Decimal]]:
    """Where the recreated payment goes: ``[(invoice id, amount wanted)]``; the rest is
    credit."""
    d = rec.diagnosis
    if d is None or not d.findings:
        return [(a.qb_invoice_id, a.amount) for a in rec.payment.applications]
    out: list[tuple[str, Decimal]] = []
    for f in d.findings:
        if f.cause in (Cause.PAID_MANUALLY, Cause.ALREADY_IN_QBO):
            continue  # already paid in QuickBooks: this part stays as credit
        if f.replacement_invoice_id:
            out.append((f.replacement_invoice_id, f.applied))
        elif f.cause in PICK_CAUSES:
            if target and target != KEEP_AS_CREDIT:
                out.append((target, f.applied))
        else:
            out.append((f.invoice_id, f.applied))
    return out


async def _recreate_body(ctx: _Ctx, payment: CBPayment) -> dict[str, Any]:
    services = ctx.services
    cust = payment.customer.qb_customer_id
    if not cust:
        raise RemedyRefused("ConnectBooster does not know this customer's QuickBooks id, so "
                            "the payment has to be recorded in QuickBooks by hand")
    deposit_id = services.settings.qbo_deposit_account_id
    if not deposit_id:
        acct = await services.qbo.account_by_name(UNDEPOSITED_FUNDS)
        deposit_id = acct.id if acct is not None else None
    wanted = _targets(ctx.rec, ctx.params.get("target"))
    ids = list(dict.fromkeys(i for i, _ in wanted))
    invoices = {i.id: i for i in await services.qbo.query_in(Invoice, "Id", ids)} if ids else {}
    room = {i: inv.balance for i, inv in invoices.items() if i}
    per_invoice: dict[str, Decimal] = {}
    left = payment.amount
    for inv_id, amount in wanted:
        inv = invoices.get(inv_id)
        if inv is None or inv.is_deleted:
            continue
        if inv.customer_ref is not None and inv.customer_ref.value != cust:
            raise RemedyRefused(f"invoice {inv.doc_number or inv_id} belongs to another customer")
        take = min(amount, room.get(inv_id, Decimal(0)), left)
        if take <= 0:
            continue
        per_invoice[inv_id] = per_invoice.get(inv_id, Decimal(0)) + take
        room[inv_id] -= take
        left -= take
    note = (f"Recreated from ConnectBooster payment {payment.id} ({payment.reference}) by the "
            f"failed-payments bot at the request of Slack user {ctx.user}. {_marker(payment.id)}")
    body = QBPayment(
        customer_ref=Ref(value=cust, name=payment.customer.name),
        total_amt=payment.amount,
        txn_date=payment.paid_at.date(),
        payment_ref_num=payment.reference,
        deposit_to_account_ref=Ref(value=deposit_id) if deposit_id else None,
        private_note=note,
        line=[PaymentLine(amount=amt, linked_txn=[LinkedTxn(txn_id=i, txn_type="Invoice")])
              for i, amt in per_invoice.items()],
    )
    return body.model_dump(mode="json", by_alias=True, exclude_none=True)


async def _recreate(ctx: _Ctx) -> _Done:
    services, rec = ctx.services, ctx.rec
    name = "qbo_create_payment"
    step = ctx.journal.step(name)
    if step is None:
        if needs_pick(rec) and "target" not in ctx.params:
            raise RemedyRefused("pick the invoice it pays (or keep it as credit) first: press "
                                "*Recreate payment in QuickBooks* again")
        payment = await services.cb.get_payment(rec.payment_id)
        rec.payment = payment
        if payment.sync.status == SyncStatus.SYNCED:
            return _synced(ctx, "ConnectBooster has synced it to QuickBooks meanwhile; nothing "
                                "was created.")
        existing = await services.qbo.query(
            QBPayment, f"PaymentRefNum = {quote(payment.reference)}")
        ours = [p for p in existing if _marker(payment.id) in (p.private_note or "")]
        if existing and not ours:
            ids = ", ".join(str(p.id) for p in existing)
            raise RemedyRefused(
                f"QuickBooks already holds payment {ids} with reference {payment.reference}, "
                "so nothing was created. If it is this payment, press *Dismiss Syncing*")
        if ours:
            step = await ctx.begin(name, plan={"adopted": True})
            await ctx.done(step, qbo_payment_id=ours[0].id)
        else:
            body = await _recreate_body(ctx, payment)
            rid = request_id(rec.payment_id, "create", ctx.journal.attempt)
            step = await ctx.begin(name, request_id=rid, plan={"body": body})
    if step.state != "done":
        assert step.request_id is not None
        created = await services.qbo.create_payment(
            QBPayment.model_validate(step.result["body"]), request_id=step.request_id)
        await ctx.done(step, qbo_payment_id=created.id)
    qb_id = step.result.get("qbo_payment_id")
    try:
        dismissed = await _cb_dismiss(ctx)
    except cbe.NotFound:
        dismissed = True  # gone from ConnectBooster: nothing left to send to QuickBooks
    if not dismissed:
        synced_id = rec.payment.sync.qb_payment_id
        raise RemedyFailed(
            f"ConnectBooster synced the payment meanwhile, so QuickBooks now holds it twice: "
            f"payment {qb_id} (recreated) and {synced_id} (synced). Delete payment {qb_id} in "
            "QuickBooks")
    lines = step.result.get("body", {}).get("Line") or []
    where = (f"applied to {len(lines)} invoice(s)" if lines else "kept as credit on the "
             "customer")
    return _Done(FailureStatus.RESOLVED,
                 f"QuickBooks payment {qb_id} created ({_money(rec.payment.amount)}, "
                 f"{where}) and syncing dismissed in ConnectBooster.",
                 Resolution(how="recreated", by=ctx.user, at=services.clock(),
                            detail=f"QuickBooks payment {qb_id}, {where}"))


_IMPLS.update({
    RemedyKind.DISMISS_SYNC: _dismiss,
    RemedyKind.DELETE_HISTORY: _delete,
    RemedyKind.UNAPPLY_CREDIT_MEMO: _unapply,
    RemedyKind.RECREATE_PAYMENT: _recreate,
})
