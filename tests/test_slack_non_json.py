"""Slack answering something that is not JSON (a proxy's plain-text 503, an HTML page
labelled ``application/json``, a 405 page) never aborts the poll cycle, and a permalink —
decoration — never stops a failure from being posted.

What slack_sdk's ``AsyncWebClient`` raises then (learnt against the Slack stand-in here):

- a ``text/plain`` body: ``SlackApiError`` whose ``response.data`` is the body as a ``str``
  (``response.get`` raises ``AttributeError``);
- HTML labelled ``application/json``: ``SlackApiError`` whose ``response`` is the raw
  ``aiohttp.ClientResponse`` (no ``.get``, ``.data`` nor ``.status_code``);
- ``text/html``: ``SlackApiError`` whose ``response.data`` is ``{}``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import cast

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import error_text, log_reason, slack_error_code, slack_http_status
from bot.lifecycle import redraw
from bot.poll.cycle import poll_once
from bot.runtime.services import Services
from bot.slack.messages import permalink
from sandbox.slack import SlackSandbox
from tests.harness import BOT_TOKEN, FAILED_CHANNEL, SIGNING_SECRET, world
from tests.test_poller import FAST, posted_ids

UNREADABLE = [  # (status, body, content type)
    (503, "upstream connect error or disconnect/reset before headers", "text/plain"),
    (503, "<html><body><h1>503 Service Unavailable</h1></body></html>", "application/json"),
    (405, "<html><body>Method Not Allowed</body></html>", "text/html"),
    (405, "Method Not Allowed", "text/plain"),
]


@pytest.fixture
async def slack() -> AsyncIterator[SlackSandbox]:
    sandbox = SlackSandbox(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    await sandbox.start()
    try:
        yield sandbox
    finally:
        await sandbox.stop()


@pytest.mark.parametrize(("status", "body", "content_type"), UNREADABLE)
async def test_every_unreadable_answer_reads_as_its_status(
    slack: SlackSandbox, status: int, body: str, content_type: str
) -> None:
    slack.inject_unreadable("chat.getPermalink", body, status=status, content_type=content_type)
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url, session=session)
        with pytest.raises(SlackApiError) as info:
            await client.chat_getPermalink(channel=FAILED_CHANNEL, message_ts="1.000001")
    exc = info.value
    assert slack_error_code(exc) == f"HTTP {status}"
    assert slack_http_status(exc) == status
    assert log_reason(exc) == f"Slack: HTTP {status}"
    assert f"HTTP {status}" in error_text(exc)


async def test_a_permalink_never_raises(
    slack: SlackSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    def only(client: AsyncWebClient) -> Services:
        return cast(Services, SimpleNamespace(slack=client))  # permalink needs only .slack

    async with aiohttp.ClientSession() as session:
        services = only(AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url, session=session))
        for status, body, ctype in UNREADABLE:
            slack.inject_unreadable("chat.getPermalink", body, status=status, content_type=ctype)
        slack.inject_unreadable("chat.getPermalink", "ok", status=200)  # 200, not JSON
        slack.inject_error("chat.getPermalink", "message_not_found")
        with caplog.at_level(logging.WARNING, logger="bot.slack.messages"):
            for _ in range(len(UNREADABLE) + 2):
                assert await permalink(services, FAILED_CHANNEL, "1.000001") is None
            dead = only(
                AsyncWebClient(token=BOT_TOKEN, base_url="http://127.0.0.1:9/api/", session=session)
            )
            assert await permalink(dead, FAILED_CHANNEL, "1.000001") is None  # no answer
    lines = [r for r in caplog.records if r.name == "bot.slack.messages"]
    assert len(lines) == len(UNREADABLE) + 3
    assert all(getattr(r, "channel", None) == FAILED_CHANNEL for r in lines)


async def test_a_poll_cycle_posts_every_failure_once_when_permalinks_answer_html(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with world(redis_url, redis_prefix, "all-causes") as w:
        w.slack.rate_limit_enabled = False
        assert w.scenario is not None
        expected = w.scenario.failed_ids
        assert len(expected) > 1
        for n in range(len(expected) * 2):
            status, body, ctype = UNREADABLE[n % len(UNREADABLE)]
            w.slack.inject_unreadable("chat.getPermalink", body, status=status, content_type=ctype)
        with caplog.at_level(logging.WARNING, logger="bot.slack.messages"):
            report = await poll_once(w.services, **FAST)
        assert set(report.new) == expected
        assert Counter(posted_ids(w)) == Counter(dict.fromkeys(expected, 1))
        for pid in expected:
            rec = await w.services.store.get_failure(pid)
            assert rec is not None and rec.slack is not None and rec.slack.permalink is None
        warned = [r for r in caplog.records if r.name == "bot.slack.messages"]
        assert len(warned) == len(expected)  # one line per permalink that did not come
        assert all("HTTP 503" in r.getMessage() or "HTTP 405" in r.getMessage() for r in warned)

        again = await poll_once(w.services, **FAST)
        assert not again.new
        assert len(posted_ids(w)) == len(expected)

        # a redraw whose chat.update answers plain text is logged, not raised
        rec = await w.services.store.get_failure(next(iter(expected)))
        assert rec is not None
        w.slack.inject_unreadable("chat.update", "Service Unavailable", status=503)
        await redraw(w.services, rec, notice="checking")
