"""``python app.py qbo-connect``: the first connection to QuickBooks (OAuth consent), with
the tokens kept in Redis where the bot reads them.

Two ways to get Intuit's redirect back:

- a local server (the default while the redirect URI points at this machine,
  ``http://localhost:<port>/callback``; Intuit accepts that only with development keys);
- ``--paste`` (and always when ``QBO_REDIRECT_URI`` is not local, e.g. an HTTPS page
  registered with production keys): the operator approves in any browser, then pastes the
  address the browser was sent to; no local server is needed and the page itself need not
  exist (the address bar holds what is needed).

Either way the company connected must be ``QBO_REALM_ID``: another one is refused before
anything is stored, so a working connection is never overwritten by a mistake.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import aiohttp
import redis.asyncio as aioredis

from bot.runtime.settings import Settings
from bot.store.tokens import RedisTokenStore
from qb.connect import is_local, run_connect
from qb.errors import QBOError


def token_keys(settings: Settings, realm_id: str | None = None) -> tuple[str, str]:
    """The Redis keys of one company's token record and of its refresh lock."""
    realm = realm_id or settings.qbo_realm_id
    p = settings.redis_prefix
    return f"{p}qbo:token:{realm}", f"{p}qbo:token-lock:{realm}"


def redirect_uri(settings: Settings, port: int) -> str:
    """``QBO_REDIRECT_URI``, or the local callback on ``port``."""
    return settings.qbo_redirect_uri or f"http://localhost:{port}/callback"


async def read_stdin() -> str:
    """One line from standard input (the pasted address), without blocking the loop."""
    return await asyncio.to_thread(sys.stdin.readline)


async def connect_quickbooks(
    settings: Settings,
    *,
    port: int,
    redis: aioredis.Redis,
    paste: bool = False,
    read_line: Callable[[], Awaitable[str]] = read_stdin,
) -> int:
    """Print Intuit's consent URL, get the redirect (local server on ``port``, or pasted),
    check the company, store the tokens. 0 when connected, 1 otherwise (with why)."""
    redirect = redirect_uri(settings, port)
    pasted = paste or not is_local(redirect)

    def announce(url: str) -> None:
        print(
            "Open this address in a browser, sign in to QuickBooks and approve company "
            f"{settings.qbo_realm_id}:\n\n  {url}\n"
        )
        if pasted:
            print(
                f"Intuit then sends the browser to {redirect}?code=… — copy that whole "
                "address from the address bar (the page itself may show an error) and "
                "paste it here, then press Enter:"
            )
        else:
            print(f"Waiting for Intuit's redirect on {redirect} …")

    key, lock_key = token_keys(settings)
    store = RedisTokenStore(redis, key, lock_key, encryption_key=settings.token_encryption_key)
    try:
        async with aiohttp.ClientSession() as session:
            result = await run_connect(
                session,
                client_id=settings.qbo_client_id,
                client_secret=settings.qbo_client_secret,
                store=store,
                redirect_uri=redirect,
                expected_realm=settings.qbo_realm_id,
                token_url=settings.qbo_oauth_token_url,
                paste=read_line if pasted else None,
                announce=announce,
            )
    except QBOError as exc:  # ConnectError, WrongCompany, a refused code exchange
        print(f"QuickBooks was not connected: {exc}")
        return 1
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"QuickBooks was not connected: Intuit did not answer ({type(exc).__name__})")
        return 1
    finally:
        await redis.aclose()
    print(f"QuickBooks company {result.realm_id} connected; tokens kept in Redis.")
    return 0
