"""Block Kit checked against Slack's main limits, by code independent of the bot's builders.

:func:`validate_blocks` and :func:`validate_view` answer what Slack would: a list of
``[ERROR] ... [json-pointer:/blocks/...]`` lines (empty when valid). The Web API stand-in
answers ``invalid_blocks`` / ``invalid_arguments`` with them, so a builder bug shows up in
tests as it would against Slack; tests of the builders call them directly.
"""

from __future__ import annotations

import json
from typing import Any

Json = dict[str, Any]


def validate_blocks(blocks: Any, *, surface: str = "message") -> list[str]:
    """Problems Slack would report for ``blocks`` on ``surface`` ("message" or "modal"),
    as ``[ERROR] ... [json-pointer:/blocks/...]`` lines; empty when valid."""
    v = _Validator()
    v.blocks(blocks, "/blocks", 50 if surface == "message" else 100)
    return v.errors


def blocks_json_size(blocks: Any) -> int:
    """Characters of ``blocks`` as compact JSON (what ``msg_blocks_too_long`` measures)."""
    return len(json.dumps(blocks, separators=(",", ":"), ensure_ascii=False))


class _Validator:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def err(self, path: str, what: str) -> None:
        self.errors.append(f"[ERROR] {what} [json-pointer:{path}]")

    def text(self, obj: Any, path: str, limit: int, *, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            self.err(path, "must be a text object")
            return
        kinds = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if obj.get("type") not in kinds:
            self.err(f"{path}/type", f"must be one of {', '.join(kinds)}")
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            self.err(f"{path}/text", "must be more than 0 characters")
        elif len(text) > limit:
            self.err(f"{path}/text", f"must be less than {limit + 1} characters")

    def ident(self, value: Any, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, str) or not value or len(value) > 255:
            self.err(path, "must be a string of 1 to 255 characters")

    def blocks(self, blocks: Any, path: str, limit: int) -> None:
        if not isinstance(blocks, list):
            self.err(path, "must be an array")
            return
        if len(blocks) > limit:
            self.err(path, f"no more than {limit} items allowed")
        seen: set[str] = set()
        for i, b in enumerate(blocks):
            p = f"{path}/{i}"
            if not isinstance(b, dict):
                self.err(p, "must be an object")
                continue
            bid = b.get("block_id")
            self.ident(bid, f"{p}/block_id")
            if isinstance(bid, str):
                if bid in seen:
                    self.err(f"{p}/block_id", "duplicate block_id")
                seen.add(bid)
            self.block(b, p)

    def block(self, b: Json, p: str) -> None:
        kind = b.get("type")
        if kind == "header":
            self.text(b.get("text"), f"{p}/text", 150, plain_only=True)
        elif kind == "section":
            if "text" not in b and "fields" not in b:
                self.err(p, "must provide text or fields")
            if "text" in b:
                self.text(b["text"], f"{p}/text", 3000)
            if "fields" in b:
                fields = b["fields"]
                if not isinstance(fields, list) or not fields or len(fields) > 10:
                    self.err(f"{p}/fields", "must have 1 to 10 items")
                else:
                    for j, f in enumerate(fields):
                        self.text(f, f"{p}/fields/{j}", 2000)
            if "accessory" in b:
                self.element(b["accessory"], f"{p}/accessory")
        elif kind == "context":
            els = b.get("elements")
            if not isinstance(els, list) or not els or len(els) > 10:
                self.err(f"{p}/elements", "must have 1 to 10 items")
                return
            for j, e in enumerate(els):
                if isinstance(e, dict) and e.get("type") == "image":
                    continue
                self.text(e, f"{p}/elements/{j}", 3000)
        elif kind == "actions":
            els = b.get("elements")
            if not isinstance(els, list) or not els or len(els) > 25:
                self.err(f"{p}/elements", "must have 1 to 25 items")
                return
            ids: set[str] = set()
            for j, e in enumerate(els):
                self.element(e, f"{p}/elements/{j}")
                aid = e.get("action_id") if isinstance(e, dict) else None
                if isinstance(aid, str):
                    if aid in ids:
                        self.err(f"{p}/elements/{j}/action_id", "duplicate action_id")
                    ids.add(aid)
        elif kind == "input":
            self.text(b.get("label"), f"{p}/label", 2000, plain_only=True)
            self.element(b.get("element"), f"{p}/element")
        elif kind == "image":
            if not b.get("image_url") and not b.get("slack_file"):
                self.err(f"{p}/image_url", "is required")
            if not isinstance(b.get("alt_text"), str):
                self.err(f"{p}/alt_text", "is required")
        elif kind in ("divider", "rich_text", "file", "video"):
            return
        else:
            self.err(f"{p}/type", f"unknown block type {kind!r}")

    def element(self, e: Any, p: str) -> None:
        if not isinstance(e, dict):
            self.err(p, "must be an object")
            return
        self.ident(e.get("action_id"), f"{p}/action_id")
        kind = e.get("type")
        if kind == "button":
            self.text(e.get("text"), f"{p}/text", 75, plain_only=True)
            value = e.get("value")
            if value is not None and (not isinstance(value, str) or len(value) > 2000):
                self.err(f"{p}/value", "must be less than 2001 characters")
            url = e.get("url")
            if url is not None and (not isinstance(url, str) or len(url) > 3000):
                self.err(f"{p}/url", "must be less than 3001 characters")
            if e.get("style") not in (None, "primary", "danger"):
                self.err(f"{p}/style", "must be primary or danger")
        elif kind in ("static_select", "multi_static_select"):
            if "placeholder" in e:
                self.text(e["placeholder"], f"{p}/placeholder", 150, plain_only=True)
            opts = e.get("options")
            if not isinstance(opts, list) or not opts or len(opts) > 100:
                self.err(f"{p}/options", "must have 1 to 100 items")
                opts = []
            values = []
            for j, o in enumerate(opts):
                values.append(self.option(o, f"{p}/options/{j}"))
            init = e.get("initial_option")
            if init is not None and (not isinstance(init, dict) or init.get("value") not in values):
                self.err(f"{p}/initial_option", "must match one of the options")
        elif kind in (
            "plain_text_input",
            "datepicker",
            "timepicker",
            "checkboxes",
            "radio_buttons",
            "overflow",
            "users_select",
            "conversations_select",
            "channels_select",
            "external_select",
            "multi_users_select",
            "number_input",
            "image",
        ):
            pass
        else:
            self.err(f"{p}/type", f"unknown element type {kind!r}")
        if "confirm" in e:
            self.confirm(e["confirm"], f"{p}/confirm")

    def option(self, o: Any, p: str) -> str | None:
        if not isinstance(o, dict):
            self.err(p, "must be an object")
            return None
        self.text(o.get("text"), f"{p}/text", 75)
        value = o.get("value")
        if not isinstance(value, str) or not value or len(value) > 150:
            self.err(f"{p}/value", "must be a string of 1 to 150 characters")
            return None
        return value

    def confirm(self, c: Any, p: str) -> None:
        if not isinstance(c, dict):
            self.err(p, "must be an object")
            return
        self.text(c.get("title"), f"{p}/title", 100, plain_only=True)
        self.text(c.get("text"), f"{p}/text", 300)
        self.text(c.get("confirm"), f"{p}/confirm", 30, plain_only=True)
        self.text(c.get("deny"), f"{p}/deny", 30, plain_only=True)
        if c.get("style") not in (None, "primary", "danger"):
            self.err(f"{p}/style", "must be primary or danger")


def validate_view(view: Any) -> list[str]:
    """Problems Slack would report for a modal ``view``."""
    v = _Validator()
    if not isinstance(view, dict):
        return ["[ERROR] must be an object [json-pointer:/view]"]
    if view.get("type") != "modal":
        v.err("/view/type", "must be modal")
    v.text(view.get("title"), "/view/title", 24, plain_only=True)
    for key in ("submit", "close"):
        if key in view:
            v.text(view[key], f"/view/{key}", 24, plain_only=True)
    v.ident(view.get("callback_id"), "/view/callback_id")
    meta = view.get("private_metadata")
    if meta is not None and (not isinstance(meta, str) or len(meta) > 3000):
        v.err("/view/private_metadata", "must be less than 3001 characters")
    blocks = view.get("blocks")
    v.blocks(blocks, "/view/blocks", 100)
    if (
        isinstance(blocks, list)
        and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        and "submit" not in view
    ):
        v.err("/view/submit", "is required when the view has input blocks")
    return v.errors


def validate_home_view(view: Any) -> list[str]:
    """Problems Slack would report for a Home tab ``view`` (``views.publish``): type
    ``home``, at most 100 blocks, each within its limits; no title or submit."""
    v = _Validator()
    if not isinstance(view, dict):
        return ["[ERROR] must be an object [json-pointer:/view]"]
    if view.get("type") != "home":
        v.err("/view/type", "must be home")
    meta = view.get("private_metadata")
    if meta is not None and (not isinstance(meta, str) or len(meta) > 3000):
        v.err("/view/private_metadata", "must be less than 3001 characters")
    if "callback_id" in view:
        v.ident(view.get("callback_id"), "/view/callback_id")
    v.blocks(view.get("blocks"), "/view/blocks", 100)
    return v.errors
