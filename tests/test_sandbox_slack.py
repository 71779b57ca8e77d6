"""The Slack stand-in over real HTTP: slack_sdk's AsyncWebClient against its Web API,
rate limiting with Retry-After (and slack_sdk's retry handler getting through), response
URLs, views, and the driver's signed requests checked by slack_sdk and by a Bolt app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import Clock as SdkClock
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks.card import failure_message, recreate_modal
from bot.slack.ids import ActionId, decode_value
from sandbox.slack import SlackSandbox
from tests.test_blocks import make_record, many_invoices

SECRET = "sandbox-signing-secret"
TOKEN = "xoxb-sandbox"
CH = "C0FINANCE"


class FakeClock:
    def __init__(self, t: float = 1_790_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def sandbox() -> AsyncIterator[SlackSandbox]:
    sb = SlackSandbox(signing_secret=SECRET, bot_token=TOKEN)
    await sb.start()
    try:
        yield sb
    finally:
        await sb.stop()


@pytest.fixture
async def client(sandbox: SlackSandbox) -> AsyncIterator[AsyncWebClient]:
    c = AsyncWebClient(token=TOKEN, base_url=sandbox.api_url)
    yield c


# ---- Web API ------------------------------------------------------------------------------


async def test_post_update_permalink_and_threads(
    sandbox: SlackSandbox, client: AsyncWebClient
) -> None:
    text, blocks = failure_message(make_record())
    posted = await client.chat_postMessage(channel=CH, text=text, blocks=blocks)
    assert posted["ok"] and posted["channel"] == CH
    ts = posted["ts"]
    [msg] = sandbox.messages(CH)
    assert msg.ts == ts and msg.blocks == blocks and msg.text == text

    reply = await client.chat_postMessage(channel=CH, text="audit", thread_ts=ts)
    assert [m.ts for m in sandbox.thread(CH, ts)] == [reply["ts"]]
    assert len(sandbox.messages(CH)) == 1  # the reply is not top-level
    assert sandbox.message(CH, ts).reply_count == 1  # type: ignore[union-attr]

    upd = await client.chat_update(channel=CH, ts=ts, text="done", blocks=blocks[:2])
    assert upd["ok"] and upd["ts"] == ts
    assert sandbox.messages(CH)[0].text == "done" and sandbox.messages(CH)[0].blocks == blocks[:2]
    assert sandbox.messages(CH)[0].versions == [(text, blocks)]

    link = await client.chat_getPermalink(channel=CH, message_ts=ts)
    assert link["permalink"] == f"https://sandbox.slack.local/archives/{CH}/p{ts.replace('.', '')}"
    rlink = await client.chat_getPermalink(channel=CH, message_ts=reply["ts"])
    assert f"thread_ts={ts}" in rlink["permalink"]
    assert [c.method for c in sandbox.calls] == [
        "chat.postMessage",
        "chat.postMessage",
        "chat.update",
        "chat.getPermalink",
        "chat.getPermalink",
    ]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_errors_answer_like_slack(sandbox: SlackSandbox, client: AsyncWebClient) -> None:
    async def error_of(coro: Any) -> str:
        with pytest.raises(SlackApiError) as info:
            await coro
        return str(info.value.response["error"])

    assert (
        await error_of(client.chat_update(channel=CH, ts="1.000001", text="x"))
        == "message_not_found"
    )
    assert (
        await error_of(client.chat_getPermalink(channel=CH, message_ts="1.2"))
        == "message_not_found"
    )
    assert await error_of(client.chat_postMessage(channel="#nope", text="x")) == "channel_not_found"
    assert await error_of(client.chat_postMessage(channel=CH)) == "no_text"
    assert await error_of(client.chat_postMessage(channel=CH, text="x" * 40_001)) == "msg_too_long"
    bad = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=CH, text="x", blocks=bad)
    assert info.value.response["error"] == "invalid_blocks"
    assert "/blocks/0/text/text" in info.value.response["response_metadata"]["messages"][0]
    many = [{"type": "divider"}] * 51
    assert (
        await error_of(client.chat_postMessage(channel=CH, text="x", blocks=many))
        == "invalid_blocks"
    )
    huge = [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 2900}}] * 5
    assert (
        await error_of(client.chat_postMessage(channel=CH, text="x", blocks=huge))
        == "msg_blocks_too_long"
    )
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=sandbox.api_url)
    assert await error_of(wrong.auth_test()) == "invalid_auth"
    assert await error_of(AsyncWebClient(base_url=sandbox.api_url).auth_test()) == "not_authed"
    sandbox.inject_error("chat.update", "internal_error", status=500)
    with pytest.raises(SlackApiError):
        await client.chat_update(channel=CH, ts="1.1", text="x")
    assert sandbox.messages(CH) == []
    assert all(not c.ok for c in sandbox.calls)


async def test_builders_output_is_accepted(sandbox: SlackSandbox, client: AsyncWebClient) -> None:
    """The biggest card the builders make posts fine: they and the sandbox agree on limits."""
    for n in (1, 31, 200):
        text, blocks = failure_message(many_invoices(n), notice="x" * 5000)
        assert (await client.chat_postMessage(channel=CH, text=text, blocks=blocks))["ok"]


async def test_other_methods(sandbox: SlackSandbox, client: AsyncWebClient) -> None:
    me = await client.auth_test()
    assert me["user_id"] and me["team_id"]
    sandbox.usergroups["S0FIN"] = ["U1", "U2"]
    assert (await client.usergroups_users_list(usergroup="S0FIN"))["users"] == ["U1", "U2"]
    with pytest.raises(SlackApiError) as info:
        await client.usergroups_users_list(usergroup="S0NONE")
    assert info.value.response["error"] == "no_such_subteam"
    assert (await client.users_info(user="U1"))["user"]["id"] == "U1"
    assert (await client.conversations_info(channel=CH))["channel"]["id"] == CH
    e = await client.chat_postEphemeral(channel=CH, user="U1", text="only you")
    [eph] = sandbox.ephemeral("U1")
    assert eph.ts == e["message_ts"] and eph.text == "only you" and sandbox.ephemeral("U2") == []


# ---- reading history back ----------------------------------------------------------------------


def _event(pid: str) -> dict[str, Any]:
    return {"event_type": "failed_payment", "event_payload": {"payment_id": pid}}


async def test_conversations_history_newest_first_paged_with_metadata(
    sandbox: SlackSandbox, client: AsyncWebClient
) -> None:
    sandbox.rate_limit_enabled = False
    posted = [
        (await client.chat_postMessage(channel=CH, text=f"m{i}", metadata=_event(f"p{i}")))["ts"]
        for i in range(5)
    ]
    await client.chat_postMessage(channel=CH, text="reply", thread_ts=posted[0])  # not listed
    await client.chat_postMessage(channel="C0OTHER", text="elsewhere")

    whole = await client.conversations_history(channel=CH)
    assert [m["ts"] for m in whole["messages"]] == posted[::-1]
    assert whole["has_more"] is False and whole["response_metadata"]["next_cursor"] == ""
    assert all("metadata" not in m for m in whole["messages"])  # only when asked for
    assert whole["messages"][-1]["reply_count"] == 1

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await client.conversations_history(
            channel=CH, limit=2, cursor=cursor, include_all_metadata=True
        )
        pages += 1
        assert len(page["messages"]) <= 2
        seen += [m["metadata"]["event_payload"]["payment_id"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"] or None
        assert page["has_more"] is (cursor is not None)
        if cursor is None:
            break
    assert seen == ["p4", "p3", "p2", "p1", "p0"] and pages == 3
    assert page["messages"][0]["metadata"] == _event("p0")

    window = await client.conversations_history(channel=CH, oldest=posted[1], latest=posted[4])
    assert [m["ts"] for m in window["messages"]] == [posted[3], posted[2]]  # exclusive ends
    both = await client.conversations_history(
        channel=CH, oldest=posted[1], latest=posted[4], inclusive=True
    )
    assert [m["ts"] for m in both["messages"]] == posted[4:0:-1]


async def test_conversations_replies_parent_first_then_the_thread(
    sandbox: SlackSandbox, client: AsyncWebClient
) -> None:
    sandbox.rate_limit_enabled = False
    parent = (await client.chat_postMessage(channel=CH, text="digest"))["ts"]
    replies = [
        (
            await client.chat_postMessage(
                channel=CH, text=f"r{i}", thread_ts=parent, metadata=_event(f"p{i}")
            )
        )["ts"]
        for i in range(3)
    ]
    await client.chat_postMessage(channel=CH, text="not in the thread")

    got = await client.conversations_replies(channel=CH, ts=parent, include_all_metadata=True)
    assert [m["ts"] for m in got["messages"]] == [parent, *replies]
    assert got["messages"][0]["reply_count"] == 3 and got["messages"][0]["thread_ts"] == parent
    assert [m["metadata"]["event_payload"]["payment_id"] for m in got["messages"][1:]] == [
        "p0",
        "p1",
        "p2",
    ]
    assert got["has_more"] is False
    # a reply's ts names its thread too
    via_reply = await client.conversations_replies(channel=CH, ts=replies[1])
    assert [m["ts"] for m in via_reply["messages"]] == [parent, *replies]

    first = await client.conversations_replies(channel=CH, ts=parent, limit=2)
    assert [m["ts"] for m in first["messages"]] == [parent, *replies[:2]]
    assert first["has_more"] is True
    rest = await client.conversations_replies(
        channel=CH, ts=parent, limit=2, cursor=first["response_metadata"]["next_cursor"]
    )
    assert [m["ts"] for m in rest["messages"]] == [parent, replies[2]]
    assert rest["has_more"] is False and rest["response_metadata"]["next_cursor"] == ""

    later = await client.conversations_replies(channel=CH, ts=parent, oldest=replies[0])
    assert [m["ts"] for m in later["messages"]] == [parent, *replies[1:]]


async def test_history_and_replies_errors(sandbox: SlackSandbox, client: AsyncWebClient) -> None:
    async def error_of(coro: Any) -> str:
        with pytest.raises(SlackApiError) as info:
            await coro
        return str(info.value.response["error"])

    ts = (await client.chat_postMessage(channel=CH, text="x"))["ts"]
    assert await error_of(client.conversations_history(channel="#nope")) == "channel_not_found"
    assert await error_of(client.conversations_replies(channel="#nope", ts=ts)) == (
        "channel_not_found"
    )
    assert await error_of(client.conversations_replies(channel=CH, ts="1.000001")) == (
        "thread_not_found"
    )
    assert await error_of(client.conversations_history(channel=CH, cursor="garbage!")) == (
        "invalid_cursor"
    )
    assert await error_of(client.conversations_history(channel=CH, oldest="soon")) == (
        "invalid_ts_oldest"
    )
    alone = await client.conversations_replies(channel=CH, ts=ts)  # no replies: just itself
    assert [m["ts"] for m in alone["messages"]] == [ts]


# ---- rate limits ----------------------------------------------------------------------------


async def test_post_message_paced_too_fast_gets_429_with_retry_after() -> None:
    clock = FakeClock()
    sb = SlackSandbox(signing_secret=SECRET, channel_rate_per_second=1.0, burst=2, clock=clock)
    await sb.start()
    try:
        c = AsyncWebClient(token=TOKEN, base_url=sb.api_url)
        await c.chat_postMessage(channel=CH, text="1")
        await c.chat_postMessage(channel=CH, text="2")
        with pytest.raises(SlackApiError) as info:
            await c.chat_postMessage(channel=CH, text="3")
        assert info.value.response.status_code == 429
        assert info.value.response["error"] == "ratelimited"
        assert info.value.response.headers["Retry-After"] in ("1", ["1"])
        await c.chat_postMessage(channel="C0OTHER", text="other channel has its own bucket")
        await c.chat_update(channel=CH, ts=sb.messages(CH)[0].ts, text="updates are not paced")
        clock.t += 1.0
        await c.chat_postMessage(channel=CH, text="3 again")
        assert [m.text for m in sb.messages(CH)] == ["updates are not paced", "2", "3 again"]
        assert sb.rate_limited_count() == 1
    finally:
        await sb.stop()


async def test_slack_sdk_retry_handler_gets_through() -> None:
    sb = SlackSandbox(signing_secret=SECRET, channel_rate_per_second=2.0, burst=1)
    await sb.start()
    try:
        c = AsyncWebClient(
            token=TOKEN,
            base_url=sb.api_url,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
        )
        for i in range(2):
            await c.chat_postMessage(channel=CH, text=str(i))
        assert [m.text for m in sb.messages(CH)] == ["0", "1"]
        assert sb.rate_limited_count() == 1  # met once, retried after Retry-After
    finally:
        await sb.stop()


# ---- signatures and the driver ---------------------------------------------------------------


def test_sign_is_what_slack_sdk_verifies() -> None:
    clock = FakeClock()
    sb = SlackSandbox(signing_secret=SECRET, clock=clock)
    body = b"payload=%7B%7D"
    h = sb.sign(body)
    verifier = SignatureVerifier(SECRET, clock=_SdkClock(clock.t))
    ts, sig = h["X-Slack-Request-Timestamp"], h["X-Slack-Signature"]
    assert verifier.is_valid(body, ts, sig)
    assert not verifier.is_valid(body + b"x", ts, sig)
    forged = sb.sign(body, forge=True)
    assert not verifier.is_valid(
        body, forged["X-Slack-Request-Timestamp"], forged["X-Slack-Signature"]
    )
    old = sb.sign(body, int(clock.t) - 301)
    assert not verifier.is_valid(body, old["X-Slack-Request-Timestamp"], old["X-Slack-Signature"])


class _SdkClock(SdkClock):
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


class EchoBot:
    """A minimal bot endpoint: verifies signatures with slack_sdk, records what it got."""

    def __init__(self) -> None:
        self.verifier = SignatureVerifier(SECRET)
        self.received: list[dict[str, Any]] = []
        self.answer: dict[str, Any] | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self.verifier.is_valid_request(body, dict(request.headers)):
            return web.Response(status=401, text="invalid signature")
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        self.received.append(json.loads(form["payload"]) if "payload" in form else form)
        if self.answer is not None:
            return web.json_response(self.answer)
        return web.Response(status=200)


@pytest.fixture
async def echo() -> AsyncIterator[tuple[EchoBot, str]]:
    bot = EchoBot()
    app = web.Application()
    app.router.add_post("/slack/events", bot.handle)
    server = TestServer(app, port=0)
    await server.start_server()
    try:
        yield bot, str(server.make_url("/slack/events"))
    finally:
        await server.close()


async def test_send_command_is_signed_and_complete(
    sandbox: SlackSandbox, echo: tuple[EchoBot, str]
) -> None:
    bot, url = echo
    resp = await sandbox.send_command(
        url, "/failed-payments", "list cause:credit-memo", user_id="U1", channel_id=CH
    )
    assert resp.status == 200
    [got] = bot.received
    assert got["command"] == "/failed-payments" and got["text"] == "list cause:credit-memo"
    assert got["user_id"] == "U1" and got["channel_id"] == CH
    assert got["response_url"] == resp.response_url and got["trigger_id"] == resp.trigger_id
    assert (
        await sandbox.send_command(
            url, "/failed-payments", "", user_id="U1", channel_id=CH, forge=True
        )
    ).status == 401
    aged = await sandbox.send_command(
        url, "/failed-payments", "", user_id="U1", channel_id=CH, age_seconds=301
    )
    assert aged.status == 401
    assert (await sandbox.post_raw(url, b"payload=x", signed=False)).status == 401


async def test_response_url_ephemeral_in_channel_and_use_limit(sandbox: SlackSandbox) -> None:
    url = sandbox.response_url_for(CH, "U1")
    async with ClientSession() as http:
        r = await http.post(url, json={"text": "only you", "response_type": "ephemeral"})
        assert r.status == 200
        assert [e.text for e in sandbox.ephemeral("U1", CH)] == ["only you"]
        assert sandbox.ephemeral("U1")[0].source == "response_url"
        r = await http.post(url, json={"text": "everyone", "response_type": "in_channel"})
        assert [m.text for m in sandbox.messages(CH)] == ["everyone"]
        for _ in range(3):
            assert (await http.post(url, json={"text": "again"})).status == 200
        r = await http.post(url, json={"text": "sixth"})
        assert r.status == 404 and (await r.json())["error"] == "expired_url"
        r = await http.post(f"{sandbox.base_url}/response_url/nope", json={"text": "x"})
        assert r.status == 404
        r = await http.post(sandbox.response_url_for(CH, "U1"), data=b"not json")
        assert r.status == 400
    assert sandbox.calls_to("response_url")[0].ok


async def test_click_builds_block_actions_and_replace_original(
    sandbox: SlackSandbox, client: AsyncWebClient, echo: tuple[EchoBot, str]
) -> None:
    bot, url = echo
    text, blocks = failure_message(make_record(remedy_attempts=1))
    ts = (await client.chat_postMessage(channel=CH, text=text, blocks=blocks))["ts"]
    resp = await sandbox.click(
        url, message_ts=ts, channel=CH, action_id=ActionId.DISMISS_SYNC, user_id="U1"
    )
    assert resp.status == 200
    [p] = bot.received
    assert p["type"] == "block_actions"
    assert p["user"]["id"] == "U1" and p["channel"]["id"] == CH
    assert p["container"]["message_ts"] == ts and p["container"]["channel_id"] == CH
    assert p["message"]["blocks"] == blocks and p["message"]["ts"] == ts
    [action] = p["actions"]
    assert (
        action["action_id"] == "fp_dismiss_sync" and action["block_id"] == "fp_actions:pmt_8f2c41"
    )
    assert decode_value(action["value"]).attempt == 1
    assert p["response_url"] == resp.response_url and p["trigger_id"]

    async with ClientSession() as http:
        r = await http.post(
            resp.response_url or "", json={"replace_original": True, "text": "Dismissed"}
        )
        assert r.status == 200
    assert sandbox.message(CH, ts).text == "Dismissed"  # type: ignore[union-attr]

    with pytest.raises(LookupError):  # the message no longer shows that button
        await sandbox.click(
            url, message_ts=ts, channel=CH, action_id=ActionId.DISMISS_SYNC, user_id="U1"
        )
    stale = await sandbox.click(
        url,
        message_ts=ts,
        channel=CH,
        action_id=ActionId.DISMISS_SYNC,
        value="v",
        user_id="U1",
        strict=False,
    )
    assert stale.status == 200 and bot.received[-1]["actions"][0]["value"] == "v"
    with pytest.raises(LookupError):
        await sandbox.click(
            url, message_ts="9.9", channel=CH, action_id=ActionId.RECHECK, user_id="U1"
        )
    forged = await sandbox.click(
        url,
        message_ts=ts,
        channel=CH,
        action_id="x",
        value="v",
        user_id="U1",
        strict=False,
        forge=True,
    )
    assert forged.status == 401


async def test_click_on_ephemeral_card(
    sandbox: SlackSandbox, client: AsyncWebClient, echo: tuple[EchoBot, str]
) -> None:
    bot, url = echo
    text, blocks = failure_message(make_record())
    ts = (await client.chat_postEphemeral(channel=CH, user="U1", text=text, blocks=blocks))[
        "message_ts"
    ]
    resp = await sandbox.click(
        url, message_ts=ts, channel=CH, action_id=ActionId.RECHECK, user_id="U1"
    )
    assert resp.status == 200
    assert bot.received[0]["container"]["is_ephemeral"] is True
    async with ClientSession() as http:
        await http.post(
            resp.response_url or "", json={"replace_original": True, "text": "rechecked"}
        )
    assert (
        sandbox.ephemeral("U1")[0].text == "rechecked" and sandbox.ephemeral("U1")[0].replaced == 1
    )


async def test_views_open_update_submit(
    sandbox: SlackSandbox, client: AsyncWebClient, echo: tuple[EchoBot, str]
) -> None:
    bot, url = echo
    from tests.test_blocks import invoice

    rec = make_record()
    view = recreate_modal(rec, [invoice(1), invoice(2)], context_id="ctx:1")
    with pytest.raises(SlackApiError) as info:
        await client.views_open(trigger_id="made-up", view=view)
    assert info.value.response["error"] == "invalid_trigger_id"
    trigger = sandbox.mint_trigger_id()
    opened = await client.views_open(trigger_id=trigger, view=view)
    vid = opened["view"]["id"]
    assert opened["view"]["private_metadata"] == "ctx:1"
    with pytest.raises(SlackApiError):  # a trigger id is single-use
        await client.views_open(trigger_id=trigger, view=view)
    await client.views_update(view_id=vid, view=view)

    resp = await sandbox.submit_view(
        url, vid, {"fp_recreate_target": {"fp_recreate_target_select": "2"}}, "U1"
    )
    assert resp.status == 200
    sub = bot.received[-1]
    assert sub["type"] == "view_submission" and sub["user"]["id"] == "U1"
    assert (
        sub["view"]["callback_id"] == "fp_recreate_pick"
        and sub["view"]["private_metadata"] == "ctx:1"
    )
    sel = sub["view"]["state"]["values"]["fp_recreate_target"]["fp_recreate_target_select"]
    assert sel["type"] == "static_select" and sel["selected_option"]["value"] == "2"
    assert sandbox.views[vid].closed
    with pytest.raises(SlackApiError):
        await client.views_update(view_id=vid, view=view)


async def test_expired_trigger() -> None:
    clock = FakeClock()
    sb = SlackSandbox(signing_secret=SECRET, clock=clock)
    await sb.start()
    try:
        c = AsyncWebClient(token=TOKEN, base_url=sb.api_url)
        trigger = sb.mint_trigger_id()
        clock.t += 3.5
        view = recreate_modal(make_record(), [], context_id="c")
        with pytest.raises(SlackApiError) as info:
            await c.views_open(trigger_id=trigger, view=view)
        assert info.value.response["error"] == "expired_trigger_id"
    finally:
        await sb.stop()


async def test_wait_until(sandbox: SlackSandbox, client: AsyncWebClient) -> None:
    import asyncio

    task = asyncio.create_task(client.chat_postMessage(channel=CH, text="later"))
    await sandbox.wait_until(lambda: len(sandbox.messages(CH)) == 1, within=5)
    await task
    with pytest.raises(TimeoutError):
        await sandbox.wait_until(lambda: False, within=0.05)


# ---- with a real Bolt app ------------------------------------------------------------------


async def test_bolt_app_accepts_the_drivers_requests(sandbox: SlackSandbox) -> None:
    app = AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token=TOKEN, base_url=sandbox.api_url),
    )

    @app.command("/failed-payments")
    async def command(
        ack: Any, respond: Any, command: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        text, blocks = failure_message(make_record())
        await client.chat_postMessage(channel=command["channel_id"], text=text, blocks=blocks)
        await respond(f"posted for {command['text']}")

    @app.action(ActionId.DISMISS_SYNC)
    async def dismiss(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.chat_update(
            channel=body["channel"]["id"],
            ts=body["container"]["message_ts"],
            text="dismissed",
            blocks=[],
        )

    server = TestServer(app.web_app(), port=0)
    await server.start_server()
    try:
        url = str(server.make_url("/slack/events"))
        r = await sandbox.send_command(
            url, "/failed-payments", "show CB10234", user_id="U1", channel_id=CH
        )
        assert r.status == 200
        await sandbox.wait_until(lambda: len(sandbox.ephemeral("U1")) == 1)
        assert sandbox.ephemeral("U1")[0].text == "posted for show CB10234"
        [msg] = sandbox.messages(CH)
        r = await sandbox.click(
            url, message_ts=msg.ts, channel=CH, action_id=ActionId.DISMISS_SYNC, user_id="U1"
        )
        assert r.status == 200
        await sandbox.wait_until(lambda: sandbox.messages(CH)[0].text == "dismissed")
        forged = await sandbox.send_command(
            url, "/failed-payments", "", user_id="U1", channel_id=CH, forge=True
        )
        aged = await sandbox.send_command(
            url, "/failed-payments", "", user_id="U1", channel_id=CH, age_seconds=400
        )
        assert (forged.status, aged.status) == (401, 401)
        assert len(sandbox.messages(CH)) == 1
    finally:
        await server.close()
