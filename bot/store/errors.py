"""What can go wrong reading or writing the bot's state, as errors the rest of the bot names.

Redis's own transport errors never leave the store: :func:`translate_errors` turns a Redis
that does not answer (refused connection, timeout) into :class:`StoreUnavailable`, which
promises that nothing was changed. A record that exists but cannot be read is
:class:`CorruptRecord`, or :class:`SchemaTooNew` when a newer release wrote it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class StoreError(Exception):
    """Base of the state errors."""


class StoreUnavailable(StoreError):
    """Redis did not answer; nothing was changed. Try again shortly."""


class SchemaTooNew(StoreError):
    """A record written by a newer release of the bot: refused rather than misread."""


class CorruptRecord(StoreError):
    """A record could not be read as what it should be."""


@contextmanager
def translate_errors() -> Iterator[None]:
    """Run the block; a Redis that does not answer becomes :class:`StoreUnavailable`."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise StoreUnavailable("Redis is not answering; nothing was changed — try again") from exc
