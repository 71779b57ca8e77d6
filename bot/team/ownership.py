"""Who owns a failure: take it, reassign it, release it (the only code that changes owners).

Taking is atomic in Redis (``Store.take_owner``, one Lua step): of two people pressing
*Take it* at once exactly one becomes the owner and the other is told who has it. Only a
finance user may own a failure: a reassignment to anyone else is refused before anything
changes (the user picker cannot be limited, so the choice is checked here). Each change is
noted in the audit stream (``take``, ``reassign``, ``release``) and the card redrawn.
"""

from __future__ import annotations

from bot.runtime.services import Services
from bot.slack.permissions import may_act, who_may
from bot.team.outcome import NotActionable, TeamResult, noted, open_record


def _who(user: str, me: str) -> str:
    return "you" if user == me else f"<@{user}>"


async def take(services: Services, target: str, user: str) -> TeamResult:
    """``user`` takes the failure ``target`` (payment id or reference) if nobody owns it."""
    try:
        rec = await open_record(services, target)
    except NotActionable as exc:
        return TeamResult(False, str(exc))
    holder = await services.store.take_owner(rec.payment_id, user)
    ref = rec.payment.reference
    if holder is not None:
        return TeamResult(
            False, f"{ref} is already owned by {_who(holder, user)}; nothing changed.", rec
        )
    await noted(services, rec, user, "take", f"taken by {user}")
    return TeamResult(True, f"You own {ref} now.", rec)


async def reassign(services: Services, target: str, by: str, to: str) -> TeamResult:
    """``by`` makes ``to`` the owner of ``target``; ``to`` must be a finance user."""
    try:
        rec = await open_record(services, target)
    except NotActionable as exc:
        return TeamResult(False, str(exc))
    ref = rec.payment.reference
    if not to or not await may_act(services, to):
        return TeamResult(
            False,
            f"<@{to}> is not a finance user, so cannot own {ref}. "
            f"Finance users are {who_may(services)}. Nothing changed.",
            rec,
        )
    before = await services.store.set_owner(rec.payment_id, to)
    if before == to:
        return TeamResult(False, f"{ref} is already owned by {_who(to, by)}.", rec)
    was = f" (was {before})" if before else ""
    await noted(services, rec, by, "reassign", f"owner {to}{was}")
    return TeamResult(True, f"{ref} is now owned by {_who(to, by)}.", rec)


async def release(services: Services, target: str, user: str) -> TeamResult:
    """``user`` lets go of ``target``. Only its owner releases; others reassign."""
    try:
        rec = await open_record(services, target)
    except NotActionable as exc:
        return TeamResult(False, str(exc))
    ref = rec.payment.reference
    owner = await services.store.release_owner(rec.payment_id, user)
    if owner is None:
        return TeamResult(False, f"Nobody owns {ref}; nothing to release.", rec)
    if owner != user:
        return TeamResult(
            False, f"{ref} is owned by <@{owner}>; use *Reassign* to change that.", rec
        )
    await noted(services, rec, user, "release", f"released by {user}")
    return TeamResult(True, f"You no longer own {ref}.", rec)
