"""The poll cycle: find the payments QuickBooks rejected, post each once, keep every message
current.

``run_poller`` runs ``poll_once`` every ``POLL_INTERVAL_SECONDS`` (with backoff after a failed
cycle); ``recheck_now`` is ``/failed-payments recheck``'s cycle on demand. Each returns or
fills a ``PollReport``. The modules, in the order a cycle uses them:

- ``cycle``: the cycle's numbered steps, the poller lease, the cursor, the loop;
- ``intake``: new failures diagnosed in bulk and stored as records (``Found``, ``Intake``);
- ``posting``: each message posted exactly once across crashes, paced (``Poster``, ``Pacer``);
- ``digest``: a burst's digest message and its thread (``DigestPoster``, ``DigestPlan``);
- ``failed_again``: a posted failure whose next sync attempt failed too, redrawn in place;
- ``sweep``: open failures resolved outside Slack, marked resolved;
- ``report``: what one cycle did (``PollReport``).

A record's status changes in these modules only through ``bot.lifecycle``.
"""

from __future__ import annotations

from bot.poll.cycle import LEASE_NAME, backoff_delay, poll_once, recheck_now, run_poller
from bot.poll.digest import DigestPlan
from bot.poll.posting import LeaseLost
from bot.poll.report import PollReport

__all__ = [
    "LEASE_NAME",
    "DigestPlan",
    "LeaseLost",
    "PollReport",
    "backoff_delay",
    "poll_once",
    "recheck_now",
    "run_poller",
]
