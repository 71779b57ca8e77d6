"""The team workflow's settings (issue 18): reminders and the weekly summary. A mixin of
``bot.runtime.settings.Settings``; the hours are in ``BOOKS_TIMEZONE``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TeamSettings(BaseSettings):
    """Reminders of failures waiting too long, and the weekly summary."""

    reminder_hour: int = Field(
        default=9,
        ge=-1,
        le=23,
        description="the hour (0-23, BOOKS_TIMEZONE) of the working-day reminder; -1: none",
    )
    reminder_after_days: int = Field(
        default=3,
        ge=1,
        le=365,
        description="whole days a failure is open before the reminder lists it (1-365)",
    )
    weekly_summary_day: Weekday = Field(
        default="mon", description="the weekday of the weekly summary: mon, tue, … sun"
    )
    weekly_summary_hour: int = Field(
        default=9,
        ge=-1,
        le=23,
        description="the hour (0-23, BOOKS_TIMEZONE) of the weekly summary; -1: none",
    )
