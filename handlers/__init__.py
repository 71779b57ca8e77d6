"""Thin Slack listeners: ack, check who may act, call ``bot``, answer.

One module per kind of request, each with ``register(app, services)`` (none imports a global
app): ``actions`` (remedy buttons), ``commands`` (``/failed-payments`` and its paging),
``views`` (the recreate modal's and the plan confirmation modal's submissions), ``errors``
(the app's one error hook and the request guard), ``team`` (Take it, Reassign, Snooze
and their modals), ``home`` (the App Home tab). ``gate`` holds the listener middleware that
lets only finance users act.
Errors become words in ``bot.errors``; nothing here imports ``qb`` or ``cb``.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.runtime.services import Services


def register_all(app: AsyncApp, services: Services) -> None:
    """Register every handler module on ``app``."""
    from handlers import actions, commands, errors, home, portal, team, views

    for module in (errors, actions, views, commands, portal, team, home):
        module.register(app, services)
