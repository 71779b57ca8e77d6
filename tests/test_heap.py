"""``bot.runtime.heap.settle_heap``: the start's garbage collected, the rest frozen."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.runtime.heap import settle_heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process's heap back in the collector's walks


def test_collects_the_start_garbage_then_freezes_what_lives(unfrozen: None) -> None:
    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle only the collector frees
    garbage = weakref.ref(a)
    del a, b
    kept = Node()
    gc.disable()  # no automatic pass may free the cycle first
    try:
        assert garbage() is not None
        frozen = settle_heap()
    finally:
        gc.enable()
    assert garbage() is None  # collected, not frozen alive
    assert frozen > 0 and gc.get_freeze_count() > 0
    assert not any(o is kept for o in gc.get_objects(generation=2))  # out of the walks
    made_later = Node()
    assert any(o is made_later for o in gc.get_objects(generation=0))  # later ones are walked
