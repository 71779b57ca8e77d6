"""The bot in Socket Mode, end to end, with the same cases as over HTTP: the bot opens its
connection with ``apps.connections.open`` (the app-level token, through ``SLACK_API_URL``)
on the Slack stand-in (:mod:`sandbox.slack.socket_mode`), which sends it a
``/failed-payments`` command, remedy clicks and a modal submission as envelopes — the very
payloads the HTTP driver signs and POSTs — and checks each is acknowledged within 3 s. The
books change in the QBO and ConnectBooster stand-ins; a real Redis.

A ``refresh_requested`` disconnect in the middle of a burst of clicks and commands: the bot
reconnects through ``apps.connections.open``, every envelope is acknowledged exactly once
and in time, every remedy runs once, every command is answered once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest
import redis.asyncio as aioredis

from bot.models import FailureRecord, FailureStatus, RemedyKind
from bot.slack.ids import (
    KEEP_AS_CREDIT,
    RECREATE_TARGET_ACTION,
    RECREATE_TARGET_BLOCK,
    REMEDY_ACTIONS,
    ViewId,
)
from cb.models import SyncStatus
from handlers.socket_mode import SocketModeRefused
from sandbox.slack import ACK_WITHIN, Envelope, EnvelopeType, SlackSandbox
from tests.harness import BOT_TOKEN, FAILED_CHANNEL, FINANCE_USER, World, world
from tests.test_remedies_e2e import qbo_payments, seed, shown_actions, until_status

CMD = "/failed-payments"


@pytest.fixture
async def w(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> AsyncIterator[World]:
    async with world(redis_url, redis_prefix, "all-causes", socket_mode=True) as built:
        built.slack.rate_limit_enabled = False
        yield built


async def socket_click(
    w: World, rec: FailureRecord, kind: RemedyKind, user: str = FINANCE_USER
) -> Envelope:
    assert rec.slack is not None
    env = await w.slack.socket_click(
        message_ts=rec.slack.ts,
        channel=rec.slack.channel,
        action_id=REMEDY_ACTIONS[kind].value,
        user_id=user,
    )
    assert env.in_time, w.slack.ack_problems()
    return env


async def answers(w: World, n: int, user: str = FINANCE_USER) -> None:
    """Wait until ``user`` was shown ``n`` ephemeral messages."""
    await w.slack.wait_until(lambda: len(w.slack.ephemeral(user)) >= n, within=15)


async def test_the_bot_connects_with_its_app_token_through_slack_api_url(w: World) -> None:
    [opened] = w.slack.calls_to("apps.connections.open")
    assert opened.ok
    [conn] = w.slack.socket_connections
    assert conn.usable
    assert w.bot.socket is not None and await w.bot.socket.client.is_connected()
    # the bot's web client speaks to the stand-in (SLACK_API_URL), with the bot token
    assert w.bot.socket.client.web_client is w.services.slack
    assert w.services.slack.base_url == f"{w.slack_url}/api/"


async def test_a_token_slack_refuses_stops_the_start_with_a_clear_message(
    redis_url: str, redis_prefix: str
) -> None:
    async with world(redis_url, redis_prefix, None, bots=0) as w:
        for token, error in (
            ("xapp-1-A0SANDBOX-not-the-one", "invalid_auth"),
            (BOT_TOKEN, "not_allowed_token_type"),
        ):
            with pytest.raises(SocketModeRefused) as caught:
                await w.start_bot(socket_mode=True, slack_app_token=token)
            assert error in str(caught.value) and "SLACK_APP_TOKEN" in str(caught.value)
            assert token not in str(caught.value)
        assert w.bots == [] and w.slack.socket_connections == []


async def test_a_command_is_acked_in_time_and_answered(w: World) -> None:
    recs = await seed(w, ["paid-manually", "recreated"])
    env = await w.slack.socket_command(CMD, "list", user_id=FINANCE_USER, channel_id=FAILED_CHANNEL)
    assert env.in_time and env.type == EnvelopeType.SLASH_COMMANDS
    await answers(w, 1)
    [shown] = w.slack.ephemeral(FINANCE_USER)
    listed = shown.text + str(shown.blocks)
    for rec in recs.values():
        assert rec.payment.customer.name in listed
    assert not [c for c in w.slack.calls_to("response_url") if not c.ok]
    assert w.slack.ack_problems() == []


async def test_a_remedy_click_changes_the_books(w: World) -> None:
    rec = (await seed(w, ["recreated"]))["recreated"]
    assert qbo_payments(w, rec.payment.reference) == []
    env = await socket_click(w, rec, RemedyKind.RECREATE_PAYMENT)
    assert env.answer is None  # a bare ack; the work goes on after it
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    [created] = qbo_payments(w, rec.payment.reference)
    assert created["TotalAmt"] == rec.payment.amount
    assert w.cb.payments[rec.payment_id].sync.status == SyncStatus.DISMISSED
    assert done.resolution is not None and done.resolution.by == FINANCE_USER
    await w.slack.wait_until(lambda: shown_actions(w, done) == [])
    assert w.slack.ack_problems() == []


async def test_the_recreate_modal_is_submitted_over_the_socket(w: World) -> None:
    rec = (await seed(w, ["deleted"]))["deleted"]
    await socket_click(w, rec, RemedyKind.RECREATE_PAYMENT)
    await w.slack.wait_until(
        lambda: any(
            v.view.get("callback_id") == ViewId.RECREATE_PICK.value for v in w.slack.views.values()
        )
    )
    view = next(
        v for v in w.slack.views.values() if v.view.get("callback_id") == ViewId.RECREATE_PICK.value
    )
    # a value that was not offered: the ack carries the errors and the modal stays open
    bad = await w.slack.socket_submit_view(
        view.id, {RECREATE_TARGET_BLOCK: {RECREATE_TARGET_ACTION: "99999"}}, FINANCE_USER
    )
    assert bad.in_time
    answer = bad.json()
    assert answer is not None and answer["response_action"] == "errors"
    assert not view.closed and qbo_payments(w, rec.payment.reference) == []

    good = await w.slack.socket_submit_view(
        view.id, {RECREATE_TARGET_BLOCK: {RECREATE_TARGET_ACTION: KEEP_AS_CREDIT}}, FINANCE_USER
    )
    assert good.in_time and view.closed
    done = await until_status(w, rec.payment_id, FailureStatus.RESOLVED)
    [created] = qbo_payments(w, rec.payment.reference)
    assert created["Line"] == [] and created["UnappliedAmt"] == rec.payment.amount
    assert done.remedy is not None and done.remedy.params == {"target": KEEP_AS_CREDIT}
    assert w.slack.ack_problems() == []


BURST = {  # cause -> the remedy clicked, and the status it leaves
    "paid-manually": (RemedyKind.DISMISS_SYNC, FailureStatus.RESOLVED),
    "recreated": (RemedyKind.RECREATE_PAYMENT, FailureStatus.RESOLVED),
    "credit-memo": (RemedyKind.UNAPPLY_CREDIT_MEMO, FailureStatus.WAITING_SYNC),
}


async def test_a_refresh_in_the_middle_of_a_burst_loses_nothing_and_repeats_nothing(
    w: World,
) -> None:
    recs = await seed(w, list(BURST))
    clicks = []
    for cause, (kind, _) in BURST.items():
        rec = recs[cause]
        assert rec.slack is not None
        clicks.append(
            w.slack.click_interaction(
                message_ts=rec.slack.ts,
                channel=rec.slack.channel,
                action_id=REMEDY_ACTIONS[kind].value,
                user_id=FINANCE_USER,
            )
        )
    commands = [
        w.slack.command_interaction(CMD, text, user_id=FINANCE_USER, channel_id=FAILED_CHANNEL)
        for text in ("list", "stats", "list")
    ]
    # interleaved: click, command, click, command, ...; the first half goes out, then Slack
    # asks for a refresh while those are still being handled, then the second half
    burst = [(EnvelopeType.INTERACTIVE, c) for c in clicks]
    for i, cmd in enumerate(commands):
        burst.insert(2 * i + 1, (EnvelopeType.SLASH_COMMANDS, cmd))
    half = len(burst) // 2
    sent = [await w.slack.send_envelope(kind, done) for kind, done in burst[:half]]
    in_flight = [e.id for e in sent if not e.acked]
    [old] = await w.slack.refresh()
    sent += [await w.slack.send_envelope(kind, done) for kind, done in burst[half:]]
    await asyncio.gather(*(e.wait_ack(ACK_WITHIN + 1) for e in sent))

    assert in_flight, "the refresh came after the first half was handled: not mid-burst"
    assert w.slack.ack_problems() == []
    assert all(len(e.acks) == 1 for e in w.slack.envelopes.values())
    assert len(w.slack.envelopes) == len(burst)
    # reconnected through apps.connections.open; the old connection closed by the bot
    new = await w.slack.wait_connected(2)
    assert [c.ok for c in w.slack.calls_to("apps.connections.open")] == [True, True]
    await w.slack.wait_until(lambda: old.closed_at is not None)
    assert new.number == 2 and old.sent and new.sent
    assert set(old.sent) | set(new.sent) == {e.id for e in sent}
    assert w.bot.socket is not None and await w.bot.socket.client.is_connected()

    # every remedy ran once; every command was answered once
    for cause, (kind, status) in BURST.items():
        done = await until_status(w, recs[cause].payment_id, status)
        assert done.remedy_attempts == 1, cause
        assert done.remedy is not None and done.remedy.kind == kind
    assert len(qbo_payments(w, recs["recreated"].payment.reference)) == 1
    ok = Counter(
        (a.payment_id, a.action)
        for a in await w.services.store.audit_entries(100)
        if a.result == "ok"
    )
    assert ok == Counter({(recs[c].payment_id, k.value): 1 for c, (k, _) in BURST.items()})
    await answers(w, len(commands))
    replies = [e for e in w.slack.ephemeral(FINANCE_USER) if e.source == "response_url"]
    assert len(replies) == len(commands)


async def test_the_stand_in_catches_missing_repeated_and_stray_acks() -> None:
    """The stand-in's own checks can fail: a client that does not ack, acks twice or acks
    an envelope never sent is reported; a ticket opens one connection only."""
    slack = SlackSandbox(signing_secret="stand-in-check")
    await slack.start()
    try:
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {slack.app_token}"}
            async with http.post(f"{slack.api_url}apps.connections.open", headers=headers) as resp:
                url = (await resp.json())["url"]
            assert url.startswith("ws://127.0.0.1:")
            async with http.ws_connect(url) as ws:
                assert (await ws.receive_json())["type"] == "hello"
                done = [
                    slack.command_interaction(
                        CMD, "list", user_id=FINANCE_USER, channel_id=FAILED_CHANNEL
                    )
                    for _ in range(2)
                ]
                unanswered = await slack.send_envelope(EnvelopeType.SLASH_COMMANDS, done[0])
                twice = await slack.send_envelope(EnvelopeType.SLASH_COMMANDS, done[1])
                for _ in range(2):
                    assert (await ws.receive_json())["envelope_id"] in (unanswered.id, twice.id)
                for envelope_id in (twice.id, twice.id, "never-sent"):
                    await ws.send_json({"envelope_id": envelope_id})
                await slack.wait_until(lambda: len(twice.acks) == 2 and bool(slack.stray_acks))
                assert not await unanswered.wait_ack(0.01)
                problems = slack.ack_problems()
                assert f"{unanswered.id} (slash_commands): never acknowledged" in problems
                assert f"{twice.id} (slash_commands): acknowledged 2 times" in problems
                assert any("never-sent" in p for p in problems)
            async with http.get(url) as again:  # the ticket was used
                assert again.status == 401
    finally:
        await slack.stop()
