"""Crash safety: a remedy cut short between its ConnectBooster write and its QuickBooks write
is finished at the next start-up, and QuickBooks holds exactly one payment.

Updated for issue 14 where the old behaviour was a named defect: Recreate now dismisses
syncing *before* it creates (a sync landing in between could duplicate the payment), so the
crash window is between the dismissal and the create; request ids are a hash of the payment,
the plan's digest, the step and the attempt (the old ``fp-<payment>-create-<n>`` was truncated
for long ids). A write whose outcome is unknown and did land is seen by the next plan: the
message then offers what is left (Dismiss Syncing), never a second create."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.models import FailureStatus, RemedyKind
from bot.remedies import RemedyTimings, request_id, resume_unfinished, run_remedy
from bot.slack.ids import REMEDY_ACTIONS
from cb.models import SyncStatus
from qb.errors import TransportError
from tests.harness import FINANCE_USER, FINANCE_USER_2, World, world
from tests.test_remedies_e2e import (
    click,
    encode_for,
    qbo_payments,
    seed,
    shown_actions,
    thread_texts,
    until_status,
)

FAST = RemedyTimings(lease_ttl=1.0, resume_poll=0.05)
"""A dead holder's lease expires quickly, and the resumer looks again often."""


class Crash(BaseException):
    """The process dies here (not an error the bot could handle)."""


@pytest.fixture
async def w(redis_url: str, redis_prefix: str, redis_client: aioredis.Redis) -> Any:
    async with world(redis_url, redis_prefix, "all-causes") as built:
        built.services.remedy_timings = FAST
        yield built


async def _restart(w: World) -> None:
    """The crashed process is gone (no draining); a new one starts and resumes."""
    await w.stop_bot(w.bot, drain=False)
    (await w.start_bot()).services.remedy_timings = FAST
    await resume_unfinished(w.services)


async def test_crash_between_cb_dismiss_and_qbo_create_then_restart(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = (await seed(w, ["recreated"]))["recreated"]

    async def die(_p: Any, *, request_id: str) -> Any:
        raise Crash

    monkeypatch.setattr(w.services.qbo, "create_payment", die)
    with pytest.raises(Crash):
        await run_remedy(w.services, rec.payment_id, RemedyKind.RECREATE_PAYMENT, FINANCE_USER)

    half = await w.services.store.get_failure(rec.payment_id)
    assert half is not None and half.remedy is not None and half.remedy.finished_at is None
    assert [(s.name, s.state) for s in half.remedy.steps] == [
        ("cb_dismiss", "done"),
        ("qbo_create_payment", "started"),
    ]
    assert qbo_payments(w, rec.payment.reference) == []
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.DISMISSED
    # meanwhile another click is told the payment is being handled, and does nothing
    assert await w.services.store.lease_holder(f"payment:{rec.payment_id}") == FINANCE_USER
    # (the message shows no buttons while in progress: a client that has not refreshed yet)
    await click(
        w,
        rec,
        RemedyKind.RECREATE_PAYMENT,
        user=FINANCE_USER_2,
        strict=False,
        value=encode_for(rec),
    )
    await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER_2)))
    assert "already being handled by <@U0FINANCE1>" in w.slack.ephemeral(FINANCE_USER_2)[-1].text

    await _restart(w)
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.DISMISSED
    assert len(qbo_payments(w, rec.payment.reference)) == 1
    assert done.resolution is not None and done.resolution.how == "recreated"
    assert done.remedy is not None and done.remedy.attempt == 1
    await w.slack.wait_until(lambda: any("after a restart" in t for t in thread_texts(w, rec)))


async def test_crash_after_qbo_answered_replays_the_same_requestid(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = (await seed(w, ["recreated"]))["recreated"]
    real_create = w.services.qbo.create_payment
    seen: list[str] = []

    async def create_then_die(p: Any, *, request_id: str) -> Any:
        seen.append(request_id)
        await real_create(p, request_id=request_id)
        raise Crash  # QuickBooks wrote it; the journal never heard

    monkeypatch.setattr(w.services.qbo, "create_payment", create_then_die)
    with pytest.raises(Crash):
        await run_remedy(w.services, rec.payment_id, RemedyKind.RECREATE_PAYMENT, FINANCE_USER)
    half = await w.services.store.get_failure(rec.payment_id)
    assert half is not None and half.remedy is not None
    assert [(s.name, s.state) for s in half.remedy.steps] == [
        ("cb_dismiss", "done"),
        ("qbo_create_payment", "started"),
    ]
    assert len(qbo_payments(w, rec.payment.reference)) == 1

    await _restart(w)
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    assert len(qbo_payments(w, rec.payment.reference)) == 1  # replayed, not written twice
    step = done.remedy.step("qbo_create_payment") if done.remedy else None
    assert step is not None and step.request_id == seen[0]
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.DISMISSED


async def test_lost_qbo_answer_is_retried_with_the_same_requestid(w: World) -> None:
    rec = (await seed(w, ["recreated"]))["recreated"]
    w.qbo.drop_responses = 1  # QuickBooks writes, but the answer never arrives
    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    assert len(qbo_payments(w, rec.payment.reference)) == 1
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.DISMISSED


async def test_unknown_outcome_not_written_is_repeated_with_the_same_requestid(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = (await seed(w, ["recreated"]))["recreated"]
    real_create = w.services.qbo.create_payment

    async def lost_on_the_way(p: Any, *, request_id: str) -> Any:
        raise TransportError("POST /payment: Server disconnected")  # never reached QuickBooks

    monkeypatch.setattr(w.services.qbo, "create_payment", lost_on_the_way)
    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    failed = await until_status(w, rec.payment_id, FailureStatus.OPEN)
    assert failed.remedy is not None and failed.remedy.outcome == "failed"
    assert failed.remedy.plan is not None
    assert "may or may not" in (failed.remedy.error or "")
    assert "Syncing is already dismissed" in (failed.remedy.error or "")
    first = failed.remedy.step("qbo_create_payment")
    assert first is not None and first.state == "started"
    assert first.request_id == request_id(
        rec.payment_id, failed.remedy.plan.digest(), "qbo_create_payment", 1
    )
    # dismissed by its own remedy: still failing as far as the plans go, and not resolved
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.DISMISSED
    monkeypatch.setattr(w.services.qbo, "create_payment", real_create)
    rec = failed
    await w.slack.wait_until(  # the redrawn message offers the button again
        lambda: REMEDY_ACTIONS[RemedyKind.RECREATE_PAYMENT].value in shown_actions(w, rec)
    )
    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    assert len(qbo_payments(w, rec.payment.reference)) == 1
    assert done.remedy is not None and done.remedy.attempt == 2
    step = done.remedy.step("qbo_create_payment")
    assert step is not None and step.request_id == first.request_id  # the same plan, continued
    assert done.resolution is not None and done.resolution.how == "recreated"


async def test_unknown_outcome_that_landed_is_never_created_twice(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = (await seed(w, ["recreated"]))["recreated"]
    real_create = w.services.qbo.create_payment

    async def written_but_unanswered(p: Any, *, request_id: str) -> Any:
        await real_create(p, request_id=request_id)
        raise TransportError("POST /payment: Server disconnected")

    monkeypatch.setattr(w.services.qbo, "create_payment", written_but_unanswered)
    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    failed = await until_status(w, rec.payment_id, FailureStatus.OPEN)
    assert failed.remedy is not None and failed.remedy.outcome == "failed"
    assert "may or may not" in (failed.remedy.error or "")
    monkeypatch.setattr(w.services.qbo, "create_payment", real_create)
    # planned again after the failure: QuickBooks records it all now, so only Dismiss is left
    assert RemedyKind.RECREATE_PAYMENT not in {k for k, p in failed.plans.items() if p.offered}
    assert failed.plans[RemedyKind.DISMISS_SYNC].may_run
    # a click on the old Recreate button writes nothing
    await click(
        w,
        rec,
        RemedyKind.RECREATE_PAYMENT,
        user=FINANCE_USER_2,
        strict=False,
        value=encode_for(failed),
    )
    await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER_2)))
    assert len(qbo_payments(w, rec.payment.reference)) == 1
    await click(w, failed, RemedyKind.DISMISS_SYNC)
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    assert len(qbo_payments(w, rec.payment.reference)) == 1
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.DISMISSED
    assert done.remedy is not None and done.remedy.kind == RemedyKind.DISMISS_SYNC
