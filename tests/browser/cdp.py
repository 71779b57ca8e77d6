"""A small driver for headless Chromium over the DevTools protocol (aiohttp websocket).

Nothing is downloaded: it runs the system's ``chromium`` (Debian's package) with
``--remote-debugging-port=0``, reads the port from ``DevToolsActivePort`` in a throwaway
profile, opens one page and talks to it: navigate, evaluate JavaScript, click with real mouse
events, type, take screenshots. JavaScript errors on the page are collected in ``errors``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """Path of a Chromium (or Chrome) executable on PATH, or ``None``."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class CDPError(Exception):
    """The browser answered a command with an error, or a page script threw."""


class Page:
    """One browser tab, attached with a flattened session."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._reader = asyncio.create_task(self._read(), name="cdp-reader")
        self.session_id: str | None = None
        self.errors: list[str] = []
        self.console: list[str] = []

    async def _read(self) -> None:
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            if "id" in data:
                fut = self._pending.pop(data["id"], None)
                if fut is not None and not fut.done():
                    if "error" in data:
                        fut.set_exception(CDPError(json.dumps(data["error"])))
                    else:
                        fut.set_result(data.get("result", {}))
                continue
            method = data.get("method")
            params = data.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                exc = details.get("exception", {})
                self.errors.append(str(exc.get("description") or details.get("text")))
            elif method == "Runtime.consoleAPICalled":
                args = params.get("args", [])
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in args)
                self.console.append(f"{params.get('type')}: {text}")
                if params.get("type") == "error":
                    self.errors.append(text)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(CDPError("the browser closed the connection"))

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: bool = True,
        within: float = 30.0,
    ) -> Any:
        """Send one command and wait for its answer."""
        cid = next(self._ids)
        msg: dict[str, Any] = {"id": cid, "method": method, "params": params or {}}
        if session and self.session_id:
            msg["sessionId"] = self.session_id
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[cid] = fut
        await self._ws.send_str(json.dumps(msg))
        return await asyncio.wait_for(fut, within)

    async def open(self, width: int, height: int) -> None:
        target = await self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = await self.send(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            session=False,
        )
        self.session_id = attached["sessionId"]
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})
        await self.wait_for("document.readyState === 'complete'")

    async def js(self, expression: str) -> Any:
        """Evaluate ``expression`` in the page (promises awaited); its value as JSON."""
        res = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in res:
            details = res["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"{text} in: {expression[:200]}")
        return res.get("result", {}).get("value")

    async def wait_for(self, expression: str, within: float = 15.0, what: str = "") -> Any:
        """Re-evaluate ``expression`` until it is truthy; its value. ``TimeoutError`` (with
        ``what``) after ``within`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            value = await self.js(expression)
            if value:
                return value
            if loop.time() > deadline:
                raise TimeoutError(f"waited {within:.0f}s for {what or expression}")
            await asyncio.sleep(0.1)

    async def click(self, selector_js: str, what: str = "") -> None:
        """Click the element ``selector_js`` (a JS expression giving an element) with a real
        mouse press and release at its centre, after scrolling it into view."""
        box = await self.wait_for(
            f"""(() => {{ const el = {selector_js};
                if (!el) return null;
                el.scrollIntoView({{block: 'center', inline: 'center'}});
                const r = el.getBoundingClientRect();
                if (!r.width || !r.height) return null;
                return {{x: r.x + r.width / 2, y: r.y + r.height / 2}}; }})()""",
            what=what or selector_js,
        )
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            params: dict[str, Any] = {"type": kind, "x": box["x"], "y": box["y"]}
            if kind != "mouseMoved":
                params.update(button="left", clickCount=1)
            await self.send("Input.dispatchMouseEvent", params)

    async def type_text(self, text: str) -> None:
        await self.send("Input.insertText", {"text": text})

    async def press_enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            await self.send(
                "Input.dispatchKeyEvent",
                {
                    "type": kind,
                    "key": "Enter",
                    "code": "Enter",
                    "windowsVirtualKeyCode": 13,
                    **({"text": "\r"} if kind == "keyDown" else {}),
                },
            )

    async def screenshot(self, path: Path) -> Path:
        data = await self.send("Page.captureScreenshot", {"format": "png"})
        await asyncio.to_thread(_write, path, base64.b64decode(data["data"]))
        return path

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self._ws.close()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _devtools_port(profile: str) -> tuple[str, str] | None:
    """``(port, browser websocket path)`` once Chromium has written them, else ``None``."""
    port_file = Path(profile) / "DevToolsActivePort"
    try:
        lines = port_file.read_text().splitlines()
    except FileNotFoundError:
        return None
    return (lines[0], lines[1]) if len(lines) >= 2 else None


@contextlib.asynccontextmanager
async def chromium_page(
    executable: str, *, width: int = 1600, height: int = 1000, start_within: float = 30.0
) -> AsyncIterator[Page]:
    """A headless Chromium with one page of ``width`` x ``height``; everything is stopped
    and its profile removed on exit."""
    profile = tempfile.mkdtemp(prefix="fp-chromium-")
    args = [
        executable,
        "--headless=new",
        "--remote-debugging-port=0",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--mute-audio",
        f"--user-data-dir={profile}",
        "about:blank",
    ]
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    session: aiohttp.ClientSession | None = None
    page: Page | None = None
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + start_within
        while (found := _devtools_port(profile)) is None:
            if proc.returncode is not None:
                raise CDPError(f"chromium exited with {proc.returncode} before it was ready")
            if loop.time() > deadline:
                raise TimeoutError("chromium did not start its DevTools endpoint in time")
            await asyncio.sleep(0.05)
        port, ws_path = found
        session = aiohttp.ClientSession()
        ws = await session.ws_connect(f"ws://127.0.0.1:{port}{ws_path}", max_msg_size=0)
        page = Page(ws)
        await page.open(width, height)
        yield page
    finally:
        if page is not None:
            await page.close()
        if session is not None:
            await session.close()
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
