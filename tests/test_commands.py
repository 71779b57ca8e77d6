"""``/failed-payments`` end to end: signed slash commands and clicks from the Slack stand-in
to the bot over loopback HTTP, a real Redis, replies read back from the stand-in's
``response_url`` endpoint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from bot.models import Cause, FailureRecord, FailureStatus, Resolution, SlackRef
from bot.slack.ids import ActionId, encode_page_value
from sandbox.slack import EphemeralMessage, validate_blocks
from tests.harness import FINANCE_USER, FINANCE_USER_2, OUTSIDER, World, world
from tests.test_listing import record

CHANNEL = "C0FAILED"
CMD = "/failed-payments"


@pytest.fixture
async def w(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> AsyncIterator[World]:
    async with world(redis_url, redis_prefix, "all-causes") as w:
        if w.slack._base_url is None:  # the harness serves it without telling it its URL
            w.slack.base_url = w.slack_url
        yield w


def text_of(e: EphemeralMessage) -> str:
    return e.text + "\n" + json.dumps(e.blocks, ensure_ascii=False)


def buttons(e: EphemeralMessage) -> dict[str, str]:
    return {el["action_id"]: el.get("value", "") for _b, el in e.action_elements()}


async def command(
    w: World, text: str, *, user: str = FINANCE_USER, replies: int = 1
) -> EphemeralMessage:
    """Send ``/failed-payments text`` as ``user``; the last of ``replies`` new ephemerals."""
    before = len(w.slack.ephemeral(user))
    resp = await w.slack.send_command(w.bot.events_url, CMD, text, user_id=user, channel_id=CHANNEL)
    assert resp.status == 200  # acked
    await w.slack.wait_until(
        lambda: (
            len(w.slack.ephemeral(user)) >= before + replies
            or any(not c.ok for c in w.slack.calls_to("response_url"))
        ),
        within=15,
    )
    bad = [c for c in w.slack.calls_to("response_url") if not c.ok]
    assert not bad, bad[0].error
    e = w.slack.ephemeral(user)[before + replies - 1]
    assert validate_blocks(e.blocks) == []
    return e


async def click(
    w: World,
    e: EphemeralMessage,
    action: ActionId,
    *,
    user: str = FINANCE_USER,
    value: str | None = None,
) -> EphemeralMessage:
    """Click a paging button on ``e``; waits until ``e`` is replaced or a new reply shows."""
    replaced, count = e.replaced, len(w.slack.ephemeral(user))
    resp = await w.slack.click(
        w.bot.events_url,
        message_ts=e.ts,
        channel=e.channel,
        action_id=action.value,
        user_id=user,
        value=value,
        strict=value is None,
    )
    assert resp.status == 200
    await w.slack.wait_until(
        lambda: e.replaced > replaced or len(w.slack.ephemeral(user)) > count, within=10
    )
    return e if e.replaced > replaced else w.slack.ephemeral(user)[-1]


async def seed(w: World, n: int, **kw: object) -> list[FailureRecord]:
    now = w.services.clock()
    recs = []
    for i in range(n):
        rec = record(i, paid=now - timedelta(hours=i + 1), **kw)  # type: ignore[arg-type]
        rec.slack = SlackRef(
            channel=CHANNEL,
            ts=f"1700000000.{i:06d}",
            permalink=f"https://sandbox.slack.local/archives/{CHANNEL}/p{i}",
        )
        await w.services.store.put_failure(rec)
        recs.append(rec)
    return recs


async def test_list_pages_both_ways(w: World) -> None:
    await seed(w, 23, amount="100.00")
    e = await command(w, "")
    t = text_of(e)
    assert "23 open failures" in t and "$2,300.00" in t and "page 1 of 3" in t
    assert "CB10000" in t and "CB10009" in t and "CB10010" not in t
    assert "https://sandbox.slack.local/archives/C0FAILED/p0" in t  # link to its message
    assert "Credit memo applied" in t and "Northwind Dental" in t and "$100.00" in t
    assert set(buttons(e)) == {ActionId.LIST_NEXT}

    e = await click(w, e, ActionId.LIST_NEXT)
    t = text_of(e)
    assert "page 2 of 3" in t and "CB10010" in t and "CB10000" not in t
    assert set(buttons(e)) == {ActionId.LIST_NEXT, ActionId.LIST_PREV}
    e = await click(w, e, ActionId.LIST_NEXT)
    t = text_of(e)
    assert "page 3 of 3" in t and "CB10022" in t and "CB10019" not in t
    assert set(buttons(e)) == {ActionId.LIST_PREV}
    e = await click(w, e, ActionId.LIST_PREV)
    assert "page 2 of 3" in text_of(e) and e.replaced == 3  # replaced in place each time


@pytest.mark.parametrize(
    ("text", "shown", "hidden"),
    [
        ("cause:paid-manually", ["CB10001"], ["CB10000", "CB10002"]),
        ("customer:acme", ["CB10002"], ["CB10000", "CB10001"]),
        ("older:3d", ["CB10003"], ["CB10000", "CB10001"]),
        ("min:500", ["CB10001", "CB10003"], ["CB10000", "CB10002"]),
        (
            "list cause:credit-memo min:1000 customer:zür older:2d",
            ["CB10003"],
            ["CB10000", "CB10001", "CB10002"],
        ),
    ],
)
async def test_each_filter(w: World, text: str, shown: list[str], hidden: list[str]) -> None:
    now = w.services.clock()
    store = w.services.store
    await store.put_failure(
        record(
            0,
            cause=Cause.CREDIT_MEMO,
            amount="10.00",
            customer="Northwind Dental",
            paid=now - timedelta(hours=1),
        )
    )
    await store.put_failure(
        record(
            1,
            cause=Cause.PAID_MANUALLY,
            amount="750.00",
            customer="Northwind Dental",
            paid=now - timedelta(hours=2),
        )
    )
    await store.put_failure(
        record(
            2,
            cause=Cause.CREDIT_MEMO,
            amount="20.00",
            customer="Acme & Sons",
            paid=now - timedelta(hours=3),
        )
    )
    await store.put_failure(
        record(
            3,
            cause=Cause.CREDIT_MEMO,
            amount="1250.00",
            customer="Zürich Treuhand AG",
            paid=now - timedelta(days=4),
        )
    )
    t = text_of(await command(w, text))
    for ref in shown:
        assert ref in t
    for ref in hidden:
        assert ref not in t
    assert f"{len(shown)} open failure" in t


async def test_no_match_says_so(w: World) -> None:
    await seed(w, 2)
    t = text_of(await command(w, "customer:nobody"))
    assert "No open failed payments matching" in t and "customer:nobody" in t


async def test_typos_get_usage_naming_the_mistake(w: World) -> None:
    t = text_of(await command(w, "list cus:acme"))
    assert "unknown filter `cus:` — did you mean `customer:`?" in t
    assert "stats [7d|30d|90d]" in t  # the usage follows
    t = text_of(await command(w, "stast 30d"))
    assert "unknown command `stast` — did you mean `stats`?" in t
    t = text_of(await command(w, "cause:credit"))
    assert "did you mean `cause:credit-memo`?" in t


async def test_help(w: World) -> None:
    t = text_of(await command(w, "help"))
    assert "`show CB10234`" in t and "`recheck`" in t and "cause:credit-memo" in t


async def test_outsider_sees_no_amounts_or_customers(w: World) -> None:
    await seed(w, 3, amount="4321.00", customer="Secret Customer Inc")
    for text in ("", "stats", "show CB10000", "recheck", "cause:credit-memo"):
        t = text_of(await command(w, text, user=OUTSIDER))
        assert "4,321" not in t and "Secret Customer" not in t, text
        assert f"<@{FINANCE_USER}>" in t and f"<@{FINANCE_USER_2}>" in t  # names who may
    assert "what I can do" in text_of(await command(w, "help", user=OUTSIDER))  # help is open
    # nor can an outsider page through someone else's list
    await seed(w, 15)
    e = await command(w, "")
    value = buttons(e)[ActionId.LIST_NEXT]
    got = await click(w, e, ActionId.LIST_NEXT, user=OUTSIDER, value=value)
    assert "may act" in text_of(got) and "CB10011" not in text_of(got)


async def test_paging_with_a_forged_or_expired_value(w: World) -> None:
    await seed(w, 15)
    e = await command(w, "")
    got = await click(w, e, ActionId.LIST_NEXT, value="not json")
    assert "not one I drew" in text_of(got)
    got = await click(w, e, ActionId.LIST_NEXT, value=encode_page_value("expiredtoken", 2))
    assert "expired" in text_of(got) and "/failed-payments" in text_of(got)


async def test_show_by_reference_and_payment_id(w: World) -> None:
    await seed(w, 2)
    e = await command(w, "show cb10001")  # any case
    t = text_of(e)
    assert "CB10001" in t and "Northwind Dental" in t
    assert ActionId.RECHECK.value in buttons(e)  # the card's buttons come along
    e = await command(w, "show pmt_0")
    assert "CB10000" in text_of(e)
    t = text_of(await command(w, "show CB99999"))
    assert "No failed payment has the reference or payment id `CB99999`" in t


async def test_stats(w: World) -> None:
    now = w.services.clock()
    store = w.services.store
    await store.put_failure(
        record(0, cause=Cause.CREDIT_MEMO, amount="100.00", paid=now - timedelta(days=1))
    )
    done = record(
        1,
        cause=Cause.PAID_MANUALLY,
        amount="250.00",
        paid=now - timedelta(days=2),
        seen=now - timedelta(days=2),
    )
    done.status = FailureStatus.RESOLVED
    done.resolution = Resolution(how="dismissed", by=FINANCE_USER, at=now - timedelta(days=1))
    await store.put_failure(done)
    stats = await w.services.cb.sync_stats(now - timedelta(days=30))
    t = text_of(await command(w, "stats 30d"))
    assert "last 30 days" in t
    assert f"*Payments*\\n{stats.total:,}" in t and f"*Failed*\\n{stats.failed:,}" in t
    assert "Credit memo applied: 1 · $100.00" in t and "Paid manually in QuickBooks: 1" in t
    assert f"<@{FINANCE_USER}>: 1" in t and "dismissed: 1" in t
    assert "*Median time to resolve*\\n1 d" in t
    assert "under 10%" in t


async def test_recheck_polls_and_says_what_changed(w: World) -> None:
    assert await w.services.store.open_count() == 0
    e = await command(w, "recheck", replies=2)
    t = text_of(e)
    failed = len(w.scenario.failed_ids)
    assert f"{failed} new, 0 resolved, {failed} still open" in t
    assert await w.services.store.open_count() == failed
    t = text_of(await command(w, ""))
    assert f"{failed} open failures" in t
    e = await command(w, "recheck", replies=2)
    assert "nothing changed" in text_of(e)


async def test_replies_stay_within_block_kit_limits(w: World) -> None:
    long_name = "<!channel> & " + "Very Long Customer Name Holdings International " * 40
    await seed(w, 40, customer=long_name, amount="123456789.99")
    e = await command(w, "")  # validated against Slack's limits by the stand-in
    assert len(json.dumps(e.blocks)) < 13_000
    assert "<!channel>" not in text_of(e)  # escaped
    e = await command(w, "customer:" + "x" * 99)
    assert "No open failed payments" in text_of(e)


async def test_forged_command_is_refused(w: World) -> None:
    await seed(w, 1)
    resp = await w.slack.send_command(
        w.bot.events_url, CMD, "", user_id=FINANCE_USER, channel_id=CHANNEL, forge=True
    )
    assert resp.status == 401
    assert w.slack.ephemeral(FINANCE_USER) == []


async def test_store_outage_gets_a_clear_answer(w: World) -> None:
    await seed(w, 1)
    good = w.services.store.redis
    dead = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    w.services.store.redis = dead
    try:
        t = text_of(await command(w, ""))
    finally:
        w.services.store.redis = good
        await dead.aclose()
    assert "Redis" in t and "Nothing was changed" in t
