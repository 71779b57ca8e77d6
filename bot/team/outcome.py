"""What a team action answers, and what every team action checks first.

``TeamResult.ok`` tells whether anything changed; ``message`` is what the person who asked
reads (mrkdwn). :func:`open_record` finds the failure by payment id or ``CB…`` reference and
refuses a resolved one; :func:`noted` writes the audit line, redraws the card and
refreshes the App Home of its recent viewers.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot import lifecycle
from bot.models import AuditEntry, FailureRecord, FailureStatus
from bot.runtime.services import Services


@dataclass(frozen=True)
class TeamResult:
    """Whether the action changed anything, and the words for whoever asked."""

    ok: bool
    message: str
    record: FailureRecord | None = None


class NotActionable(Exception):
    """The failure cannot take a team action (unknown, or resolved); ``str`` says why."""


async def open_record(services: Services, target: str) -> FailureRecord:
    """The failure named by payment id or CB reference, still open; else ``NotActionable``."""
    store = services.store
    pid = await store.find_by_reference(target) if target else None
    rec = await store.get_failure(pid or target) if (pid or target) else None
    shown = target.replace("`", "'")[:100]
    if rec is None:
        raise NotActionable(
            f"No failed payment has the reference or payment id `{shown}`. "
            "`/failed-payments` lists the open ones."
        )
    if rec.status == FailureStatus.RESOLVED:
        raise NotActionable(
            f"{rec.payment.reference} is already resolved; there is nothing to own or snooze."
        )
    return rec


async def noted(
    services: Services, rec: FailureRecord, user: str, action: str, detail: str
) -> None:
    """Audit ``action`` by ``user`` on ``rec`` and redraw its card (and the actor's Home)."""
    await services.store.audit(
        AuditEntry(
            at=services.clock(),
            user=user,
            action=action,
            payment_id=rec.payment_id,
            reference=rec.payment.reference,
            result="ok",
            detail=detail,
        )
    )
    await lifecycle.redraw(services, rec)
    refresh_homes_soon(services)


def refresh_homes_soon(services: Services) -> None:
    """Republish the recent viewers' App Home after a change, without making the person
    who changed something wait (``bot.team.home.refresh_soon``)."""
    from bot.team.home import refresh_soon

    refresh_soon(services)
