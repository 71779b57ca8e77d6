"""What the user reads: the "already resolved" / "out of date" / "did not finish" texts of a
remedy. Errors become words in ``bot.errors`` (``describe_error``, re-exported here).

Pure functions of a record, a journal or an exception; nothing here writes anywhere.
"""

from __future__ import annotations

from bot.errors import describe_error
from bot.formats import CENT as CENT
from bot.formats import fmt_time, money
from bot.models import FailureRecord, RemedyJournal, ResolutionHow, StepState
from bot.slack.blocks.card import REMEDY_LABELS

_money = money  # the name unapply and recreate import


_RESOLVED_HOW: dict[str, str] = {
    ResolutionHow.DISMISSED: "syncing dismissed",
    ResolutionHow.DELETED: "deleted from ConnectBooster's history",
    ResolutionHow.SYNCED: "synced to QuickBooks",
    ResolutionHow.RECREATED: "recreated in QuickBooks",
}


def already_resolved_text(rec: FailureRecord) -> str:
    """ "Already resolved: syncing dismissed by <@U1> at 10:42 UTC, 3 Nov 2026." """
    r = rec.resolution
    if r is None:
        return "This payment is already resolved."
    how = _RESOLVED_HOW.get(r.how, r.how.replace("_", " ").replace("-", " "))
    who = f"<@{r.by}>" if r.by else ("ConnectBooster's sync" if r.how == ResolutionHow.SYNCED
                                     else "someone outside Slack")
    return f"Already resolved by {who}: {how} at {fmt_time(r.at)}."


def stale_text(rec: FailureRecord) -> str:
    """The button was drawn before another remedy ran: what ran, by whom, how it ended."""
    j = rec.remedy
    if j is None:
        return "That button was out of date; the message now shows where things stand."
    label = REMEDY_LABELS[j.kind]
    at = fmt_time(j.finished_at or j.started_at)
    return (f"That button was out of date: <@{j.user}> ran *{label}* at {at} "
            f"({j.outcome or 'running'}). Nothing was done; the message now shows where "
            "things stand.")


def failure_text(j: RemedyJournal, exc: BaseException) -> str:
    """Why it failed, what was already done, and what to do next."""
    reason = describe_error(exc)
    done = [s for s in j.steps if s.state == StepState.DONE]
    created = j.step("qbo_create_payment")
    parts = [reason[0].upper() + reason[1:] + "."]
    if (created is not None and created.state == StepState.DONE
            and created.result.get("qbo_payment_id")):
        parts.append(
            f"QuickBooks payment {created.result['qbo_payment_id']} was created; press "
            f"*{REMEDY_LABELS[j.kind]}* again to finish — it will not be created twice."
        )
    elif any(s.name.startswith("qbo_unapply") for s in done):
        parts.append(
            f"The credit memo is already un-applied in QuickBooks; press "
            f"*{REMEDY_LABELS[j.kind]}* again to finish."
        )
    elif any(s.name == "cb_dismiss" for s in done):
        parts.append("Syncing is already dismissed in ConnectBooster.")
    elif any(s.state == StepState.STARTED and s.request_id for s in j.steps):
        parts.append(
            "QuickBooks may or may not have recorded the change; pressing the button again "
            "repeats it safely (QuickBooks will not do it twice)."
        )
    else:
        parts.append("Nothing was changed.")
    return " ".join(parts)


def plain_detail(text: str) -> str:
    """Detail for ``audit_line`` (which escapes it): drop the mrkdwn stars."""
    return text.replace("*", "")
