"""What ``/slack/events`` answers to requests that are not good clicks: forged or stale
signatures (401), bodies that are not Slack payloads or that nothing handles (400), button
values we never drew, and Redis going away — and that the app keeps serving afterwards.
And the path of a plan's digest: a button drawn from a plan hands its digest to the remedy,
a plan too long for a dialog is confirmed in a modal whose submission does the same (finance
only), and the clicker of a changed plan is told what changed."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
import redis.asyncio as aioredis

import handlers.actions
import handlers.views
from bot.errors import error_text
from bot.models import (
    FailureRecord,
    FailureStatus,
    PlannedWrite,
    RemedyKind,
    RemedyPlan,
    Resolution,
    ResolutionHow,
    WriteKind,
)
from bot.remedies import RemedyOutcome, RemedyResult
from bot.slack.blocks import changed_plan_text
from bot.slack.ids import ALL_ACTION_IDS, ALL_VIEW_IDS, REMEDY_ACTIONS, ActionId, ViewId
from bot.slack.messages import refresh_message
from cb.models import SyncStatus
from handlers.errors import payload_problem
from tests.harness import FINANCE_USER, OUTSIDER, World, world
from tests.test_remedies_e2e import click, seed, until_status


@pytest.fixture
async def w(redis_url: str, redis_prefix: str, redis_client: aioredis.Redis) -> Any:
    async with world(redis_url, redis_prefix, "all-causes") as built:
        yield built


def _click_payload(rec: Any, action_id: str, value: str, user: str = FINANCE_USER) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "api_app_id": "A0SANDBOX",
        "team": {"id": "T0SANDBOX"},
        "container": {
            "type": "message",
            "message_ts": rec.slack.ts,
            "channel_id": rec.slack.channel,
        },
        "channel": {"id": rec.slack.channel},
        "trigger_id": "1.T0SANDBOX.x",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "value": value,
                "block_id": "b",
                "action_ts": "1",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


async def test_forged_or_stale_signature_is_401_and_changes_nothing(w: World) -> None:
    rec = (await seed(w, ["paid-manually"]))["paid-manually"]
    value = json.dumps({"p": rec.payment_id, "a": 0})
    body = _click_payload(rec, REMEDY_ACTIONS[RemedyKind.DISMISS_SYNC].value, value)
    forged = await w.slack.post_raw(w.bot.events_url, body, forge=True)
    stale = await w.slack.post_raw(w.bot.events_url, body, age_seconds=6 * 60)
    unsigned = await w.slack.post_raw(w.bot.events_url, body, signed=False)
    assert (forged.status, stale.status, unsigned.status) == (401, 401, 401)
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.FAILED
    assert (await w.services.store.get_failure(rec.payment_id)).remedy is None  # type: ignore[union-attr]

    # the same body, signed now, works: the app kept serving
    ok = await w.slack.post_raw(w.bot.events_url, body)
    assert ok.status == 200
    await until_status(w, rec.payment_id, FailureStatus.RESOLVED)


@pytest.mark.parametrize(
    "body",
    [
        b"payload=%7Bnot+json",
        b"payload=%5B1%2C2%5D",
        b"payload=%7B%22no_type%22%3A1%7D",
        b"\xff\xfe\x00garbage",
        b"hello=world",
        b"",
    ],
)
async def test_malformed_payload_is_400_and_app_keeps_serving(w: World, body: bytes) -> None:
    resp = await w.slack.post_raw(w.bot.events_url, body)
    assert resp.status == 400, resp.body
    assert "error" in resp.json()
    health = await w.slack.post_raw(w.bot.url + "/healthz", b"")  # any route still answers
    assert health.status in (200, 405)
    rec = (await seed(w, ["paid-manually"]))["paid-manually"]
    await click(w, rec, RemedyKind.DISMISS_SYNC)
    await until_status(w, rec.payment_id, FailureStatus.RESOLVED)


async def test_unknown_payload_is_400(w: World) -> None:
    rec = (await seed(w, ["paid-manually"]))["paid-manually"]
    unknown_action = _click_payload(rec, "fp_not_a_button", json.dumps({"p": rec.payment_id}))
    unknown_type = urlencode(
        {"payload": json.dumps({"type": "nonsense_event", "user": {"id": FINANCE_USER}})}
    ).encode()
    for body in (unknown_action, unknown_type):
        resp = await w.slack.post_raw(w.bot.events_url, body)
        assert resp.status == 400, resp.body
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.FAILED


@pytest.mark.parametrize("value", ["garbage", '{"x":1}', '{"p":"pmt_nope","a":0}', ""])
async def test_button_value_not_ours_gets_a_specific_answer(w: World, value: str) -> None:
    rec = (await seed(w, ["paid-manually"]))["paid-manually"]
    resp = await w.slack.click(
        w.bot.events_url,
        message_ts=rec.slack.ts,  # type: ignore[union-attr]
        channel=rec.slack.channel,  # type: ignore[union-attr]
        action_id=ActionId.DISMISS_SYNC.value,
        value=value,
        user_id=FINANCE_USER,
        strict=False,
    )
    assert resp.status == 200
    await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER)))
    text = w.slack.ephemeral(FINANCE_USER)[-1].text
    assert "not one of ours" in text or "no record of that payment" in text
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.FAILED


async def test_redis_down_gets_try_again_and_nothing_changes(w: World) -> None:
    rec = (await seed(w, ["paid-manually"]))["paid-manually"]
    good_pool = w.services.redis.connection_pool
    w.services.redis.connection_pool = aioredis.ConnectionPool.from_url(
        "redis://127.0.0.1:1/0", socket_connect_timeout=0.2
    )
    try:
        await click(w, rec, RemedyKind.DISMISS_SYNC)
        await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER)))
    finally:
        await w.services.redis.connection_pool.disconnect()
        w.services.redis.connection_pool = good_pool
    assert "storage is not answering" in w.slack.ephemeral(FINANCE_USER)[-1].text
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.FAILED


async def test_every_remedy_action_and_view_has_a_listener(w: World) -> None:
    """A click on each remedy button and a submission of each modal reaches a listener
    (an unhandled one would be answered 400 by the guard)."""
    rec = (await seed(w, ["paid-manually"]))["paid-manually"]
    mine = ALL_ACTION_IDS - {ActionId.LIST_NEXT.value, ActionId.LIST_PREV.value}
    for action_id in sorted(mine):
        resp = await w.slack.post_raw(w.bot.events_url, _click_payload(rec, action_id, "x"))
        assert resp.status == 200, action_id
    for view_id in sorted(ALL_VIEW_IDS):
        payload = {
            "type": "view_submission",
            "user": {"id": FINANCE_USER},
            "team": {"id": "T0SANDBOX"},
            "api_app_id": "A0SANDBOX",
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": view_id,
                "private_metadata": "gone",
                "state": {"values": {}},
            },
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        resp = await w.slack.post_raw(w.bot.events_url, body)
        assert resp.status == 200, view_id
        answer = resp.json()
        if view_id == ViewId.CONFIRM_PLAN:  # no input to hang an error on: the view says it
            assert answer["response_action"] == "update"
            assert "out of date" in json.dumps(answer["view"])
        else:
            assert answer["response_action"] == "errors"  # the form's context is gone
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.FAILED


def test_payload_problem_and_error_text_are_specific() -> None:
    good = {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "a"}]}
    assert payload_problem(urlencode({"payload": json.dumps(good)}).encode(), None) is None
    no_actions = {"type": "block_actions", "user": {"id": "U1"}}
    assert payload_problem(urlencode({"payload": json.dumps(no_actions)}).encode(), None)
    assert payload_problem(b"command=%2Ffailed-payments&text=", None) is None
    assert payload_problem(b'{"type":"url_verification"}', "application/json") is None
    assert payload_problem(b"payload=oops", None) == "the interaction payload is not JSON"
    from bot.runtime.services import ShuttingDown
    from bot.store import StoreUnavailable
    from cb.errors import Conflict
    from qb.errors import ThrottledError

    assert "try again" in error_text(StoreUnavailable("x")).lower()
    assert "restarting" in error_text(ShuttingDown("x"))
    assert "ConnectBooster refused" in error_text(Conflict(message="payment is synced"))
    assert "busy" in error_text(ThrottledError("throttled"))


# ---- a plan's digest, from the button to the remedy -------------------------------------------


def dismiss_plan(rec: FailureRecord, *, notes: int = 0) -> RemedyPlan:
    """A Dismiss Syncing plan for ``rec``; ``notes`` long notes make it too long for a dialog."""
    return RemedyPlan(
        kind=RemedyKind.DISMISS_SYNC,
        payment_id=rec.payment_id,
        reference=rec.payment.reference,
        amount=rec.payment.amount,
        recorded_before=rec.payment.amount,
        recorded_after=rec.payment.amount,
        writes=(
            PlannedWrite(
                step="cb_dismiss",
                kind=WriteKind.CB_DISMISS,
                target_id=rec.payment_id,
                reads_as=f"Dismiss syncing of {rec.payment.reference} in ConnectBooster",
            ),
        ),
        notes=(
            "Nothing changes in QuickBooks.",
            *(f"Note {i}: " + "the books stay as they are. " * 4 for i in range(notes)),
        ),
    )


async def with_plan(w: World, rec: FailureRecord, plan: RemedyPlan) -> FailureRecord:
    """``rec`` offering Dismiss Syncing from ``plan``, stored and its message redrawn."""
    assert rec.diagnosis is not None
    rec.diagnosis.remedies = [RemedyKind.DISMISS_SYNC]
    rec.plans = {RemedyKind.DISMISS_SYNC: plan}
    await w.services.store.put_failure(rec)
    assert await refresh_message(w.services, rec)
    return rec


class Runs:
    """Stands in for ``run_remedy`` behind the listeners: records each call and answers that
    the plan changed (the runner's own re-check is the remedies' tests' business)."""

    def __init__(self, new_plan: RemedyPlan) -> None:
        self.calls: list[dict[str, Any]] = []
        self.new_plan = new_plan

    async def __call__(
        self, services: Any, payment_id: str, kind: RemedyKind, user: str, **kw: Any
    ) -> RemedyOutcome:
        self.calls.append({"payment_id": payment_id, "kind": kind, "user": user, **kw})
        return RemedyOutcome(
            kind, payment_id, RemedyResult.CHANGED, changed_plan_text(None, self.new_plan)
        )


def confirm_views(w: World) -> list[Any]:
    return [
        v
        for v in w.slack.views.values()
        if v.view.get("callback_id") == ViewId.CONFIRM_PLAN.value and not v.closed
    ]


async def test_a_plan_button_hands_its_digest_to_the_remedy(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = (await seed(w, ["paid-manually"]))["paid-manually"]
    plan = dismiss_plan(rec)
    await with_plan(w, rec, plan)
    runs = Runs(dismiss_plan(rec, notes=1))
    monkeypatch.setattr(handlers.actions, "run_remedy", runs)
    await click(w, rec, RemedyKind.DISMISS_SYNC)
    await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER)))
    [call] = runs.calls
    assert call["expected_digest"] == plan.digest()
    assert call["expected_attempt"] == 0 and call["kind"] == RemedyKind.DISMISS_SYNC
    told = w.slack.ephemeral(FINANCE_USER)[-1].text
    assert told.startswith("*Dismiss Syncing* was not done") and "nothing was written" in told
    assert confirm_views(w) == []  # a plan that fits its dialog opens no modal


async def test_a_long_plan_is_confirmed_in_a_modal_then_run_with_its_digest(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = (await seed(w, ["paid-manually"]))["paid-manually"]
    plan = dismiss_plan(rec, notes=4)
    await with_plan(w, rec, plan)
    runs = Runs(dismiss_plan(rec))
    monkeypatch.setattr(handlers.actions, "run_remedy", runs)
    monkeypatch.setattr(handlers.views, "run_remedy", runs)

    await click(w, rec, RemedyKind.DISMISS_SYNC)
    await w.slack.wait_until(lambda: bool(confirm_views(w)))
    [opened] = confirm_views(w)
    shown = [
        line
        for b in opened.view["blocks"]
        if b["type"] == "section" and b["text"]["type"] == "plain_text"
        for line in b["text"]["text"].split("\n")
    ]
    assert shown == plan.lines()
    assert runs.calls == []  # the click only opened the modal

    # someone who may not act: the modal says so, nothing runs
    refused = await w.slack.submit_view(w.bot.events_url, opened.id, {}, OUTSIDER)
    assert refused.status == 200
    answer = refused.json()
    assert answer["response_action"] == "update"
    assert "no longer act" in json.dumps(answer["view"])
    assert runs.calls == []

    await click(w, rec, RemedyKind.DISMISS_SYNC)
    await w.slack.wait_until(lambda: bool(confirm_views(w)))
    [again] = confirm_views(w)
    ok = await w.slack.submit_view(w.bot.events_url, again.id, {}, FINANCE_USER)
    assert ok.status == 200 and not ok.body.strip()  # acked: the modal closes
    await w.slack.wait_until(lambda: bool(runs.calls))
    [call] = runs.calls
    assert (call["payment_id"], call["kind"], call["user"]) == (
        rec.payment_id,
        RemedyKind.DISMISS_SYNC,
        FINANCE_USER,
    )
    assert call["expected_digest"] == plan.digest() and call["expected_attempt"] == 0
    await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER)))
    assert "was not done" in w.slack.ephemeral(FINANCE_USER)[-1].text
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.FAILED


async def test_a_confirmation_submitted_after_the_payment_resolved_runs_nothing(w: World) -> None:
    """The submission goes through the real runner: the payment resolved meanwhile, so the
    submitter is told and nothing is written."""
    rec = (await seed(w, ["paid-manually"]))["paid-manually"]
    await with_plan(w, rec, dismiss_plan(rec, notes=4))
    await click(w, rec, RemedyKind.DISMISS_SYNC)
    await w.slack.wait_until(lambda: bool(confirm_views(w)))
    [opened] = confirm_views(w)
    stored = await w.services.store.get_failure(rec.payment_id)
    assert stored is not None
    stored.status = FailureStatus.RESOLVED
    stored.resolution = Resolution(how=ResolutionHow.SYNCED)
    await w.services.store.put_failure(stored)
    await w.slack.submit_view(w.bot.events_url, opened.id, {}, FINANCE_USER)
    await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER)))
    assert "Already resolved" in w.slack.ephemeral(FINANCE_USER)[-1].text
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.FAILED


async def test_a_modal_button_out_of_date_opens_nothing(w: World) -> None:
    rec = (await seed(w, ["paid-manually"]))["paid-manually"]
    await with_plan(w, rec, dismiss_plan(rec, notes=4))
    stored = await w.services.store.get_failure(rec.payment_id)
    assert stored is not None
    stored.plans = {
        RemedyKind.DISMISS_SYNC: dismiss_plan(rec, notes=4).model_copy(
            update={
                "refusal": "QuickBooks records $1.00 less than was paid.",
                "recorded_before": rec.payment.amount - Decimal(1),
            }
        )
    }
    await w.services.store.put_failure(stored)  # the message still shows the old button
    await click(w, rec, RemedyKind.DISMISS_SYNC)
    await w.slack.wait_until(lambda: bool(w.slack.ephemeral(FINANCE_USER)))
    assert "out of date" in w.slack.ephemeral(FINANCE_USER)[-1].text
    assert confirm_views(w) == []
    assert rec.slack is not None
    msg = w.slack.message(rec.slack.channel, rec.slack.ts)
    assert msg is not None  # redrawn from the record: no Dismiss button, and why
    assert ActionId.DISMISS_SYNC.value not in [el["action_id"] for _, el in msg.action_elements()]
    assert "is not offered: QuickBooks records $1.00 less" in json.dumps(msg.blocks)
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.FAILED
