"""Placeholder replaced below."""

from __future__ import annotations

from bot.runtime.services import Services


async def summarise_if_due(services: Services) -> bool:
    return False
