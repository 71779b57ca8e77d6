"""``bot.errors``: every typed error in the table reads as its own specific words, an unknown
error gets a generic answer that names only its type, and no secret reaches the words."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.commands.listing import PagingExpired
from bot.errors import (
    ERRORS,
    UNKNOWN,
    ExplainedError,
    describe_error,
    error_text,
    is_expected,
    log_reason,
    slack_error_code,
    words_for,
)
from bot.remedies import RemedyFailed, RemedyRefused
from bot.remedies.picker import PickerUnavailable
from bot.runtime.services import ShuttingDown
from bot.slack.permissions import PermissionCheckFailed
from bot.store import CorruptRecord, SchemaTooNew, StoreError, StoreUnavailable
from cb import errors as cbe
from gateway import errors as gwe
from qb import errors as qbe

SECRET = "xoxb-1234-SECRET-token"


def slack_response(data: object, status: int = 200) -> AsyncSlackResponse:
    return AsyncSlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack/api/x",
        req_args={},
        data=data,
        headers={},
        status_code=status,
    )


# One instance of every class the table lists, built the way its code raises it.
SAMPLES: dict[type[BaseException], BaseException] = {
    qbe.ReconnectRequired: qbe.ReconnectRequired(),
    qbe.AuthenticationError: qbe.AuthenticationError("token expired", code="3200"),
    qbe.AuthorizationError: qbe.AuthorizationError("forbidden", code="3100"),
    qbe.ThrottledError: qbe.ThrottledError("throttled", retry_after=3),
    qbe.StaleObjectError: qbe.StaleObjectError("stale", code="5010"),
    qbe.NotFoundError: qbe.NotFoundError("gone", code="610", detail="Object was deleted"),
    qbe.ValidationError: qbe.ValidationError("bad", code="6000", detail="Amount too large"),
    qbe.ServerError: qbe.ServerError("boom", status=503),
    qbe.TransportError: qbe.TransportError("timed out"),
    qbe.QBOError: qbe.QBOError("odd fault"),
    cbe.Conflict: cbe.Conflict(message="payment is synced"),
    cbe.NotFound: cbe.NotFound(),
    cbe.Unauthorized: cbe.Unauthorized(),
    cbe.RateLimited: cbe.RateLimited(retry_after=2),
    cbe.ServerError: cbe.ServerError(),
    cbe.TransportError: cbe.TransportError(message="refused"),
    cbe.CBError: cbe.CBError(418, "teapot", "short and stout"),
    gwe.AuthenticationFailed: gwe.AuthenticationFailed("Authentication Failed"),
    gwe.Rejected: gwe.Rejected("Invalid condition"),
    gwe.RateLimited: gwe.RateLimited(retry_after=3),
    gwe.ServerError: gwe.ServerError("HTTP 502", status=502),
    gwe.TransportError: gwe.TransportError("connection reset"),
    gwe.MalformedResponse: gwe.MalformedResponse("not XML"),
    gwe.GatewayError: gwe.GatewayError("odd"),
    SlackApiError: SlackApiError(
        "failed", slack_response({"ok": False, "error": "channel_not_found"})
    ),
    SlackClientError: SlackClientError("no session"),
    aiohttp.ClientError: aiohttp.ClientConnectionError("connection reset"),
    StoreUnavailable: StoreUnavailable("Redis is not answering"),
    SchemaTooNew: SchemaTooNew("schema 9"),
    CorruptRecord: CorruptRecord("not JSON"),
    StoreError: StoreError("odd"),
    ShuttingDown: ShuttingDown("the bot is restarting; try again in a moment"),
    ExplainedError: ExplainedError("the diagnosis names no credit memo; press *Re-check*"),
    TimeoutError: TimeoutError(),
}

SPECIFIC = {
    qbe.ReconnectRequired: "reconnect it (`python app.py qbo-connect`)",
    qbe.AuthenticationError: "QuickBooks refused the bot's access",
    qbe.AuthorizationError: "QuickBooks refused the bot's access",
    qbe.ThrottledError: "QuickBooks is busy",
    qbe.StaleObjectError: "changed the same record in QuickBooks",
    qbe.NotFoundError: "QuickBooks says a record it needs was deleted",
    qbe.ValidationError: "QuickBooks refused it: Amount too large",
    qbe.ServerError: "QuickBooks did not answer",
    qbe.TransportError: "QuickBooks did not answer",
    qbe.QBOError: "QuickBooks answered with an error (odd fault)",
    cbe.Conflict: "ConnectBooster refused: payment is synced",
    cbe.NotFound: "ConnectBooster no longer has this payment",
    cbe.Unauthorized: "CB_API_KEY",
    cbe.RateLimited: "ConnectBooster did not answer",
    cbe.ServerError: "ConnectBooster did not answer",
    cbe.TransportError: "ConnectBooster did not answer",
    cbe.CBError: "ConnectBooster answered with an error (short and stout)",
    gwe.AuthenticationFailed: "GATEWAY_SECURITY_KEY",
    gwe.Rejected: "refused the query (Invalid condition)",
    gwe.RateLimited: "payment gateway did not answer",
    gwe.ServerError: "payment gateway did not answer",
    gwe.TransportError: "payment gateway did not answer",
    gwe.MalformedResponse: "could not be read (not XML)",
    gwe.GatewayError: "answered with an error (odd)",
    SlackApiError: "Slack refused the bot's request (channel_not_found)",
    SlackClientError: "Slack did not answer",
    aiohttp.ClientError: "Slack did not answer",
    StoreUnavailable: "storage is not answering",
    SchemaTooNew: "could not read what it stored",
    CorruptRecord: "could not read what it stored",
    StoreError: "stored state could not be read",
    ShuttingDown: "restarting",
    ExplainedError: "the diagnosis names no credit memo; press *Re-check*",
    TimeoutError: "took too long",
}


def test_every_class_in_the_table_has_a_sample_and_its_words() -> None:
    assert set(SAMPLES) == set(ERRORS) == set(SPECIFIC)


@pytest.mark.parametrize("cls", list(ERRORS), ids=lambda c: c.__name__)
def test_each_error_maps_to_its_specific_words(cls: type[BaseException]) -> None:
    exc = SAMPLES[cls]
    assert words_for(exc) is ERRORS[cls]
    clause, answer = describe_error(exc), error_text(exc)
    assert SPECIFIC[cls] in clause
    assert SPECIFIC[cls].lower() in answer.lower()
    assert "went wrong" not in answer
    assert answer[0].isupper() and answer.endswith(".")
    if ERRORS[cls].todo is not None:  # the bot's own refusals say it themselves
        assert "Nothing was changed" in answer


def test_a_subclass_takes_its_nearest_listed_base() -> None:
    assert words_for(qbe.ReconnectRequired()) is not words_for(qbe.AuthenticationError("x"))
    assert "RemedyRefused" not in describe_error(RemedyRefused("the invoice belongs elsewhere"))
    assert describe_error(RemedyRefused("the invoice belongs elsewhere")) == (
        "the invoice belongs elsewhere"
    )
    assert describe_error(RemedyFailed("the balance did not move")) == "the balance did not move"
    assert error_text(PermissionCheckFailed("Slack did not list the group (x); try again")) == (
        "Slack did not list the group (x); try again."
    )
    assert words_for(PickerUnavailable("x")) is ERRORS[ExplainedError]
    assert words_for(PagingExpired("y")) is UNKNOWN  # answered where it is raised


def test_an_unknown_error_gets_a_generic_safe_answer() -> None:
    exc = RuntimeError(f"connect failed with token={SECRET}")
    assert words_for(exc) is UNKNOWN
    for text in (describe_error(exc), error_text(exc)):
        assert "went wrong on the bot's side (RuntimeError)" in text
        assert SECRET not in text and "token=" not in text
    assert "Nothing was changed" in error_text(exc)
    assert not is_expected(exc)


def test_no_secret_in_the_words_of_any_typed_error() -> None:
    """The words show only what the services answered; a secret the bot holds (a token in
    a request, a Slack response's headers) never reaches them."""
    api = SlackApiError(
        f"failed calling with {SECRET}",
        slack_response({"ok": False, "error": "invalid_auth", "token": SECRET}),
    )
    for exc in (*SAMPLES.values(), api):
        for text in (describe_error(exc), error_text(exc)):
            assert SECRET not in text, type(exc).__name__


def test_slack_error_code_is_robust_to_odd_answers() -> None:
    api = SAMPLES[SlackApiError]
    assert isinstance(api, SlackApiError) and slack_error_code(api) == "channel_not_found"
    html = SlackApiError("failed", slack_response("<html>Bad gateway</html>", status=502))
    assert slack_error_code(html) == "HTTP 502"
    assert "Slack refused the bot's request (HTTP 502)" in error_text(html)
    no_answer = SlackApiError("failed", None)
    assert slack_error_code(no_answer) == "no answer"
    plain_dict = SlackApiError("failed", {"ok": False, "error": "ratelimited"})
    assert slack_error_code(plain_dict) == "ratelimited"
    no_code = SlackApiError("failed", slack_response({"ok": False}))
    assert slack_error_code(no_code) == "HTTP 200"


def test_log_reason_names_the_service() -> None:
    assert log_reason(SAMPLES[cbe.Conflict]).startswith("ConnectBooster: ")
    assert log_reason(SAMPLES[qbe.ThrottledError]).startswith("QuickBooks: ")
    assert log_reason(SAMPLES[SlackApiError]) == "Slack: channel_not_found"
    assert log_reason(SAMPLES[aiohttp.ClientError]) == (
        "Slack: ClientConnectionError: connection reset"
    )
    assert log_reason(SAMPLES[StoreUnavailable]) == "Redis: Redis is not answering"
    assert log_reason(ValueError("odd")) == "ValueError: odd"
    assert log_reason(RemedyRefused("not this one")) == "not this one"


def test_outages_and_refusals_are_expected_bugs_are_not() -> None:
    for exc in (
        SAMPLES[StoreUnavailable],
        SAMPLES[ShuttingDown],
        PermissionCheckFailed("x"),
        RemedyRefused("y"),
    ):
        assert is_expected(exc)
    for exc in (SAMPLES[CorruptRecord], SAMPLES[qbe.QBOError], KeyError("k")):
        assert not is_expected(exc)
