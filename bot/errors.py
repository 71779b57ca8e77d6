"""Every typed error the bot meets, and the words a person reads about it: one table.

The handlers (an answer to a click or a command), the poller (its log line and report) and
the remedies (why a remedy failed, on the message) all ask this module, so one error reads
the same wherever it surfaces. An entry says *what* happened and *what to do*; the
functions below put them together for each place:

- :func:`describe_error` — a clause for a sentence: ``"QuickBooks is busy (too many
  requests); try again in a minute"``;
- :func:`error_text` — the whole answer to a request an error stopped, saying that nothing
  was changed: ``"QuickBooks is busy (too many requests). Nothing was changed — try again in
  a minute."``;
- :func:`log_reason` — which service failed and why, in one line for the logs;
- :func:`is_expected` — an outage or a refusal (logged as a warning) rather than a bug
  (logged with its traceback).

The map, most specific class first (a class not listed takes its nearest listed base)::

    qb.errors        ReconnectRequired            the QuickBooks connection has expired
                     AuthenticationError,         QuickBooks refused the bot's access
                     AuthorizationError
                     ThrottledError               QuickBooks is busy
                     StaleObjectError             someone changed the same record meanwhile
                     NotFoundError                a record was deleted / made inactive
                     ValidationError              QuickBooks refused it: <its detail>
                     ServerError, TransportError  QuickBooks did not answer
                     QBOError                     QuickBooks answered with an error
    cb.errors        Conflict                     ConnectBooster refused: <its message>
                     NotFound                     ConnectBooster no longer has this payment
                     Unauthorized                 ConnectBooster refused the bot's API key
                     RateLimited, ServerError,    ConnectBooster did not answer
                     TransportError
                     CBError                      ConnectBooster answered with an error
    gateway.errors   AuthenticationFailed         the gateway refused the security key
                     Rejected                     the gateway refused the query: <its text>
                     RateLimited, ServerError,    the payment gateway did not answer
                     TransportError
                     MalformedResponse            the gateway's answer could not be read
                     GatewayError                 the gateway answered with an error
    slack_sdk        SlackApiError                Slack refused the bot's request (<code>)
                     SlackClientError             Slack did not answer
    aiohttp          ClientError                  Slack did not answer (the QuickBooks and
                                                  ConnectBooster clients wrap theirs)
    bot.store        StoreUnavailable             the bot's storage is not answering
                     SchemaTooNew, CorruptRecord  a stored record could not be read
                     StoreError                   some stored state could not be read
    bot.runtime      ShuttingDown                 the bot is restarting
    bot              ExplainedError               its own message, as it is (a refused or
                                                  failed remedy, a permission check Slack
                                                  could not answer, an expired list, ...)
    builtins         TimeoutError                 it took too long and was stopped
    anything else                                 something went wrong on the bot's side

No secret reaches these words: an unknown error is named by its type only, never by its
message; the QuickBooks and ConnectBooster errors carry only what those services answered
(their clients keep keys and tokens out of them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.runtime.services import ShuttingDown
from bot.store import CorruptRecord, SchemaTooNew, StoreError, StoreUnavailable
from cb import errors as cbe
from gateway import errors as gwe
from qb import errors as qbe

NOTHING_CHANGED = "Nothing was changed"


class ExplainedError(Exception):
    """An error raised with the words its reader should see: ``str(exc)`` is a clause in
    plain words that says what to do (``"the diagnosis names no credit memo …; press
    *Re-check*"``), shown as it is. The bot's own refusals derive from it."""


@dataclass(frozen=True)
class Words:
    """One entry of the table: ``what`` happened (a clause, or a function of the error that
    returns one), ``todo`` (what to do; ``None`` when ``what`` says it), the ``service`` that
    failed (for :func:`log_reason`) and whether the error is ``expected`` (an outage or a
    refusal rather than a bug)."""

    what: str | Callable[[Any], str]
    todo: str | None
    service: str | None = None
    expected: bool = False


def slack_error_code(exc: SlackApiError) -> str:
    """Slack's error code (``"channel_not_found"``), whatever the answer's body was; never
    read ``exc.response`` any other way. A body that is not JSON (a proxy's 503 in plain
    text, an HTML page) reads as its HTTP status instead of failing: slack_sdk then gives
    an ``AsyncSlackResponse`` whose ``data`` is a ``str`` (its ``.get`` raises
    ``AttributeError``) or, for HTML labelled ``application/json``, the raw
    ``aiohttp.ClientResponse`` (no ``.get``, ``.data`` nor ``.status_code``)."""
    response: Any = exc.response
    if response is None:
        return "no answer"
    data = getattr(response, "data", response)
    if isinstance(data, Mapping):
        code = data.get("error")
        if isinstance(code, str) and code:
            return code[:100]
    status = slack_http_status(exc)
    return f"HTTP {status}" if status is not None else "an unreadable answer"


def slack_http_status(exc: SlackApiError) -> int | None:
    """The HTTP status of the answer behind ``exc`` (``None``: no answer), whatever shape
    slack_sdk gave it (see :func:`slack_error_code`)."""
    response: Any = exc.response
    status = getattr(response, "status_code", None)
    if not isinstance(status, int):
        status = getattr(response, "status", None)  # an aiohttp.ClientResponse
    return status if isinstance(status, int) else None


def _qbo_not_found(exc: qbe.NotFoundError) -> str:
    what = (
        "something it refers to was made inactive"
        if exc.inactive
        else ("a record it needs was deleted")
    )
    return f"QuickBooks says {what}"


def _qbo_refused(exc: qbe.ValidationError) -> str:
    return f"QuickBooks refused it: {exc.detail or exc.message}"


_QBO = "QuickBooks"
_CB = "ConnectBooster"
_GW = "Gateway"
_GW_DOWN = Words("the payment gateway did not answer", "try again in a few minutes", _GW)
_CB_DOWN = Words("ConnectBooster did not answer", "try again in a few minutes", _CB)
_QBO_DOWN = Words("QuickBooks did not answer", "try again in a few minutes", _QBO)
_QBO_ACCESS = Words(
    "QuickBooks refused the bot's access",
    "an admin should check the QuickBooks connection, then try again",
    _QBO,
)
_SLACK_DOWN = Words("Slack did not answer", "try again in a minute", "Slack")
_UNREADABLE = Words(
    "the bot could not read what it stored about this payment",
    "an admin should look at the bot's logs",
    "Redis",
)

ERRORS: dict[type[BaseException], Words] = {
    qbe.ReconnectRequired: Words(
        "the QuickBooks connection has expired",
        f"an admin must reconnect it (`{qbe.RECONNECT_COMMAND}`), then try again",
        _QBO,
    ),
    qbe.AuthenticationError: _QBO_ACCESS,
    qbe.AuthorizationError: _QBO_ACCESS,
    qbe.ThrottledError: Words(
        "QuickBooks is busy (too many requests)", "try again in a minute", _QBO
    ),
    qbe.StaleObjectError: Words(
        "someone changed the same record in QuickBooks at the same moment",
        "press *Re-check*, then try again",
        _QBO,
    ),
    qbe.NotFoundError: Words(_qbo_not_found, "press *Re-check* to look again", _QBO),
    qbe.ValidationError: Words(_qbo_refused, "check the payment in QuickBooks", _QBO),
    qbe.ServerError: _QBO_DOWN,
    qbe.TransportError: _QBO_DOWN,
    qbe.QBOError: Words(
        lambda e: f"QuickBooks answered with an error ({e.message})",
        "try again or check QuickBooks",
        _QBO,
    ),
    cbe.Conflict: Words(
        lambda e: f"ConnectBooster refused: {e.message} (the payment's sync state changed)",
        "press *Re-check* to see where it stands",
        _CB,
    ),
    cbe.NotFound: Words("ConnectBooster no longer has this payment", "press *Re-check*", _CB),
    cbe.Unauthorized: Words(
        "ConnectBooster refused the bot's API key", "an admin must check CB_API_KEY", _CB
    ),
    cbe.RateLimited: _CB_DOWN,
    cbe.ServerError: _CB_DOWN,
    cbe.TransportError: _CB_DOWN,
    cbe.CBError: Words(
        lambda e: f"ConnectBooster answered with an error ({e.message})", "try again later", _CB
    ),
    gwe.AuthenticationFailed: Words(
        "the payment gateway refused the bot's security key",
        "an admin must check GATEWAY_SECURITY_KEY (a key with API permission)",
        _GW,
    ),
    gwe.Rejected: Words(
        lambda e: f"the payment gateway refused the query ({e.message})", "try again later", _GW
    ),
    gwe.RateLimited: _GW_DOWN,
    gwe.ServerError: _GW_DOWN,
    gwe.TransportError: _GW_DOWN,
    gwe.MalformedResponse: Words(
        lambda e: f"the payment gateway's answer could not be read ({e.message})",
        "try again later",
        _GW,
    ),
    gwe.GatewayError: Words(
        lambda e: f"the payment gateway answered with an error ({e.message})",
        "try again later",
        _GW,
    ),
    SlackApiError: Words(
        lambda e: f"Slack refused the bot's request ({slack_error_code(e)})", "try again", "Slack"
    ),
    SlackClientError: _SLACK_DOWN,
    aiohttp.ClientError: _SLACK_DOWN,
    StoreUnavailable: Words(
        "the bot's storage is not answering right now (Redis did not reply)",
        "try again in a minute",
        "Redis",
        expected=True,
    ),
    SchemaTooNew: _UNREADABLE,
    CorruptRecord: _UNREADABLE,
    StoreError: Words(
        "some of the bot's stored state could not be read",
        "an admin can see the details in the bot's log",
        "Redis",
    ),
    ShuttingDown: Words("the bot is restarting", "try again in a moment", expected=True),
    ExplainedError: Words(str, None, expected=True),
    TimeoutError: Words("it took too long and was stopped", "press *Re-check*, then try again"),
}
"""The table (see the module docstring); :func:`words_for` picks an error's entry."""

UNKNOWN = Words(
    lambda e: f"something went wrong on the bot's side ({type(e).__name__})",
    "try again, or ask an admin to look at the bot's logs",
)
"""The words for an error the table does not know: its type's name, never its message."""


def words_for(exc: BaseException) -> Words:
    """The table's entry for ``exc``: its own class's, else its nearest listed base's."""
    for cls in type(exc).__mro__:
        words = ERRORS.get(cls)
        if words is not None:
            return words
    return UNKNOWN


def _what(words: Words, exc: BaseException) -> str:
    return words.what if isinstance(words.what, str) else words.what(exc)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def describe_error(exc: BaseException) -> str:
    """``exc`` as a clause in plain words with what to do, to go inside a sentence."""
    words = words_for(exc)
    what = _what(words, exc)
    return what if words.todo is None else f"{what}; {words.todo}"


def error_text(exc: BaseException) -> str:
    """The answer to a request ``exc`` stopped: what happened, that nothing was changed,
    and what to do."""
    words = words_for(exc)
    what = _capital(_what(words, exc).strip().rstrip("."))
    if words.todo is None:
        return f"{what}."
    return f"{what}. {NOTHING_CHANGED} — {words.todo}."


def log_reason(exc: BaseException) -> str:
    """Which service failed and why, in one line for the logs (clients keep secrets out of
    their errors; an unknown error is logged with its message, never shown)."""
    words = words_for(exc)
    if words is ERRORS[ExplainedError]:
        return str(exc)
    if isinstance(exc, SlackApiError):
        return f"Slack: {slack_error_code(exc)}"
    if words.service is None:
        return f"{type(exc).__name__}: {exc}"
    if words is _SLACK_DOWN:
        return f"Slack: {type(exc).__name__}: {exc}"
    return f"{words.service}: {exc}"


def is_expected(exc: BaseException) -> bool:
    """True for an outage or a refusal (storage down, restarting, a refused remedy): worth a
    warning, not a traceback."""
    return words_for(exc).expected


__all__ = [
    "ERRORS",
    "NOTHING_CHANGED",
    "UNKNOWN",
    "ExplainedError",
    "Words",
    "describe_error",
    "error_text",
    "is_expected",
    "log_reason",
    "slack_error_code",
    "slack_http_status",
    "words_for",
]
