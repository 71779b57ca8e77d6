"""First connection to a QuickBooks company: the OAuth 2.0 authorization-code flow.

``python app.py qbo-connect`` calls :func:`run_connect`: it prints Intuit's consent URL,
receives the redirect on a local port, checks ``state``, exchanges the code for tokens and
saves them to the token store.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from qb.auth import DEFAULT_TOKEN_URL, TokenRecord, TokenStore, post_token_form
from qb.errors import AuthenticationError

log = logging.getLogger(__name__)

DEFAULT_AUTH_URL = "https://appcenter.intuit.com/connect/oauth2"
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
DEFAULT_REDIRECT_URI = "http://localhost:8765/callback"


class ConnectError(AuthenticationError):
    """The consent was refused, or the redirect did not match this attempt."""


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


async def run_connect(
    session: aiohttp.ClientSession,
    *,
    client_id: str,
    client_secret: SecretStr,
    store: TokenStore,
    redirect_uri: str = DEFAULT_REDIRECT_URI,
    token_url: str = DEFAULT_TOKEN_URL,
    auth_url: str = DEFAULT_AUTH_URL,
    scope: str = ACCOUNTING_SCOPE,
    listen_host: str = "127.0.0.1",
    listen_port: int | None = None,
    wait_seconds: float = 600.0,
    announce: Callable[[str], None] = print,
) -> ConnectResult:
    """Run the authorization-code flow end to end and save the tokens to ``store``.

    Listens on ``listen_port`` (default: the port of ``redirect_uri``; 0 picks a free port
    and rewrites ``redirect_uri`` with it), calls ``announce`` with the consent URL, waits
    up to ``wait_seconds`` for Intuit's redirect, checks ``state``, exchanges the code.
    """
    parts = urlsplit(redirect_uri)
    path = parts.path or "/"
    port = parts.port if listen_port is None else listen_port
    state = secrets.token_urlsafe(24)
    done: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()

    async def callback(request: web.Request) -> web.Response:
        q = request.query
        if not secrets.compare_digest(q.get("state", ""), state):
            return web.Response(status=400, text="This link does not belong to this connection "
                                "attempt (state mismatch). Start `qbo-connect` again.")
        if "error" in q:
            if not done.done():
                done.set_exception(ConnectError(f"QuickBooks consent refused: {q['error']}"))
            return web.Response(status=400, text="QuickBooks was not connected.")
        code, realm = q.get("code", ""), q.get("realmId", "")
        if not code or not realm:
            return web.Response(status=400, text="The redirect lacks code or realmId.")
        if not done.done():
            done.set_result((code, realm))
        return web.Response(text="QuickBooks is connected. You can close this tab.")

    app = web.Application()
    app.router.add_get(path, callback)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, listen_host, port or 0)
        await site.start()
        if not port:
            bound = runner.addresses[0][1]
            redirect_uri = f"{parts.scheme}://{parts.hostname}:{bound}{path}"
        announce(consent_url(client_id, redirect_uri, state, scope, auth_url=auth_url))
        try:
            code, realm = await asyncio.wait_for(done, wait_seconds)
        except TimeoutError as exc:
            raise ConnectError("no redirect from QuickBooks arrived in time") from exc
        record = await exchange_code(session, token_url, client_id, client_secret, code,
                                     redirect_uri)
        record = record.model_copy(update={"realm_id": realm})
        await store.save(record)
        log.info("connected QuickBooks company %s", realm)
        return ConnectResult(realm_id=realm, record=record)
    finally:
        await runner.cleanup()
