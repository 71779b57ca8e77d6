"""``POST /qbo/webhooks``: QuickBooks tells the bot its books changed.

On the HTTP app (``PORT``), and for a Socket Mode bot on ``WEBHOOK_PORT`` when set
(:func:`webhook_app`). The listener hands the raw body and ``intuit-signature`` to
``bot.webhooks.intake.accept`` — signature first, nothing kept otherwise — and answers at
once; the worker (``bot.webhooks.worker``) does the work after the answer. Off (404) while
``QBO_WEBHOOK_VERIFIER_TOKEN`` is unset.
"""

from __future__ import annotations

from aiohttp import web

from bot.runtime.services import Services
from bot.webhooks.intake import accept

PATH = "/qbo/webhooks"
MAX_BODY = 1024 * 1024
"""A bigger body is not a QuickBooks delivery (1 MiB)."""


def add_webhook_routes(webapp: web.Application, services: Services) -> None:
    """``POST /qbo/webhooks`` on ``webapp`` (when the verifier token is set)."""
    if services.settings.qbo_webhook_verifier_token is None:
        return

    async def qbo_webhooks(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.json_response({"error": "body too large"}, status=413)
        raw = await request.read()
        result = await accept(services, raw, request.headers.get("intuit-signature"))
        if result.status == 200:
            return web.json_response({"ok": True, "kept": result.kept, "ignored": result.ignored})
        return web.json_response({"error": result.message}, status=result.status)

    webapp.router.add_post(PATH, qbo_webhooks)


def webhook_app(services: Services) -> web.Application:
    """An app serving ``POST /qbo/webhooks`` alone (``WEBHOOK_PORT``, Socket Mode)."""
    webapp = web.Application(client_max_size=MAX_BODY)
    add_webhook_routes(webapp, services)
    return webapp
