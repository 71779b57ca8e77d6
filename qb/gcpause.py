"""Pausing Python's cyclic garbage collector around bulk, synchronous model building.

Parsing a QuickBooks answer of thousands of rows, or diagnosing a backlog of a thousand
failures, allocates hundreds of thousands of small objects (dicts, pydantic models, Decimals)
that hold no reference cycles. Left running, the collector scans every live object of the
process again and again while they are made (a full collection each time its counts fill);
paused, it runs once afterwards on what is left. ``gc_paused`` is only for code that does not
``await`` inside it, so no other task runs while the collector is off; reference counting still
frees everything as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the body with the cyclic collector off; it is on again afterwards if it was on
    before (nested uses leave it to the outermost)."""
    was_on = gc.isenabled()
    if was_on:
        gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


__all__ = ["gc_paused"]
