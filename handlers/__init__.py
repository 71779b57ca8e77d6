"""Thin Slack listeners. Each module has ``register(app, services)``; none imports a global app."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.runtime.services import Services


def register_all(app: AsyncApp, services: Services) -> None:
    """Register every handler module on ``app``."""
    from handlers import actions, commands, errors, views

    for module in (errors, actions, views, commands):
        module.register(app, services)
