"""A local ConnectBooster that serves the contract (docs/connectbooster-api.md) from memory.

ConnectBooster publishes no API; this sandbox serves the contract the ``cb/`` client speaks,
and does what ConnectBooster's sync does: a **sync run** records each pending or failed
payment in QuickBooks Online (the QBO sandbox, over its HTTP API) as a received payment with
reference ``CB…``, deposited to Undeposited Funds and applied to the mapped invoices, then
marks it ``synced`` or ``failed`` with QuickBooks' own fault code and text. A remedy made in
QBO (un-applying a credit memo, say) therefore really lets the next sync succeed.

Routes (``make_app``):

- ``/v1/...``: the contract, behind ``Authorization: Bearer <api_key>``.
- ``POST /sandbox/sync-run``: run a sync now; answers the :class:`SyncRunReport`.
- ``GET /sandbox/state``: every payment with its sync state (for the demo's side panel).
- ``POST /sandbox/knobs``: set ``latency``, ``error_rate``, ``rate_limit``, ``rate_window``,
  ``outage`` from JSON.

Knobs (attributes, also for tests and benchmarks): ``latency`` seconds added to each /v1
request, ``error_rate`` share of /v1 requests answered 500, ``rate_limit`` requests per
``rate_window`` seconds before 429 with ``Retry-After``, ``outage`` (every /v1 request 503),
:meth:`CBSandbox.inject` (the next N requests answer a chosen status), and
``lose_response_for`` (payment ids whose next sync reaches QBO but loses its answer, the way
a timed-out sync leaves a ``CB…`` payment in QBO while ConnectBooster records a failure).

By concern: :mod:`~sandbox.cb.portal` (the payments and the contract's actions on them),
:mod:`~sandbox.cb.sync` (the sync run into QBO), :mod:`~sandbox.cb.server` (HTTP, knobs).
"""

from __future__ import annotations

from sandbox.cb.portal import UNDEPOSITED_FUNDS, CBPortal
from sandbox.cb.server import CBSandbox, Knobs
from sandbox.cb.sync import MINOR_VERSION, QBOCompanyLike, SyncRunner, SyncRunReport

__all__ = [
    "MINOR_VERSION",
    "UNDEPOSITED_FUNDS",
    "CBPortal",
    "CBSandbox",
    "Knobs",
    "QBOCompanyLike",
    "SyncRunReport",
    "SyncRunner",
]
