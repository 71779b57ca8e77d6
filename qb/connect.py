"""First connection to a QuickBooks company: the OAuth 2.0 authorization-code flow.

``python app.py qbo-connect`` calls :func:`run_connect`. It prints Intuit's consent URL
(:func:`start_consent`), gets the address Intuit redirected the browser to — either on a
local port (:func:`callback_app`; Intuit accepts ``http://localhost`` only with
development keys) or pasted by the operator (:func:`read_redirect`; any registered redirect
URI, HTTPS included, and no local server) — checks its ``state``, checks that the company
connected is the one expected *before* anything is exchanged or stored, then trades the code
for tokens and saves them (:func:`complete`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from qb.auth import DEFAULT_TOKEN_URL, TokenRecord, TokenStore, post_token_form
from qb.errors import AuthenticationError

log = logging.getLogger(__name__)

DEFAULT_AUTH_URL = "https://appcenter.intuit.com/connect/oauth2"
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
DEFAULT_REDIRECT_URI = "http://localhost:8765/callback"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class ConnectError(AuthenticationError):
    """The consent was refused, or the redirect did not match this attempt."""


class WrongCompany(ConnectError):
    """The operator connected another company than the one configured; nothing was stored."""

    def __init__(self, connected: str, expected: str) -> None:
        super().__init__(
            f"you connected QuickBooks company {connected}, but QBO_REALM_ID is {expected}; "
            "nothing was stored (the connection to the configured company is unchanged). "
            f"Connect company {expected}, or set QBO_REALM_ID={connected} if that is the "
            "company the bot should watch, and run qbo-connect again."
        )
        self.connected = connected
        self.expected = expected


def consent_url(
    client_id: str,
    redirect_uri: str,
    state: str,
    scope: str = ACCOUNTING_SCOPE,
    *,
    auth_url: str = DEFAULT_AUTH_URL,
) -> str:
    """Intuit's consent page for this app."""
    params = {
        "client_id": client_id,
        "response_type": "code",
        "scope": scope,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    return f"{auth_url}?{urlencode(params)}"


def is_local(redirect_uri: str) -> bool:
    """True when ``redirect_uri`` points at this machine (a local server can receive it)."""
    return (urlsplit(redirect_uri).hostname or "") in LOCAL_HOSTS


@dataclass(frozen=True)
class Consent:
    """One connection attempt: its unguessable ``state``, its redirect URI, and the consent
    page's address."""

    state: str
    redirect_uri: str
    url: str


def start_consent(
    client_id: str,
    redirect_uri: str,
    *,
    scope: str = ACCOUNTING_SCOPE,
    auth_url: str = DEFAULT_AUTH_URL,
) -> Consent:
    """A new attempt with a fresh ``state``."""
    state = secrets.token_urlsafe(24)
    return Consent(
        state, redirect_uri, consent_url(client_id, redirect_uri, state, scope, auth_url=auth_url)
    )


def redirect_params(query: dict[str, str], state: str) -> tuple[str, str]:
    """The ``code`` and ``realmId`` of Intuit's redirect, once its ``state`` is this
    attempt's; ``ConnectError`` otherwise (a refusal, a forged or stale link)."""
    if not secrets.compare_digest(query.get("state", ""), state):
        raise ConnectError(
            "this address does not belong to this connection attempt (its "
            "state does not match): start qbo-connect again and use the "
            "address it leads to"
        )
    if "error" in query:
        raise ConnectError(f"QuickBooks consent refused: {query['error']}")
    code, realm = query.get("code", ""), query.get("realmId", "")
    if not code or not realm:
        raise ConnectError("the address lacks the code or the realmId Intuit adds")
    if not realm.isdigit():
        raise ConnectError("the address's realmId is not a QuickBooks company id")
    return code, realm


def read_redirect(pasted: str, state: str) -> tuple[str, str]:
    """The ``code`` and ``realmId`` in the address the operator pasted (the whole address
    bar, or just its query string), checked as :func:`redirect_params` does."""
    text = pasted.strip()
    if not text:
        raise ConnectError("nothing was pasted")
    query = urlsplit(text).query if "://" in text else text.lstrip("?")
    params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    return redirect_params(params, state)


async def exchange_code(
    session: aiohttp.ClientSession,
    token_url: str,
    client_id: str,
    client_secret: SecretStr,
    code: str,
    redirect_uri: str,
) -> TokenRecord:
    """Trade an authorization code for access and refresh tokens."""
    return await post_token_form(
        session,
        token_url,
        client_id,
        client_secret,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
    )


@dataclass
class ConnectResult:
    """What a completed connection gives: the company id and the tokens (already saved)."""

    realm_id: str
    record: TokenRecord


async def complete(
    session: aiohttp.ClientSession,
    consent: Consent,
    code: str,
    realm: str,
    *,
    client_id: str,
    client_secret: SecretStr,
    store: TokenStore,
    expected_realm: str | None = None,
    token_url: str = DEFAULT_TOKEN_URL,
) -> ConnectResult:
    """Check the company (``WrongCompany`` before anything is exchanged or stored), trade
    the code for tokens and save them."""
    if expected_realm is not None and realm != expected_realm:
        raise WrongCompany(realm, expected_realm)
    record = await exchange_code(
        session, token_url, client_id, client_secret, code, consent.redirect_uri
    )
    record = record.model_copy(update={"realm_id": realm})
    await store.save(record)
    log.info("connected QuickBooks company %s", realm)
    return ConnectResult(realm_id=realm, record=record)


def callback_app(path: str, state: str, done: asyncio.Future[tuple[str, str]]) -> web.Application:
    """The local server's one page: Intuit's redirect to ``path``. A forged or stale one
    is refused and changes nothing; the first good one (or a refusal) settles ``done``."""

    async def callback(request: web.Request) -> web.Response:
        query = dict(request.query)
        if not secrets.compare_digest(query.get("state", ""), state):
            return web.Response(
                status=400,
                text="This link does not belong to this connection "
                "attempt (state mismatch). Start `qbo-connect` again.",
            )
        try:
            code_realm = redirect_params(query, state)
        except ConnectError as exc:
            if not done.done():
                done.set_exception(exc)
            return web.Response(status=400, text=f"QuickBooks was not connected: {exc}")
        if not done.done():
            done.set_result(code_realm)
        return web.Response(
            text="Consent received. Back to the terminal: qbo-connect says "
            "there whether the company is connected. You can close this tab."
        )

    app = web.Application()
    app.router.add_get(path, callback)
    return app


async def run_connect(
    session: aiohttp.ClientSession,
    *,
    client_id: str,
    client_secret: SecretStr,
    store: TokenStore,
    redirect_uri: str = DEFAULT_REDIRECT_URI,
    expected_realm: str | None = None,
    token_url: str = DEFAULT_TOKEN_URL,
    auth_url: str = DEFAULT_AUTH_URL,
    scope: str = ACCOUNTING_SCOPE,
    paste: Callable[[], Awaitable[str]] | None = None,
    listen_host: str = "127.0.0.1",
    listen_port: int | None = None,
    wait_seconds: float = 600.0,
    announce: Callable[[str], None] = print,
) -> ConnectResult:
    """Run the authorization-code flow end to end and save the tokens to ``store``.

    With ``paste``, ``announce`` gets the consent URL and ``paste()`` returns the address
    the browser was redirected to. Without it, a local server listens on ``listen_port``
    (default: the port of ``redirect_uri``; 0 picks a free port and rewrites
    ``redirect_uri`` with it) and waits up to ``wait_seconds`` for the redirect. Either way
    the company must be ``expected_realm`` (when given) before anything is stored.
    """
    if paste is not None:
        consent = start_consent(client_id, redirect_uri, scope=scope, auth_url=auth_url)
        announce(consent.url)
        code, realm = read_redirect(await paste(), consent.state)
    else:
        consent, code, realm = await _local_redirect(
            client_id,
            redirect_uri,
            scope=scope,
            auth_url=auth_url,
            listen_host=listen_host,
            listen_port=listen_port,
            wait_seconds=wait_seconds,
            announce=announce,
        )
    return await complete(
        session,
        consent,
        code,
        realm,
        client_id=client_id,
        client_secret=client_secret,
        store=store,
        expected_realm=expected_realm,
        token_url=token_url,
    )


async def _local_redirect(
    client_id: str,
    redirect_uri: str,
    *,
    scope: str,
    auth_url: str,
    listen_host: str,
    listen_port: int | None,
    wait_seconds: float,
    announce: Callable[[str], None],
) -> tuple[Consent, str, str]:
    """Serve :func:`callback_app` on the redirect's port, announce the consent URL and wait
    for Intuit's redirect: the attempt, the code and the realm."""
    parts = urlsplit(redirect_uri)
    path = parts.path or "/"
    port = parts.port if listen_port is None else listen_port
    state = secrets.token_urlsafe(24)
    done: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
    runner = web.AppRunner(callback_app(path, state, done))
    await runner.setup()
    try:
        await web.TCPSite(runner, listen_host, port or 0).start()
    except BaseException:
        await runner.cleanup()
        raise
    if not port:
        redirect_uri = f"{parts.scheme}://{parts.hostname}:{runner.addresses[0][1]}{path}"
    consent = Consent(
        state, redirect_uri, consent_url(client_id, redirect_uri, state, scope, auth_url=auth_url)
    )
    announce(consent.url)
    try:
        code, realm = await asyncio.wait_for(done, wait_seconds)
    except TimeoutError as exc:
        raise ConnectError("no redirect from QuickBooks arrived in time") from exc
    finally:
        await runner.cleanup()
    return consent, code, realm
