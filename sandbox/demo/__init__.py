"""``python app.py demo``: the whole bot against local stand-ins, in a Slack-like page.

:func:`start_demo` starts the QuickBooks Online and ConnectBooster sandboxes seeded with a
scenario, the Slack stand-in, and the bot wired to them exactly as in production (HTTP mode:
``/slack/events`` behind Slack's request signatures, the poller, Redis), then serves the
*workbench*: one page that looks like a Slack channel (the bot's messages drawn from their
Block Kit, digest threads, ephemeral replies, modals, a box for ``/failed-payments``, a switch
for the acting user) beside a panel with the books (the QBO sandbox's invoices, payments and
credit memos for the payment in view) and the portal (its ConnectBooster sync state, and a
"Run ConnectBooster sync" button).

The page's clicks, commands and modal submissions go to ``/demo/api/...``; the workbench
hands them to the Slack stand-in's driver, which signs them and posts them to the bot's
``/slack/events`` as Slack would. The page polls ``/demo/api/state`` about once a second.

The bot is built with ``app.py``'s builders, passed in as :class:`BotBuilders` (the demo
never imports ``app``).

By concern:

- :mod:`~sandbox.demo.startup`: start-up (stand-ins, Redis, the bot, the poller) and
  ``run_demo``.
- :mod:`~sandbox.demo.session`: the running :class:`Demo`: what the page shows and does.
- :mod:`~sandbox.demo.workbench`: the page and its JSON API.
- :mod:`~sandbox.demo.ledger`: the ledger view (one customer's QBO books).
- :mod:`~sandbox.demo.messages`: messages as the page draws them.
- :mod:`~sandbox.demo.workspace`: the demo's users, channels and timings.
"""

from __future__ import annotations

from sandbox.demo.ledger import qbo_books
from sandbox.demo.messages import payment_of
from sandbox.demo.session import Demo, DemoAnswer
from sandbox.demo.startup import (
    BotBuilders,
    DemoError,
    demo_settings,
    open_redis,
    run_demo,
    start_demo,
)
from sandbox.demo.workbench import make_workbench_app
from sandbox.demo.workspace import (
    ALERT_CHANNEL,
    CHANNELS,
    FAILED_CHANNEL,
    FINANCE_USER,
    OUTSIDER,
    USERS,
    DemoChannel,
    DemoUser,
)

__all__ = [
    "ALERT_CHANNEL",
    "CHANNELS",
    "FAILED_CHANNEL",
    "FINANCE_USER",
    "OUTSIDER",
    "USERS",
    "BotBuilders",
    "Demo",
    "DemoAnswer",
    "DemoChannel",
    "DemoError",
    "DemoUser",
    "demo_settings",
    "make_workbench_app",
    "open_redis",
    "payment_of",
    "qbo_books",
    "run_demo",
    "start_demo",
]
