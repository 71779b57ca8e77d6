"""``bot.lifecycle``, the one owner of a failure's life: each transition checks the move,
notes it, saves the record in a real Redis and redraws its message in the Slack stand-in;
an illegal move raises and changes nothing; and no other module of ``bot`` assigns a
record's ``status`` or ``resolution``."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot import lifecycle
from bot.lifecycle import LEGAL, Event, IllegalTransition
from bot.models import (
    FailureRecord,
    FailureStatus,
    JournalOutcome,
    RemedyJournal,
    RemedyKind,
    Resolution,
    ResolutionHow,
    StepState,
)
from bot.runtime.services import Services
from bot.slack.messages import post_failure
from bot.store.records import LeaseNotHeld
from cb.models import Customer, Payment, SyncState, SyncStatus
from tests.conftest import ROOT
from tests.harness import FAILED_CHANNEL, FINANCE_USER, World, world

OPEN = FailureStatus.OPEN
IN_PROGRESS = FailureStatus.IN_PROGRESS
WAITING_SYNC = FailureStatus.WAITING_SYNC
RESOLVED = FailureStatus.RESOLVED
T0 = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)


def payment(pid: str = "cbp-1", attempts: int = 1) -> Payment:
    return Payment(
        id=pid,
        reference=f"CB{pid}",
        amount=Decimal("120.00"),
        paid_at=T0,
        customer=Customer(id="c1", name="Acme", qb_customer_id="58"),
        sync=SyncState(
            status=SyncStatus.FAILED,
            attempts=attempts,
            last_attempt_at=T0 + timedelta(minutes=attempts),
        ),
        updated_at=T0 + timedelta(minutes=attempts),
    )


@pytest.fixture
async def w(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> AsyncIterator[World]:
    async with world(redis_url, redis_prefix, scenario=None) as built:
        built.slack.rate_limit_enabled = False
        yield built


async def stored(s: Services, pid: str) -> FailureRecord:
    rec = await s.store.get_failure(pid)
    assert rec is not None
    return rec


def shown(w: World, rec: FailureRecord) -> str:
    assert rec.slack is not None
    msg = w.slack.message(rec.slack.channel, rec.slack.ts)
    assert msg is not None
    return str(msg.blocks)


def buttons(w: World, rec: FailureRecord) -> int:
    assert rec.slack is not None
    msg = w.slack.message(rec.slack.channel, rec.slack.ts)
    assert msg is not None
    return len(msg.action_elements())


async def posted_record(w: World, pid: str = "cbp-1") -> FailureRecord:
    """An opened, posted failure (status open, one message in the channel)."""
    s = w.services
    rec = await lifecycle.opened(s, payment(pid), None, None)
    await lifecycle.posted(s, rec, await post_failure(s, rec))
    return rec


def start_remedy(rec: FailureRecord, kind: RemedyKind = RemedyKind.DISMISS_SYNC) -> None:
    rec.remedy = RemedyJournal(kind=kind, user=FINANCE_USER, attempt=rec.remedy_attempts + 1)
    rec.remedy_attempts += 1


def finish_journal(rec: FailureRecord, outcome: JournalOutcome) -> None:
    assert rec.remedy is not None
    rec.remedy.outcome = outcome
    rec.remedy.finished_at = T0


# ---- the table of legal moves ------------------------------------------------------------


def record_at(status: FailureStatus) -> FailureRecord:
    return FailureRecord(payment_id="cbp-1", payment=payment(), status=status)


@pytest.mark.parametrize(
    ("event", "before", "after"),
    [
        (Event.FAILED_AGAIN, IN_PROGRESS, OPEN),  # a remedy holds the payment
        (Event.REMEDY_STARTED, RESOLVED, IN_PROGRESS),
        (Event.REMEDY_FINISHED, OPEN, RESOLVED),  # it never started
        (Event.RESOLVED_OUTSIDE, RESOLVED, RESOLVED),
        (Event.RESOLVED_OUTSIDE, IN_PROGRESS, RESOLVED),  # the remedy records its own end
        (Event.REOPENED, OPEN, OPEN),
        (Event.RECHECKED, RESOLVED, OPEN),
        (Event.RECHECKED, IN_PROGRESS, WAITING_SYNC),
        (Event.OPENED, RESOLVED, OPEN),
    ],
)
def test_illegal_moves_raise(event: Event, before: FailureStatus, after: FailureStatus) -> None:
    rec = record_at(before)
    with pytest.raises(IllegalTransition) as err:
        lifecycle.check(event, rec, after)
    assert (err.value.before, err.value.after, err.value.event) == (before, after, event)
    assert rec.status == before


@pytest.mark.parametrize(
    ("event", "before", "after"),
    [
        (Event.FAILED_AGAIN, RESOLVED, OPEN),
        (Event.FAILED_AGAIN, WAITING_SYNC, OPEN),
        (Event.REMEDY_STARTED, IN_PROGRESS, IN_PROGRESS),  # continuing one a crash cut short
        (Event.REMEDY_FINISHED, IN_PROGRESS, WAITING_SYNC),
        (Event.RECHECKED, IN_PROGRESS, RESOLVED),
        (Event.RESOLVED_OUTSIDE, WAITING_SYNC, RESOLVED),
        (Event.REOPENED, RESOLVED, OPEN),
    ],
)
def test_legal_moves_pass(event: Event, before: FailureStatus, after: FailureStatus) -> None:
    lifecycle.check(event, record_at(before), after)


def test_every_event_has_rules_and_nothing_leaves_resolved_but_a_new_failure() -> None:
    assert set(LEGAL) == set(Event)
    from_resolved = {
        e for e, rules in LEGAL.items() if any(to != RESOLVED for to in rules.get(RESOLVED, ()))
    }
    assert from_resolved == {Event.REOPENED, Event.FAILED_AGAIN}


def test_records_stored_with_plain_strings_load_as_enums() -> None:
    """Records saved before the enums existed hold the same strings, and still load."""
    raw = record_at(RESOLVED).model_dump(mode="json")
    raw["resolution"] = {"how": "unapplied", "by": "U1", "at": T0.isoformat()}
    raw["remedy"] = {
        "kind": "unapply_credit_memo",
        "user": "U1",
        "outcome": "refused",
        "steps": [{"name": "cb_resync", "state": "done"}],
    }
    rec = FailureRecord.model_validate(raw)
    assert rec.resolution is not None and rec.resolution.how is ResolutionHow.UNAPPLIED
    assert rec.remedy is not None and rec.remedy.outcome is JournalOutcome.REFUSED
    assert rec.remedy.steps[0].state is StepState.DONE
    assert rec.model_dump(mode="json")["resolution"]["how"] == "unapplied"


# ---- each transition: note, save, redraw ------------------------------------------------


async def test_opened_then_posted_saves_notes_and_reopens_a_resolved_one(w: World) -> None:
    s = w.services
    rec = await lifecycle.opened(s, payment(), None, None)
    saved = await stored(s, rec.payment_id)
    assert saved.status == OPEN and saved.slack is None
    assert [h.what for h in saved.history] == ["Failed to sync; diagnosed by the poller"]

    ref = await post_failure(s, rec, thread_ts=None)
    await lifecycle.posted(s, rec, ref)
    saved = await stored(s, rec.payment_id)
    assert saved.slack is not None and saved.slack.ts == ref.ts
    assert saved.history[-1].what == "Posted to Slack"
    assert len(w.slack.messages(FAILED_CHANNEL)) == 1

    # resolved before its message went out, then found failing again: reopened
    unposted = await lifecycle.opened(s, payment("cbp-2"), None, None)
    await lifecycle.resolved_outside(s, unposted, Resolution(how=ResolutionHow.SYNCED, at=T0))
    assert (await stored(s, "cbp-2")).status == RESOLVED
    again = await lifecycle.opened(s, payment("cbp-2", attempts=2), await stored(s, "cbp-2"), None)
    saved = await stored(s, "cbp-2")
    assert again.status == saved.status == OPEN and saved.resolution is None
    assert saved.payment.sync.attempts == 2
    assert saved.history[-1].what.startswith("Failed to sync again; reopened")


async def test_failed_again_reopens_and_redraws_with_the_notice(w: World) -> None:
    s = w.services
    rec = await posted_record(w)
    await lifecycle.resolved_outside(s, rec, Resolution(how=ResolutionHow.DISMISSED, at=T0))
    assert buttons(w, rec) == 0  # resolved: no buttons

    await lifecycle.failed_again(s, rec, payment(attempts=2), None, notice="sync failed again")
    saved = await stored(s, rec.payment_id)
    assert saved.status == OPEN and saved.resolution is None
    assert saved.history[-1].what == "Failed again on sync attempt 2; diagnosed again"
    assert "sync failed again" in shown(w, rec)
    assert buttons(w, rec) > 0


async def test_a_remedy_started_and_finished(w: World) -> None:
    s = w.services
    rec = await posted_record(w)
    lease = s.store.lease(f"payment:{rec.payment_id}", FINANCE_USER, ttl=30)
    assert await lease.acquire()
    start_remedy(rec)
    await lifecycle.remedy_started(s, rec)
    saved = await stored(s, rec.payment_id)
    assert saved.status == IN_PROGRESS
    assert saved.history[-1].what == "Dismiss Syncing started (attempt 1)"
    assert saved.history[-1].who == FINANCE_USER
    assert buttons(w, rec) == 0  # no buttons while it runs

    finish_journal(rec, JournalOutcome.OK)
    done = Resolution(how=ResolutionHow.DISMISSED, by=FINANCE_USER, at=T0)
    await lifecycle.remedy_finished(
        s, rec, RESOLVED, resolution=done, notice="all done", lease=lease
    )
    saved = await stored(s, rec.payment_id)
    assert saved.status == RESOLVED
    assert saved.resolution is not None and saved.resolution.how == ResolutionHow.DISMISSED
    assert saved.history[-1].what == "Dismiss Syncing: ok"
    assert await s.store.lease_holder(f"payment:{rec.payment_id}") is None  # released
    assert "all done" in shown(w, rec)


async def test_a_failed_remedy_reopens_and_a_recheck_can_leave_it_waiting(w: World) -> None:
    s = w.services
    rec = await posted_record(w)
    start_remedy(rec, RemedyKind.UNAPPLY_CREDIT_MEMO)
    await lifecycle.remedy_started(s, rec)
    finish_journal(rec, JournalOutcome.FAILED)
    await lifecycle.remedy_finished(s, rec, OPEN, resumed=True)
    saved = await stored(s, rec.payment_id)
    assert saved.status == OPEN
    assert saved.history[-1].what == "Unapply Credit Memo: failed (after a restart)"

    await lifecycle.rechecked(s, rec, FINANCE_USER, WAITING_SYNC)
    saved = await stored(s, rec.payment_id)
    assert saved.status == WAITING_SYNC
    assert (saved.history[-1].what, saved.history[-1].who) == ("Re-check", FINANCE_USER)


async def test_an_illegal_move_changes_nothing_in_redis_or_memory(w: World) -> None:
    s = w.services
    rec = await posted_record(w)
    start_remedy(rec)
    await lifecycle.remedy_started(s, rec)
    before = await stored(s, rec.payment_id)
    with pytest.raises(IllegalTransition):
        await lifecycle.failed_again(s, rec, payment(attempts=2), None, notice="x")
    with pytest.raises(IllegalTransition):
        await lifecycle.resolved_outside(s, rec, Resolution(how=ResolutionHow.SYNCED, at=T0))
    with pytest.raises(IllegalTransition):  # its journal is not finished
        await lifecycle.remedy_finished(s, rec, OPEN)
    finish_journal(rec, JournalOutcome.OK)
    with pytest.raises(IllegalTransition):  # resolved, but not how
        await lifecycle.remedy_finished(s, rec, RESOLVED)
    after = await stored(s, rec.payment_id)
    assert after.status == rec.status == IN_PROGRESS
    assert after.payment.sync.attempts == rec.payment.sync.attempts == 1
    assert after.history == before.history and rec.resolution is None


async def test_a_remedy_cannot_start_on_a_resolved_failure(w: World) -> None:
    s = w.services
    rec = await posted_record(w)
    await lifecycle.resolved_outside(s, rec, Resolution(how=ResolutionHow.SYNCED, at=T0))
    start_remedy(rec)
    with pytest.raises(IllegalTransition):
        await lifecycle.remedy_started(s, rec)
    assert (await stored(s, rec.payment_id)).status == RESOLVED


async def test_rediagnosed_stores_the_new_facts_and_may_resolve(w: World) -> None:
    s = w.services
    rec = await posted_record(w)
    with pytest.raises(IllegalTransition):  # resolved, but not how
        await lifecycle.rediagnosed(s, rec, FINANCE_USER, RemedyKind.UNAPPLY_CREDIT_MEMO, RESOLVED)
    synced = Resolution(how=ResolutionHow.SYNCED, at=T0)
    await lifecycle.rediagnosed(
        s, rec, FINANCE_USER, RemedyKind.UNAPPLY_CREDIT_MEMO, RESOLVED, resolution=synced
    )
    saved = await stored(s, rec.payment_id)
    assert saved.status == RESOLVED and saved.resolution == synced
    assert saved.history[-1].who == FINANCE_USER
    assert saved.history[-1].what.startswith("Unapply Credit Memo not written")
    assert buttons(w, rec) == 0
    with pytest.raises(IllegalTransition):  # nothing leaves resolved this way
        await lifecycle.rediagnosed(s, rec, FINANCE_USER, RemedyKind.RECHECK, OPEN)


async def test_a_save_under_a_lease_that_is_no_longer_held_writes_nothing(w: World) -> None:
    s = w.services
    rec = await posted_record(w)
    lease = s.store.lease(f"payment:{rec.payment_id}", FINANCE_USER, ttl=30)
    assert await lease.acquire()
    start_remedy(rec)
    await lifecycle.remedy_started(s, rec, lease=lease)
    assert (await stored(s, rec.payment_id)).status == IN_PROGRESS
    # the lease expires; another process takes it
    await s.redis.delete(s.store.key("lease", f"payment:{rec.payment_id}"))
    other = s.store.lease(f"payment:{rec.payment_id}", "bot2", ttl=30)
    assert await other.acquire()
    before = await stored(s, rec.payment_id)
    finish_journal(rec, JournalOutcome.OK)
    done = Resolution(how=ResolutionHow.DISMISSED, by=FINANCE_USER, at=T0)
    with pytest.raises(LeaseNotHeld):
        await lifecycle.remedy_finished(s, rec, RESOLVED, resolution=done, lease=lease)
    after = await stored(s, rec.payment_id)
    assert after.model_dump() == before.model_dump()  # not overwritten
    assert await s.store.lease_holder(f"payment:{rec.payment_id}") == "bot2"  # not released


# ---- nobody else sets status -------------------------------------------------------------


def assignments_to(attrs: set[str], path: Path) -> list[int]:
    """Lines of ``path`` that assign ``<something>.<attr>`` for an attr in ``attrs``
    (plain, annotated, augmented or tuple assignments, and ``setattr(x, "attr", ...)``)."""
    lines: list[int] = []
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in attrs
        ):
            lines.append(node.lineno)
        while targets:
            t = targets.pop()
            if isinstance(t, ast.Tuple | ast.List):
                targets.extend(t.elts)
            elif isinstance(t, ast.Attribute) and t.attr in attrs:
                lines.append(t.lineno)
    return lines


def test_only_the_lifecycle_assigns_status_or_resolution() -> None:
    found = {
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "bot").rglob("*.py"))
        if path != ROOT / "bot" / "lifecycle.py"
        for line in assignments_to({"status", "resolution"}, path)
    }
    assert found == set()
    assert assignments_to({"status", "resolution"}, ROOT / "bot" / "lifecycle.py")  # the scan sees
