"""What the user reads: errors in plain words, and the "already resolved" / "out of date" /
"did not finish" texts of a remedy.

Pure functions of a record, a journal or an exception; nothing here writes anywhere.
"""

from __future__ import annotations

from decimal import Decimal

from bot.models import FailureRecord, RemedyJournal
from bot.remedies.outcome import RemedyFailed, RemedyRefused
from bot.slack.blocks.card import REMEDY_LABELS
from bot.slack.blocks.common import fmt_time
from cb import errors as cbe
from qb import errors as qbe

CENT = Decimal("0.01")


def _money(v: Decimal) -> str:
    return f"${v.quantize(CENT):,}"


def describe_error(exc: BaseException) -> str:
    """An error from QuickBooks, ConnectBooster or the bot, in plain words with what to do."""
    if isinstance(exc, RemedyFailed | RemedyRefused):
        return str(exc)
    if isinstance(exc, qbe.ReconnectRequired):
        return ("the QuickBooks connection has expired: an admin must reconnect it "
                "(`python app.py qbo-connect`), then try again")
    if isinstance(exc, qbe.AuthenticationError | qbe.AuthorizationError):
        return ("QuickBooks refused the bot's access; an admin should check the QuickBooks "
                "connection, then try again")
    if isinstance(exc, qbe.ThrottledError):
        return "QuickBooks is busy (too many requests); try again in a minute"
    if isinstance(exc, qbe.StaleObjectError):
        return ("someone changed the same record in QuickBooks at the same moment; press "
                "*Re-check*, then try again")
    if isinstance(exc, qbe.NotFoundError):
        what = "something it refers to was made inactive" if exc.inactive else (
            "a record it needs was deleted")
        return f"QuickBooks says {what}; press *Re-check* to look again"
    if isinstance(exc, qbe.ValidationError):
        detail = exc.detail or exc.message
        return f"QuickBooks refused it: {detail}. Check the payment in QuickBooks"
    if isinstance(exc, qbe.ServerError | qbe.TransportError):
        return "QuickBooks did not answer; try again in a few minutes"
    if isinstance(exc, qbe.QBOError):
        return f"QuickBooks answered with an error ({exc.message}); try again or check QuickBooks"
    if isinstance(exc, cbe.Conflict):
        return (f"ConnectBooster refused: {exc.message} (the payment's sync state changed). "
                "Press *Re-check* to see where it stands")
    if isinstance(exc, cbe.NotFound):
        return "ConnectBooster no longer has this payment; press *Re-check*"
    if isinstance(exc, cbe.Unauthorized):
        return "ConnectBooster refused the bot's API key; an admin must check CB_API_KEY"
    if isinstance(exc, cbe.RateLimited | cbe.ServerError | cbe.TransportError):
        return "ConnectBooster did not answer; try again in a few minutes"
    if isinstance(exc, cbe.CBError):
        return f"ConnectBooster answered with an error ({exc.message}); try again later"
    if isinstance(exc, TimeoutError):
        return "it took too long and was stopped; press *Re-check*, then try again"
    return (f"an unexpected error ({type(exc).__name__}); try again or ask an admin to look "
            "at the logs")


def already_resolved_text(rec: FailureRecord) -> str:
    """ "Already resolved: syncing dismissed by <@U1> at 10:42 UTC, 3 Nov 2026." """
    r = rec.resolution
    if r is None:
        return "This payment is already resolved."
    how = {
        "dismissed": "syncing dismissed", "deleted": "deleted from ConnectBooster's history",
        "synced": "synced to QuickBooks", "recreated": "recreated in QuickBooks",
    }.get(r.how, r.how.replace("_", " ").replace("-", " "))
    who = f"<@{r.by}>" if r.by else ("ConnectBooster's sync" if r.how == "synced"
                                     else "someone outside Slack")
    return f"Already resolved by {who}: {how} at {fmt_time(r.at)}."


def _stale_text(rec: FailureRecord) -> str:
    j = rec.remedy
    if j is None:
        return "That button was out of date; the message now shows where things stand."
    label = REMEDY_LABELS[j.kind]
    at = fmt_time(j.finished_at or j.started_at)
    return (f"That button was out of date: <@{j.user}> ran *{label}* at {at} "
            f"({j.outcome or 'running'}). Nothing was done; the message now shows where "
            "things stand.")


def _failure_text(j: RemedyJournal, exc: BaseException) -> str:
    """Why it failed, what was already done, and what to do next."""
    reason = describe_error(exc)
    done = [s for s in j.steps if s.state == "done"]
    created = j.step("qbo_create_payment")
    parts = [reason[0].upper() + reason[1:] + "."]
    if created is not None and created.state == "done" and created.result.get("qbo_payment_id"):
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
    elif any(s.state == "started" and s.request_id for s in j.steps):
        parts.append(
            "QuickBooks may or may not have recorded the change; pressing the button again "
            "repeats it safely (QuickBooks will not do it twice)."
        )
    else:
        parts.append("Nothing was changed.")
    return " ".join(parts)


def _plain(text: str) -> str:
    """Detail for ``audit_line`` (which escapes it): drop the mrkdwn stars."""
    return text.replace("*", "")
