"""The bot's only state, in Redis.

Key layout, all under the configured prefix ``P`` (default ``fp:``), and the module of this
package that owns each key:

==============================  ==================================================  ===============
key                             holds                                               owner
==============================  ==================================================  ===============
``P failure:<payment id>``      the ``FailureRecord`` (versioned JSON)              records.py
``P {P idx}:open``              zset of open failures, scored by paid time          records.py
``P {P idx}:open:<cause>``      the same, one zset per cause (for filters)          records.py
``P {P idx}:ix:<dim>:<value>``  the same, per index value (customer, amount, day)  indexes.py
``P {P idx}:ix:owner:<user>``   open failures a user owns (from ``team:owner``)     team.py
``P {P idx}:ix:state:<s>``      open failures ``active`` / ``snoozed`` (team keys)  team.py
``P {P idx}:ix:queue:unowned``  active failures nobody owns, by first seen time     team.py
``P {P idx}:n:<dim>``           hash value -> open failures with it (running)       indexes.py
``P {P idx}:m:<dim>``           hash value -> their amount in millionths (running)  indexes.py
``P {P idx}:row``               hash payment id -> the open failure's tags (JSON)   indexes.py
``P {P idx}:by:amount``         zset of open failures scored by amount (millionths) indexes.py
``P {P idx}:by:seen``           zset of open failures scored by first seen time     indexes.py
``P {P idx}:version``           which release's indexes these are (+ a nonce)       records.py
``P {P idx}:values``            hash index -> times its set of values changed       indexes.py
``P {P idx}:summary``           hash payment id -> ``FailureSummary`` JSON          records.py
``P {P idx}:ref``               hash ``CB…`` reference -> payment id                records.py
``P {P idx}:resolved``          zset of resolved failures, scored by resolve time   records.py
``P lease:<name>``              a lease (redis-py ``Lock``): ``<holder>|<nonce>``   coordination.py
``P once:<name>``               a posted-once / done-once marker (``SET NX``)       coordination.py
``P audit``                     stream of ``AuditEntry``, trimmed by age            state.py
``P audit:refused``             refused clicks (rate-limited, apart from audit)     state.py
``P audit:refused:count``       hash person -> refused clicks counted               state.py
``P meta:born``                 the state marker (hash: born_at, instance, ...)     meta.py
``P alert:<name>``              alert state (versioned JSON)                        state.py
``P poll:cursor``               the poll cursor (RFC 3339)                          state.py
``P conv:<kind>:<id>``          short-lived conversation state, with a TTL          state.py
``P cache:<name>``              short-lived caches (user group members)             state.py
``P qbo:token:<realm>``         QuickBooks tokens (encrypted)                       tokens.py
``P qbo:token-lock:<realm>``    the token refresh lock (redis-py ``Lock``)          tokens.py
``P team:owner:<payment id>``   the failure's owner (a Slack user id)               team.py
``P team:mine:<user>``          set of payment ids the user owns                    team.py
``P team:snooze:<payment id>``  the failure's ``Snooze`` (versioned JSON)           team.py
``P team:snoozed``              zset of snoozed ids, scored by when they wake       team.py
``P team:home:viewers``         zset of App Home viewers, scored by when opened     team.py
``P gateway:cursor``            the gateway reconciliation's cursor (RFC 3339)      gateway.py
``P gateway:watch``             hash transaction id -> gateway sale JSON, watched   gateway.py
``P mail:cursor:<folder>``      the mailbox's UIDVALIDITY and last UID looked at    mail/watch.py
``P mail:event:<kind>``         the last notification e-mail acted on, per kind     mail/handle.py
``P once:mail:uid:<v>:<uid>``   an e-mail handled (UIDVALIDITY ``v``, its UID)      mail/handle.py
``P once:mail:msgid:<hash>``    an e-mail handled (its Message-ID, hashed)          mail/handle.py
``P wh:events``                 stream of QuickBooks webhook changes (group         webhooks.py
                                ``workers``), dropped once processed
``P wh:done:<event id>``        an event processed (14-day TTL)                     webhooks.py
``P wh:seen``                   hash ``Type:id`` -> LastUpdatedTime acted on        webhooks.py
``P wh:dep:<Type>:<id>``        set of payment ids whose diagnosis reads it         webhooks.py
``P wh:deps``                   hash payment id -> its ``Type:id`` keys (JSON)      webhooks.py
``P wh:cursor``                 last processed time, where the CDC catch-up starts  webhooks.py
``P wh:reconciled``             when the last reconciliation ran                    webhooks.py
``P wh:warned``                 hash payment id -> its "about to fail" warning      webhooks.py
``P lease:warn:<payment id>``   one process warns about a payment at a time         coordination.py
``P once:wh:receipt-deleted:…`` a deleted recreated receipt noted once              coordination.py
==============================  ==================================================  ===============

The ``mail:`` keys are the e-mail triggers' (``bot/mail/``, not this package): they use
``get_model`` / ``put_model`` and once-markers.

The index keys share one hash tag, so the multi-key transaction that keeps them in step
lands in one Redis Cluster slot; every other operation touches one key. The failure record
is written first and is the truth: the index can be rebuilt from the records.

The package, by concern:

- ``records`` — failure records and their indexes (open by cause, summaries, reference
  lookup, resolved), saved with the record in one step (``index_failure.lua``);
- ``indexes`` — the indexes and running totals of open failures, as data (adding one is a
  line), ``open_query`` — the list's first page and totals read through them, and
  ``open_without`` — the same without the snoozed;
- ``coordination`` — leases and once-markers (the script ``del_if_value.lua``);
- ``state`` — the small keyed state: audit stream, poll cursor, conversations, versioned
  singletons such as alert state, caches;
- ``retention`` — resolved failures deleted after ``RETENTION_DAYS``, with their index
  entries (the audit streams are trimmed by age in ``state``);
- ``meta`` — the state marker that tells a lost state from a first start;
- ``durability`` — whether the Redis keeps the state (no eviction, persistence on), read at
  start and by ``check``;
- ``team`` — who owns each failure and its snooze, apart from the record (``take_owner.lua``);
- ``webhooks`` — the QuickBooks webhook keys (``wh:…``): the event stream, done-markers, the
  entity → failures index, the catch-up cursor and the warnings (its own class,
  :class:`~bot.store.webhooks.WebhookStore`, on the same client and prefix);
- ``tokens`` — QuickBooks tokens, encrypted at rest (its own class, :class:`RedisTokenStore`,
  which ``qb.auth`` uses as its ``TokenStore``);
- ``pool`` — the client's connection pool: one failed connection closes the idle ones, so a
  Redis restart does not fail one command per stale connection;
- ``base``, ``errors``, ``versioned`` — what they share: the Redis client and key prefix,
  the errors every caller names, versioned JSON.

:class:`Store` is one facade over records (with retention), coordination, keyed state and
the state marker, built by inheritance: each part is a
subclass of :class:`~bot.store.base.StoreBase` and reads ``self.redis`` and ``self.key``,
so each can be read (and tested) alone, while callers keep one object with every method.
Mixins rather than composed parts because the parts share one ``redis`` attribute: swapping
``store.redis`` (as the tests do, to take Redis away) reaches every part at once, and no
part holds a stale client. The parts' method names do not overlap.
"""

from __future__ import annotations

from bot.store.coordination import CoordinationStore, Lease
from bot.store.errors import CorruptRecord, SchemaTooNew, StoreError, StoreUnavailable
from bot.store.gateway import GatewayStateStore
from bot.store.meta import MetaStore, Recovery, StateMarker
from bot.store.records import OpenPage
from bot.store.retention import ExpiryBatch, RetentionStore
from bot.store.state import KeyedStateStore
from bot.store.team import TeamStore
from bot.store.versioned import SCHEMA_VERSION, dump_versioned, load_versioned

__all__ = [
    "SCHEMA_VERSION",
    "CorruptRecord",
    "ExpiryBatch",
    "Lease",
    "OpenPage",
    "Recovery",
    "SchemaTooNew",
    "StateMarker",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "dump_versioned",
    "load_versioned",
]


class Store(
    RetentionStore, CoordinationStore, KeyedStateStore, MetaStore, TeamStore, GatewayStateStore
):
    """Typed access to everything the bot keeps in Redis (but the QuickBooks tokens)."""
