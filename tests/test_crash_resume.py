"""Crash safety: a remedy cut short between its QuickBooks write and its ConnectBooster write
is finished at the next start-up, and QuickBooks holds exactly one payment."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.models import FailureStatus, RemedyKind
from bot.remedies import RemedyTimings, resume_unfinished, run_remedy
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


async def test_crash_between_qbo_create_and_cb_dismiss_then_restart(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = (await seed(w, ["recreated"]))["recreated"]

    async def die(_payment_id: str) -> Any:
        raise Crash

    monkeypatch.setattr(w.services.cb, "dismiss_sync", die)
    with pytest.raises(Crash):
        await run_remedy(w.services, rec.payment_id, RemedyKind.RECREATE_PAYMENT, FINANCE_USER)

    half = await w.services.store.get_failure(rec.payment_id)
    assert half is not None and half.remedy is not None and half.remedy.finished_at is None
    assert [(s.name, s.state) for s in half.remedy.steps] == [
        ("qbo_create_payment", "done"), ("cb_dismiss", "started")]
    assert len(qbo_payments(w, rec.payment.reference)) == 1
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.FAILED
    # meanwhile another click is told the payment is being handled, and does nothing
    assert await w.services.store.lease_holder(f"payment:{rec.payment_id}") == FINANCE_USER
    # (the message shows no buttons while in progress: a client that has not refreshed yet)
    await click(w, rec, RemedyKind.RECREATE_PAYMENT, user=FINANCE_USER_2, strict=False,
                value=encode_for(rec))
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
    assert [(s.name, s.state) for s in half.remedy.steps] == [("qbo_create_payment", "started")]
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


async def test_unknown_outcome_is_reported_then_repeated_safely(
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
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.FAILED
    monkeypatch.setattr(w.services.qbo, "create_payment", real_create)
    rec = failed
    await w.slack.wait_until(  # the redrawn message offers the button again
        lambda: REMEDY_ACTIONS[RemedyKind.RECREATE_PAYMENT].value in shown_actions(w, rec))
    await click(w, rec, RemedyKind.RECREATE_PAYMENT)
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    assert len(qbo_payments(w, rec.payment.reference)) == 1  # the repeat replayed
    assert done.remedy is not None and done.remedy.attempt == 2
    step = done.remedy.step("qbo_create_payment")
    assert step is not None and step.request_id == f"fp-{rec.payment_id}-create-1"
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.DISMISSED
