"""What the user reads: the "already resolved" / "out of date" / "changed" / "did not finish"
texts of a remedy. Errors become words in ``bot.errors`` (``describe_error``, re-exported
here).

Pure functions of a record, a journal, a plan or an exception; nothing here writes anywhere.
"""

from __future__ import annotations

from bot.errors import describe_error
from bot.formats import CENT as CENT
from bot.formats import fmt_time
from bot.models import (
    FailureRecord,
    RemedyJournal,
    RemedyKind,
    ResolutionHow,
    StepState,
    WriteKind,
)
from bot.slack.blocks.card import REMEDY_LABELS

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
    who = (
        f"<@{r.by}>"
        if r.by
        else ("ConnectBooster's sync" if r.how == ResolutionHow.SYNCED else "someone outside Slack")
    )
    return f"Already resolved by {who}: {how} at {fmt_time(r.at)}."


def stale_text(rec: FailureRecord) -> str:
    """The button was drawn before another remedy ran: what ran, by whom, how it ended."""
    j = rec.remedy
    if j is None:
        return "That button was out of date; the message now shows where things stand."
    label = REMEDY_LABELS[j.kind]
    at = fmt_time(j.finished_at or j.started_at)
    return (
        f"That button was out of date: <@{j.user}> ran *{label}* at {at} "
        f"({j.outcome or 'running'}). Nothing was done; the message now shows where "
        "things stand."
    )


def moved_text(kind: RemedyKind, what: str, resolved: bool) -> str:
    """ConnectBooster moved the payment on since the message was drawn (``what``)."""
    label = REMEDY_LABELS[kind]
    end = (
        "so it is resolved"
        if resolved
        else "so nothing may be written while it is queued; the message shows where it stands"
    )
    return f"*{label}* wrote nothing: {what} since this message was drawn, {end}."


def failure_text(j: RemedyJournal, exc: BaseException) -> str:
    """Why it failed, what was already done, and what to do next."""
    reason = describe_error(exc)
    parts = [reason[0].upper() + reason[1:] + "."]
    label = REMEDY_LABELS[j.kind]
    done = {s.name for s in j.steps if s.state == StepState.DONE}
    writes = j.plan.writes if j.plan is not None else ()
    done_kinds = [w.kind for w in writes if w.step in done]
    created = next(
        (s for s in j.steps if s.state == StepState.DONE and s.result.get("qbo_payment_id")), None
    )
    if created is not None:
        parts.append(
            f"QuickBooks payment {created.result['qbo_payment_id']} was created; "
            f"press *{label}* again to finish — it will not be created twice."
        )
    elif any(k in (WriteKind.QBO_DELETE_PAYMENT, WriteKind.QBO_UPDATE_PAYMENT) for k in done_kinds):
        parts.append(
            f"The credit memo is already un-applied in QuickBooks; press *{label}* again to finish."
        )
    elif any(s.state == StepState.STARTED and s.request_id for s in j.steps):
        if WriteKind.CB_DISMISS in done_kinds:
            parts.append("Syncing is already dismissed in ConnectBooster.")
        parts.append(
            "QuickBooks may or may not have recorded the change; pressing the button again "
            "repeats it safely (QuickBooks will not do it twice)."
        )
    elif WriteKind.CB_DISMISS in done_kinds:
        parts.append(
            "Syncing is already dismissed in ConnectBooster; nothing was written to "
            f"QuickBooks yet — press *{label}* again to finish."
        )
    else:
        parts.append("Nothing was changed.")
    return " ".join(parts)


def stale_object_text(j: RemedyJournal) -> str:
    """QuickBooks refused an update or delete: the object changed since the plan was made."""
    label = REMEDY_LABELS[j.kind]
    return (
        f"Someone changed the QuickBooks payment since the plan was made, so it was not "
        f"written (a change computed from the old version is never resent). The message "
        f"now shows a new plan; check it and press *{label}* again."
    )


def lost_lease_text(kind: RemedyKind) -> str:
    """The run lost the payment's lease to another process and stopped."""
    return (
        f"*{REMEDY_LABELS[kind]}* stopped: this payment was taken over by another "
        "instance of the bot, which finishes it; nothing was done twice. The message "
        "updates when it is done."
    )


def plain_detail(text: str) -> str:
    """Detail for ``audit_line`` (which escapes it): drop the mrkdwn stars."""
    return text.replace("*", "")


__all__ = [
    "CENT",
    "already_resolved_text",
    "describe_error",
    "failure_text",
    "lost_lease_text",
    "moved_text",
    "plain_detail",
    "stale_object_text",
    "stale_text",
]
