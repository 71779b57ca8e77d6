"""A local QuickBooks Online: the same URLs and bodies, companies held in memory.

Seed companies in-process through :class:`SandboxCompany` (``create``/``update``/
``delete``/``void``), then point the real client at :meth:`QBOSandbox.make_app`.
It honours what the bot relies on: SyncToken checks (5010), hard deletes (610 and CDC
deletions), invoice ``Balance`` and credit memo ``RemainingCredit`` computed from the
payments linked to them, requestid replay, OAuth refresh-token rotation with
``invalid_grant``, QBO's limits (429 with the XML throttle body) and failure knobs
(``latency``, ``error_rate``, ``storm``, ``outage``, ``drop_responses``).

By concern:

- :mod:`~sandbox.qbo.wire`: faults, money, JSON and timestamps as QBO writes them.
- :mod:`~sandbox.qbo.company`: the books of one company and QBO's rules for writing them.
- :mod:`~sandbox.qbo.query`: the query language subset.
- :mod:`~sandbox.qbo.server`: the HTTP service (Accounting API, OAuth, limits, knobs).
"""

from __future__ import annotations

from sandbox.qbo.company import SandboxCompany
from sandbox.qbo.query import Cond, Query, parse_query
from sandbox.qbo.server import QBOSandbox, SandboxStats
from sandbox.qbo.wire import SandboxFault, dumps, money

__all__ = [
    "Cond",
    "QBOSandbox",
    "Query",
    "SandboxCompany",
    "SandboxFault",
    "SandboxStats",
    "dumps",
    "money",
    "parse_query",
]
