"""Upstream storms: QuickBooks 429s (the XML throttle body) and 5xx bursts, ConnectBooster
outages and 429s, Slack 429s with ``Retry-After``. The real clients (over loopback HTTP to
the stand-ins) back off and succeed, or raise a typed error; the poller posts every failure
exactly once despite the storms, and a remedy under a storm finishes or says why not."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from bot.models import FailureStatus, RemedyKind
from bot.poll.cycle import poll_once
from bot.runtime.services import Services
from cb import errors as cbe
from qb import errors as qbe
from qb.models import Invoice, Ref
from qb.models import Payment as QBPayment
from tests.harness import FAILED_CHANNEL, FINANCE_USER, World, world
from tests.test_poller import posted_ids
from tests.test_remedies_e2e import click, eventually, qbo_payments, seed, until_status
from tests.test_secrets_guard import no_secrets_in_logs  # noqa: F401 (the autouse scan)


def fast_backoff(s: Services) -> None:
    """Keep the clients' back-off shape but in milliseconds (QBO sends no Retry-After on a
    429 and the client waits ``throttle_wait`` then; 60 s in production)."""
    s.qbo.throttle_wait = 0.005
    s.qbo.backoff_base, s.qbo.backoff_cap = 0.002, 0.02
    s.cb._backoff_base, s.cb._backoff_cap = 0.002, 0.02  # type: ignore[attr-defined]


@pytest.fixture
async def w(redis_url: str, redis_prefix: str) -> Any:
    async with world(redis_url, redis_prefix, "all-causes") as built:
        for bot in built.bots:
            fast_backoff(bot.services)
        yield built


def some_invoice(w: World) -> str:
    return str(w.company.all("Invoice")[0]["Id"])


# ---- QuickBooks -----------------------------------------------------------------------------


async def test_qbo_429_storm_is_waited_out(w: World) -> None:
    qbo = w.services.qbo
    w.qbo.throttle(qbo.max_retries)  # the XML <Fault> throttle body, status 429
    inv = await qbo.get(Invoice, some_invoice(w))
    assert inv.id == some_invoice(w)
    assert qbo.stats.throttled == qbo.max_retries


async def test_qbo_429_storm_longer_than_the_retries_raises_throttled(w: World) -> None:
    qbo = w.services.qbo
    w.qbo.throttle(qbo.max_retries + 1)
    with pytest.raises(qbe.ThrottledError):
        await qbo.get(Invoice, some_invoice(w))
    assert (await qbo.get(Invoice, some_invoice(w))).id  # and the next call works


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_qbo_5xx_burst_is_retried(w: World, status: int) -> None:
    qbo = w.services.qbo
    w.qbo.storm(qbo.max_retries, status)
    assert (await qbo.get(Invoice, some_invoice(w))).id == some_invoice(w)
    with_storm = qbo.stats.retries
    assert with_storm >= qbo.max_retries


async def test_qbo_outage_raises_a_typed_error_not_a_crash(w: World) -> None:
    w.qbo.outage = True
    with pytest.raises(qbe.QBOError):
        await w.services.qbo.get(Invoice, some_invoice(w))
    w.qbo.outage = False
    assert (await w.services.qbo.get(Invoice, some_invoice(w))).id


async def test_qbo_answer_lost_on_a_write_is_replayed_not_repeated(w: World) -> None:
    """QBO processes a create, then the connection drops before the answer: the client
    retries with the same requestid and QuickBooks replays the first answer: one payment."""
    cust = w.company.all("Customer")[0]["Id"]
    body = QBPayment(
        customer_ref=Ref(value=str(cust)), total_amt=Decimal("12.34"), payment_ref_num="CBSTORM1"
    )
    w.qbo.drop_responses = 1
    made = await w.services.qbo.create_payment(body, request_id="fp-storm-replay-1")
    assert made.id
    assert len(qbo_payments(w, "CBSTORM1")) == 1
    again = await w.services.qbo.create_payment(body, request_id="fp-storm-replay-1")
    assert again.id == made.id and len(qbo_payments(w, "CBSTORM1")) == 1


# ---- ConnectBooster -------------------------------------------------------------------------


async def test_cb_5xx_burst_and_429_are_retried(w: World) -> None:
    pid = next(iter(w.scenario.failed_ids))
    w.cb.inject(503, 2)
    w.cb.inject(429, 2, retry_after=0)
    p = await w.services.cb.get_payment(pid)
    assert p.id == pid
    assert w.services.cb.stats.retries >= 4


async def test_cb_outage_raises_a_typed_error_then_recovers(w: World) -> None:
    pid = next(iter(w.scenario.failed_ids))
    w.cb.outage = True
    with pytest.raises(cbe.CBError):
        await w.services.cb.get_payment(pid)
    w.cb.outage = False
    assert (await w.services.cb.get_payment(pid)).id == pid


# ---- Slack ----------------------------------------------------------------------------------


async def test_slack_429_with_retry_after_is_waited_out(w: World) -> None:
    w.slack.inject_error("chat.postMessage", "ratelimited", status=429, retry_after=0, times=2)
    resp = await w.services.slack.chat_postMessage(channel=FAILED_CHANNEL, text="hello")
    assert resp["ok"]
    assert w.slack.rate_limited_count() == 2
    assert [m.text for m in w.slack.messages(FAILED_CHANNEL)] == ["hello"]


# ---- the poller through all of it -----------------------------------------------------------


async def poll_until_all_posted(w: World, expected: set[str], within: float = 30.0) -> int:
    """Run poll cycles (errors are what run_poller logs and retries) until every expected
    failure is posted; returns how many cycles failed on the way."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    failed = 0
    while not expected <= set(posted_ids(w)):
        assert loop.time() < deadline, f"posted {len(set(posted_ids(w)))}/{len(expected)}"
        try:
            await poll_once(w.services, post_interval=0)
        except (qbe.QBOError, cbe.CBError, Exception) as exc:  # what run_poller survives
            assert not isinstance(exc, AssertionError)
            failed += 1
    return failed


async def test_every_failure_posted_once_through_storms_on_all_three(w: World) -> None:
    expected = w.scenario.failed_ids
    w.qbo.throttle(6)
    w.qbo.storm(6, 503)
    w.cb.inject(503, 3)
    w.cb.inject(429, 2, retry_after=0)
    w.slack.inject_error("chat.postMessage", "ratelimited", status=429, retry_after=0, times=3)
    w.slack.inject_error("chat.postMessage", "internal_error", status=500, times=1)
    w.cb.outage = True
    failed_cycles = 0
    try:
        await poll_once(w.services, post_interval=0)
    except cbe.CBError:
        failed_cycles += 1
    w.cb.outage = False
    failed_cycles += await poll_until_all_posted(w, expected)
    assert failed_cycles >= 1  # the outage did fail a cycle
    assert Counter(posted_ids(w)) == Counter(dict.fromkeys(expected, 1))
    for pid in expected:
        rec = await w.services.store.get_failure(pid)
        assert rec is not None and rec.slack is not None and rec.diagnosis is not None


async def test_random_5xx_on_every_service_still_posts_each_once(w: World) -> None:
    w.qbo.error_rate = 0.25
    w.qbo.rng.seed(11)
    w.cb.inject(500, 4)
    await poll_until_all_posted(w, w.scenario.failed_ids, within=60)
    w.qbo.error_rate = 0.0
    await poll_once(w.services, post_interval=0)  # a calm cycle posts nothing again
    assert Counter(posted_ids(w)) == Counter(dict.fromkeys(w.scenario.failed_ids, 1))


async def test_remedy_under_a_qbo_storm_finishes_or_reports(w: World) -> None:
    rec = (await seed(w, ["recreated"]))["recreated"]
    w.qbo.storm(20, 503)  # more than the client's retries: the remedy must say so
    await click(w, rec, RemedyKind.RECREATE_PAYMENT)

    async def finished() -> bool:
        r = await w.services.store.get_failure(rec.payment_id)
        return r is not None and r.remedy is not None and r.remedy.finished_at is not None

    await eventually(finished)
    failed = await w.services.store.get_failure(rec.payment_id)
    assert failed is not None and failed.status == FailureStatus.OPEN
    assert failed.remedy is not None and failed.remedy.outcome == "failed"
    assert failed.remedy.error
    assert len(qbo_payments(w, rec.payment.reference)) <= 1
    w.qbo.storm(0)
    # pressing again (the button drawn for the failed attempt) finishes it, once
    fresh = await w.services.store.get_failure(rec.payment_id)
    assert fresh is not None and fresh.slack is not None
    await w.slack.wait_until(
        lambda: any(
            el.get("action_id") == "fp_recreate_payment"
            for _, el in w.slack.message(fresh.slack.channel, fresh.slack.ts).action_elements()
        )
    )
    await click(w, fresh, RemedyKind.RECREATE_PAYMENT, user=FINANCE_USER)
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    assert done.remedy is not None and done.remedy.outcome == "ok"
    assert len(qbo_payments(w, rec.payment.reference)) == 1
