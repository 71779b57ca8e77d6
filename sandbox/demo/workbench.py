"""The workbench page and its JSON API.

``/`` is one page that looks like a Slack channel (the bot's messages drawn from their Block
Kit, digest threads, ephemeral replies, modals, a box for ``/failed-payments``, a switch for
the acting user, the app's Home tab opened from the sidebar: ``/demo/api/home``, its buttons
through ``/demo/api/home-click``) beside a panel with the books and the portal
(``sandbox/static/``). The page polls ``/demo/api/state`` about once a second (answered
``unchanged`` when its version is current) and posts what the person does to
``/demo/api/...``, which the running
:class:`~sandbox.demo.session.Demo` hands to the Slack stand-in's driver.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.demo.books_edits import BOOK_EDITS, ENTITIES, EditRefused, edit_books
from sandbox.demo.session import Demo
from sandbox.demo.workspace import CHANNELS, FAILED_CHANNEL, USERS, DemoUser, user_by_id
from sandbox.qbo.wire import SandboxFault

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
DEMO = web.AppKey("demo", Demo)


def make_workbench_app(demo: Demo) -> web.Application:
    """The page (``/``, ``/static/...``) and its JSON API (``/demo/api/...``)."""
    app = web.Application(client_max_size=256 * 1024)
    app[DEMO] = demo
    app.router.add_get("/", _index)
    app.router.add_static("/static", STATIC_DIR)
    app.router.add_get("/demo/api/state", _state)
    app.router.add_get("/demo/api/books", _books)
    app.router.add_post("/demo/api/command", _command)
    app.router.add_post("/demo/api/click", _click)
    app.router.add_post("/demo/api/view-submit", _view_submit)
    app.router.add_post("/demo/api/view-close", _view_close)
    app.router.add_post("/demo/api/sync", _sync)
    app.router.add_post("/demo/api/home", _home)
    app.router.add_post("/demo/api/home-click", _home_click)
    app.router.add_post("/demo/api/books-edit", _books_edit)
    app.router.add_get("/demo/healthz", _healthz)
    return app


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=str, separators=(",", ":"))


def _bad(error: str, status: int = 400) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status)


async def _read(request: web.Request) -> tuple[dict[str, Any], DemoUser | None]:
    """The JSON body the page posted, and the user it acts as (``None``: no such user)."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=_dumps({"ok": False, "error": "body must be JSON"}),
            content_type="application/json",
        )
    return body, user_by_id(str(body.get("user", "")))


# ---- what the page reads ----


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})


async def _state(request: web.Request) -> web.Response:
    user = request.query.get("user") or USERS[0].id
    demo = request.app[DEMO]
    if demo.user(user) is None:
        return web.json_response({"ok": False, "error": f"unknown user {user}"}, status=400)
    text = _dumps(demo.state(user))
    version = hashlib.sha256(text.encode()).hexdigest()[:16]
    if request.query.get("version") == version:
        return web.json_response({"ok": True, "version": version, "unchanged": True})
    return web.Response(
        text=text[:-1] + f',"version":"{version}"}}',
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


async def _books(request: web.Request) -> web.Response:
    pid = request.query.get("payment", "")
    if not pid:
        return web.json_response({"ok": False, "error": "payment is required"}, status=400)
    body = await request.app[DEMO].books(pid)
    return web.Response(
        text=_dumps(body),
        content_type="application/json",
        status=200 if body.get("ok") else 404,
        headers={"Cache-Control": "no-store"},
    )


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "first_poll_done": request.app[DEMO].first_poll.is_set()})


# ---- what the page does ----


async def _command(request: web.Request) -> web.Response:
    body, user = await _read(request)
    if user is None:
        return _bad("choose who you are acting as")
    channel = str(body.get("channel") or FAILED_CHANNEL)
    if channel not in {c.id for c in CHANNELS}:
        return _bad(f"unknown channel {channel}")
    if str(body.get("command") or "/failed-payments") != "/failed-payments":
        return _bad("only /failed-payments is installed in this workspace")
    answer = await request.app[DEMO].command(user.id, channel, str(body.get("text") or ""))
    return answer.response()


async def _click(request: web.Request) -> web.Response:
    body, user = await _read(request)
    if user is None:
        return _bad("choose who you are acting as")
    action = body.get("action")
    if not isinstance(action, dict) or not action.get("action_id"):
        return _bad("action.action_id is required")
    channel, ts = str(body.get("channel") or ""), str(body.get("message_ts") or "")
    if not channel or not ts:
        return _bad("channel and message_ts are required")
    value = action.get("value")
    answer = await request.app[DEMO].click(
        user.id, channel, ts, str(action["action_id"]), str(value) if value is not None else None
    )
    return answer.response()


async def _view_submit(request: web.Request) -> web.Response:
    body, user = await _read(request)
    if user is None:
        return _bad("choose who you are acting as")
    values = body.get("values")
    if not isinstance(values, dict):
        return _bad("values is required")
    answer = await request.app[DEMO].submit_view(user.id, str(body.get("view_id") or ""), values)
    return answer.response()


async def _view_close(request: web.Request) -> web.Response:
    body, user = await _read(request)
    if user is None:
        return _bad("choose who you are acting as")
    return request.app[DEMO].close_view(user.id, str(body.get("view_id") or "")).response()


async def _home(request: web.Request) -> web.Response:
    """The acting user opens the app's Home tab."""
    _, user = await _read(request)
    if user is None:
        return _bad("choose who you are acting as")
    return (await request.app[DEMO].open_home(user.id)).response()


async def _home_click(request: web.Request) -> web.Response:
    """A click on a button of the acting user's Home tab."""
    body, user = await _read(request)
    if user is None:
        return _bad("choose who you are acting as")
    action = body.get("action")
    if not isinstance(action, dict) or not action.get("action_id"):
        return _bad("action.action_id is required")
    value = action.get("value")
    answer = await request.app[DEMO].home_click(
        user.id, str(action["action_id"]), str(value) if value is not None else None
    )
    return answer.response()


async def _sync(request: web.Request) -> web.Response:
    try:
        result = await request.app[DEMO].run_sync()
    except Exception as exc:  # noqa: BLE001 - told to the person at the page
        log.warning("demo sync run failed: %s", exc)
        return _bad(f"the sync run failed: {exc}", status=502)
    return web.Response(text=_dumps(result), content_type="application/json")


async def _books_edit(request: web.Request) -> web.Response:
    """An edit in the books, as a bookkeeper makes it in QuickBooks: ``{"entity": "Payment",
    "id": "42", "op": "delete" | "void" | "note" | "unapply", "note": "..."}`` (``unapply``:
    a credit memo taken off the payments that apply it). The QBO stand-in then sends its
    webhook and the bot's card follows (``POST /qbo/webhooks``). Answers ``done``, in words."""
    body, _user = await _read(request)
    entity, id_, op = str(body.get("entity", "")), str(body.get("id", "")), body.get("op")
    if op not in BOOK_EDITS or entity not in ENTITIES:
        return _bad(f"op must be one of {', '.join(BOOK_EDITS)}, entity a QuickBooks entity")
    co = request.app[DEMO].stand_ins.company
    try:
        done = edit_books(co, entity, id_, str(op), str(body.get("note") or ""))
    except LookupError as missing:
        return _bad(str(missing.args[0]), 404)
    except EditRefused as refused:
        return _bad(str(refused))
    except SandboxFault as fault:
        return _bad(f"QuickBooks refused it: {fault.message}")
    return web.json_response({"ok": True, "done": done})
