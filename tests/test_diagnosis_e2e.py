"""End to end over HTTP: the "all-causes" and "bad-settings" worlds in the QBO and
ConnectBooster sandboxes (port 0), the real CBClient lists the failed payments, the real
QBOClient (OAuth tokens in Redis) fetches the facts in bulk, and every failure gets the cause
the scenario built."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.diagnosis import diagnose, diagnose_many, fetch_facts
from bot.models import Cause, Certainty, RemedyKind
from bot.store.tokens import RedisTokenStore
from cb.client import CBClient
from cb.models import Payment
from qb.auth import OAuthClient, TokenRecord
from qb.client import QBOClient
from sandbox.cb import CBSandbox
from sandbox.qbo import QBOSandbox
from sandbox.scenarios import World, build
from sandbox.serving import serve

CB_KEY = "cb-e2e-key"


@dataclass
class Env:
    world: World
    qbo: QBOClient
    cb: CBClient
    auth: OAuthClient


async def _env(scenario: str, redis_client: aioredis.Redis, prefix: str) -> AsyncIterator[Env]:
    qbo_sbx = QBOSandbox()
    cb_sbx = CBSandbox(api_key=CB_KEY)
    world = build(scenario, qbo_sbx, cb_sbx)
    runners: list[web.AppRunner] = []
    session = aiohttp.ClientSession()
    try:
        runner, qbo_url = await serve(qbo_sbx.make_app())
        runners.append(runner)
        runner, cb_url = await serve(cb_sbx.make_app())
        runners.append(runner)
        store = RedisTokenStore(
            redis_client,
            f"{prefix}qbo:token",
            f"{prefix}qbo:token:lock",
            encryption_key=SecretStr(Fernet.generate_key().decode()),
        )
        # as after `qbo-connect`: only a refresh token; the first call refreshes over HTTP
        await store.save(
            TokenRecord(
                refresh_token=SecretStr(qbo_sbx.issue_refresh_token(world.realm_id)),
                realm_id=world.realm_id,
            )
        )
        auth = OAuthClient(
            session,
            client_id=qbo_sbx.client_id,
            client_secret=SecretStr(qbo_sbx.client_secret),
            token_url=f"{qbo_url}/oauth2/v1/tokens/bearer",
            store=store,
        )
        qbo = QBOClient(
            session,
            realm_id=world.realm_id,
            base_url=qbo_url,
            auth=auth,
            environment="sandbox",
            throttle_wait=0.01,
            backoff_base=0.001,
            backoff_cap=0.01,
        )
        cb = CBClient(session, base_url=cb_url, api_key=SecretStr(CB_KEY))
        yield Env(world, qbo, cb, auth)
    finally:
        await session.close()
        for r in runners:
            await r.cleanup()


@pytest.fixture
async def all_causes(redis_client: aioredis.Redis, redis_prefix: str) -> AsyncIterator[Env]:
    async for env in _env("all-causes", redis_client, redis_prefix):
        yield env


@pytest.fixture
async def bad_settings(redis_client: aioredis.Redis, redis_prefix: str) -> AsyncIterator[Env]:
    async for env in _env("bad-settings", redis_client, redis_prefix):
        yield env


async def _failed(env: Env) -> list[Payment]:
    return [p async for p in env.cb.list_payments("failed")]


async def test_every_all_causes_failure_is_diagnosed(all_causes: Env) -> None:
    env = all_causes
    failed = await _failed(env)
    assert {p.id for p in failed} == env.world.failed_ids
    stats = await env.cb.sync_stats(env.world.now - timedelta(days=7))
    before = env.qbo.stats.requests

    result = await diagnose_many(env.qbo, failed, failure_rate=stats.failure_rate)

    used = env.qbo.stats.requests - before
    assert env.auth.refreshes == 1  # the OAuth refresh went through the sandbox
    assert used <= 5  # three batch rounds, one CDC call (the refresh is not an API request)
    for pid, cause in env.world.expected.items():
        d = result[pid]
        assert d.cause == Cause(cause), (pid, env.world.notes[pid], d.summary)
        assert d.sync_error_code == env.world.expected_codes[pid]
        assert d.summary and d.next_step and d.remedies[0] is not None
    for pid, per_invoice in env.world.expected_by_invoice.items():
        d = result[pid]
        assert {f.invoice_id: f.cause.value for f in d.findings} == per_invoice
        assert d.cause is Cause.PAID_MANUALLY  # dominant over the credit memo
        assert d.remedies[0] is RemedyKind.RECREATE_PAYMENT  # the fine invoice's part is unpaid


async def test_remedies_follow_the_article(all_causes: Env) -> None:
    env = all_causes
    failed = await _failed(env)
    stats = await env.cb.sync_stats(env.world.now - timedelta(days=7))
    assert stats.failure_rate < 0.10
    result = await diagnose_many(env.qbo, failed, failure_rate=stats.failure_rate)
    first = {Cause(c): result[pid].remedies[0] for pid, c in env.world.expected.items()}
    assert first == {
        Cause.PAID_MANUALLY: RemedyKind.DISMISS_SYNC,
        Cause.CREDIT_MEMO: RemedyKind.UNAPPLY_CREDIT_MEMO,
        Cause.RECREATED: RemedyKind.RECREATE_PAYMENT,
        Cause.DELETED: RemedyKind.RECREATE_PAYMENT,
        Cause.VOIDED: RemedyKind.RECREATE_PAYMENT,
        Cause.AMOUNT_CHANGED: RemedyKind.RECREATE_PAYMENT,
        Cause.ALREADY_IN_QBO: RemedyKind.DISMISS_SYNC,
        Cause.INACTIVE_CUSTOMER: RemedyKind.REACTIVATE_CUSTOMER,
    }
    amounts = {p.id: p.amount for p in failed}
    for pid, d in result.items():
        # the books equation: Dismiss/Delete only when QuickBooks records exactly the amount
        books = d.books
        assert books is not None and books.amount == amounts[pid]
        dismissable = {RemedyKind.DISMISS_SYNC, RemedyKind.DELETE_HISTORY} & set(d.remedies)
        assert bool(dismissable) == books.reconciled, (pid, d.remedies, books)
    for pid, c in env.world.expected.items():
        books = result[pid].books
        assert books is not None
        if c in ("paid-manually", "already-in-qbo"):  # the whole amount, to the cent
            assert books.reconciled and result[pid].certainty is Certainty.CERTAIN
        else:
            assert books.recorded_total == 0, (c, books)
    recreated = next(pid for pid, c in env.world.expected.items() if c == "recreated")
    finding = result[recreated].findings[0]
    new_id = finding.replacement_invoice_id
    assert new_id and new_id != finding.invoice_id
    assert env.world.company.get("Invoice", new_id) is not None


async def test_inactive_customer_facts_carry_what_a_reactivation_needs(all_causes: Env) -> None:
    env = all_causes
    failed = await _failed(env)
    [pid] = [p for p, c in env.world.expected.items() if c == "inactive-customer"]
    payment = next(p for p in failed if p.id == pid)
    facts = await fetch_facts(env.qbo, failed)
    customer = facts.customers[payment.customer.qb_customer_id or ""]
    assert customer.active is False and customer.sync_token and customer.id
    d = diagnose(payment, facts)
    assert d.cause is Cause.INACTIVE_CUSTOMER and d.certainty is Certainty.CERTAIN
    assert d.remedies == [RemedyKind.REACTIVATE_CUSTOMER, RemedyKind.RECHECK]
    assert all(f.cause is Cause.INACTIVE_CUSTOMER for f in d.findings)
    active = [c for c in facts.customers.values() if c.active]
    assert active  # the other payments' customers are there too, active


async def test_bad_settings_world_is_credit_memos_and_high_rate(bad_settings: Env) -> None:
    env = bad_settings
    failed = await _failed(env)
    stats = await env.cb.sync_stats(env.world.now - timedelta(days=7))
    assert stats.failure_rate >= 0.10
    result = await diagnose_many(env.qbo, failed, failure_rate=stats.failure_rate)
    assert {pid: d.cause.value for pid, d in result.items()} == env.world.expected
    assert all(d.remedies[0] is RemedyKind.UNAPPLY_CREDIT_MEMO for d in result.values())
