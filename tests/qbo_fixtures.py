"""A QBO sandbox on a loopback port with a real client pointed at it (for any test)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from qb.auth import MemoryTokenStore, OAuthClient, TokenRecord, TokenStore
from qb.client import QBOClient
from sandbox.qbo import QBOSandbox, SandboxCompany

REALM = "9341453000000001"
FAST = {"throttle_wait": 0.01, "backoff_base": 0.001, "backoff_cap": 0.01}
"""Client knobs that shrink QBO's 60 s throttle wait and the backoff for tests."""


@dataclass
class QBOEnv:
    """A running sandbox, its company and a client (with its OAuth client and store)."""

    sandbox: QBOSandbox
    company: SandboxCompany
    server: TestServer
    session: aiohttp.ClientSession
    store: TokenStore
    auth: OAuthClient
    client: QBOClient

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def token_url(self) -> str:
        return self.base_url + "/oauth2/v1/tokens/bearer"

    def new_auth(self, store: TokenStore | None = None, **kw: Any) -> OAuthClient:
        return OAuthClient(
            self.session,
            client_id=self.sandbox.client_id,
            client_secret=SecretStr(self.sandbox.client_secret),
            token_url=self.token_url,
            store=store or self.store,
            **kw,
        )

    def new_client(self, auth: OAuthClient | None = None, **kw: Any) -> QBOClient:
        opts: dict[str, Any] = {**FAST, **kw}
        return QBOClient(
            self.session,
            realm_id=self.company.realm_id,
            base_url=self.base_url,
            auth=auth or self.auth,
            environment="sandbox",
            **opts,
        )


def connected_record(sandbox: QBOSandbox, realm: str = REALM) -> TokenRecord:
    """A token record as after a fresh connection: valid access token, live refresh token."""
    return TokenRecord(
        access_token=SecretStr(sandbox.issue_access_token(realm)),
        access_expires_at=datetime.now(UTC) + timedelta(seconds=sandbox.access_ttl),
        refresh_token=SecretStr(sandbox.issue_refresh_token(realm)),
        realm_id=realm,
    )


@asynccontextmanager
async def start_qbo(
    *,
    store: TokenStore | None = None,
    sandbox: QBOSandbox | None = None,
    middlewares: Sequence[Any] = (),
    **client_kw: Any,
) -> AsyncIterator[QBOEnv]:
    """Run a sandbox with one company on port 0 and yield a connected client.

    ``middlewares`` run before the sandbox's own (to observe or meddle with requests).
    """
    sbx = sandbox or QBOSandbox()
    company = sbx.add_company(REALM)
    app = sbx.make_app()
    for i, mw in enumerate(middlewares):
        app.middlewares.insert(i, mw)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    session = aiohttp.ClientSession()
    try:
        st = store or MemoryTokenStore(connected_record(sbx))
        env = QBOEnv(sbx, company, server, session, st, None, None)  # type: ignore[arg-type]
        env.auth = env.new_auth()
        env.client = env.new_client(**client_kw)
        yield env
    finally:
        await session.close()
        await server.close()


def seed_invoice(
    company: SandboxCompany, customer_id: str, amount: str, *, doc: str | None = None
) -> dict[str, Any]:
    """One invoice with a single sales line of ``amount``."""
    body: dict[str, Any] = {
        "CustomerRef": {"value": customer_id},
        "Line": [
            {
                "Amount": Decimal(amount),
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": "1", "name": "Services"}},
            }
        ],
    }
    if doc:
        body["DocNumber"] = doc
    return company.create("Invoice", body)
