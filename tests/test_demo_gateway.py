"""``python app.py demo --source gateway``: the demo without the ConnectBooster contract finds
the all-causes world's failures from the gateway stand-in and QuickBooks, and shows the
portal's link and *Done in the portal* on the cards."""

from __future__ import annotations

from app import bot_builders
from sandbox.demo import FAILED_CHANNEL, start_demo


async def test_the_demo_runs_on_the_gateway_alone(redis_url: str) -> None:
    d = await start_demo(
        bot_builders(), port=0, scenario="all-causes", redis_url=redis_url, source="gateway"
    )
    try:
        await d.wait_first_poll(90)
        assert d.first_poll_error is None, d.first_poll_error
        s = d.services
        assert s.cb is None and s.gateway is not None
        cards = [
            m
            for m in d.stand_ins.slack.all_messages(FAILED_CHANNEL)
            if m.metadata and m.metadata.get("event_type") == "failed_payment"
        ]
        assert len(cards) >= 9
        text = " ".join(str(m.blocks) for m in cards)
        assert "no ConnectBooster receipt in QuickBooks" in text
        assert "Done in the portal" in text and "Open in ConnectBooster" in text
    finally:
        await d.close()
