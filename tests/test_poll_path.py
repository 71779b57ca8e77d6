"""The poll cycle's path through the code, traced while it runs (issue 13).

A failure found by the poller moves forward through the poll stage's modules — cycle →
intake → posting, or cycle → digest → intake → posting — and is never handed back to the
cycle: no other module calls a function of ``bot.poll.cycle`` (before the regrouping the
digest called back into the poller to diagnose each batch). Static imports cannot show a
call-back passed as an argument, so this records every call while a real cycle runs.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest

from bot.poll import cycle as poll_cycle
from bot.poll import digest as poll_digest
from bot.poll.cycle import poll_once
from tests.harness import world

OURS = ("bot.", "handlers.", "qb.", "cb.")


def _module(frame: FrameType | None) -> str | None:
    if frame is None:
        return None
    name = frame.f_globals.get("__name__", "")
    return name if isinstance(name, str) and name.startswith(OURS) else None


@contextmanager
def call_edges() -> Iterator[set[tuple[str, str]]]:
    """Every (caller module, callee module) pair of our own code called while inside."""
    edges: set[tuple[str, str]] = set()

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call":
            return
        callee = _module(frame)
        if callee is None:
            return
        caller = _module(frame.f_back)
        if caller is not None and caller != callee:
            edges.add((caller, callee))

    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        yield edges
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


def _into_cycle(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    return {e for e in edges if e[1] == "bot.poll.cycle"}


@pytest.mark.parametrize("digest_after", [50, 3], ids=["one-message-each", "digest-burst"])
async def test_a_failure_never_comes_back_to_the_cycle(
    redis_url: str, redis_prefix: str, digest_after: int
) -> None:
    async with world(
        redis_url, redis_prefix, "all-causes", bot_overrides={"digest_after": digest_after}
    ) as w:
        w.slack.rate_limit_enabled = False
        with call_edges() as edges:
            report = await poll_once(w.services, post_interval=0)
        assert report.new and set(report.new) == w.scenario.failed_ids
        if digest_after == 3:
            assert report.digest_ts is not None  # the burst path really ran
            assert ("bot.poll.digest", "bot.poll.intake") in edges
        else:
            assert ("bot.poll.cycle", "bot.poll.intake") in edges
        assert ("bot.poll.intake", "bot.diagnosis.fetch") in edges
        assert ("bot.poll.posting", "bot.slack.messages") in edges
        assert _into_cycle(edges) == set()


def _call_back() -> float:
    return poll_cycle.backoff_delay(1, 10.0)


def test_the_tracer_sees_a_call_back_into_the_cycle() -> None:
    """The check above could fail: a call from another module into the cycle is recorded."""
    # the same code, run with bot.poll.digest's globals: a digest calling back into the cycle
    as_digest = type(_call_back)(
        _call_back.__code__, vars(poll_digest) | {"poll_cycle": poll_cycle}, "call_back"
    )
    with call_edges() as edges:
        as_digest()
    assert _into_cycle(edges) == {("bot.poll.digest", "bot.poll.cycle")}
