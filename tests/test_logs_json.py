"""``LOG_FORMAT=json``: one JSON object per line, with the ids a log call passes as fields,
and secrets masked as in the plain format (which stays the default)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime.logs import configure_logging
from tests.test_secrets_guard import leaks, secrets_may_be_logged  # noqa: F401

SECRET = "xoxb-json-line-secret-token"
KNOWN = "cb-known-secret-value"


@pytest.fixture
def root_handlers() -> Iterator[None]:
    """configure_logging replaces the root handlers: put the test's own back afterwards."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved:
            root.addHandler(h)
        root.setLevel(level)


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_lines_carry_the_ids_as_fields(
    root_handlers: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", fmt="json")
    log = logging.getLogger("bot.poll.cycle")
    log.info(
        "posted %s",
        "CB1001",
        extra={
            "payment_id": "p-1001",
            "reference": "CB1001",
            "channel": "C0FAILED",
            "ts": "1714567890.000100",
            "user": "U0FINANCE1",
        },
    )
    log.debug("not shown at INFO")
    log.warning('a "quoted"\nmultiline message')
    lines = _lines(capsys.readouterr().err)
    assert len(lines) == 2
    first, second = lines
    assert first["level"] == "INFO" and first["logger"] == "bot.poll.cycle"
    assert first["message"] == "posted CB1001"
    assert {k: first[k] for k in ("payment_id", "reference", "channel", "ts", "user")} == {
        "payment_id": "p-1001",
        "reference": "CB1001",
        "channel": "C0FAILED",
        "ts": "1714567890.000100",
        "user": "U0FINANCE1",
    }
    assert str(first["time"]).endswith("Z") and "T" in str(first["time"])
    assert second["message"] == 'a "quoted"\nmultiline message'
    assert "payment_id" not in second  # only what a call passes
    assert {"msg", "args", "levelno", "pathname"}.isdisjoint(first)


@pytest.mark.usefixtures("secrets_may_be_logged")
def test_json_lines_mask_secrets_in_message_fields_and_traceback(
    root_handlers: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", [KNOWN], fmt="json")
    log = logging.getLogger("qb.auth")
    log.info(
        "token %s and key %s",
        SECRET,
        KNOWN,
        extra={"user": f"Bearer {SECRET}", "detail": {"key": KNOWN}},
    )
    try:
        raise RuntimeError(f"refresh failed with {SECRET}")
    except RuntimeError:
        log.exception("refresh failed", extra={"payment_id": "p-1"})
    out = capsys.readouterr().err
    assert SECRET not in out and KNOWN not in out and not leaks(out)
    first, second = _lines(out)
    assert first["message"] == "token *** and key ***"
    assert first["user"] == "***" and first["detail"] == {"key": "***"}
    assert "RuntimeError: refresh failed with ***" in str(second["exc"])
    assert second["payment_id"] == "p-1" and second["level"] == "ERROR"


@pytest.mark.usefixtures("secrets_may_be_logged")
def test_plain_stays_the_default(root_handlers: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", [KNOWN])
    logging.getLogger("bot.x").info("key %s", KNOWN, extra={"payment_id": "p-1"})
    err = capsys.readouterr().err.strip()
    assert err.endswith("INFO bot.x: key ***")
    with pytest.raises(ValueError):
        json.loads(err)


def test_log_format_json_reaches_the_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``python app.py check`` with ``LOG_FORMAT=json`` configures JSON lines."""
    import app as app_module
    from tests.test_settings import REQUIRED

    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(
            ("SLACK_", "QBO_", "CB_", "ALERT_", "FINANCE_", "REDIS_", "TOKEN_", "LOG_")
        ):
            monkeypatch.delenv(name)
    for k, v in {**REQUIRED, "LOG_FORMAT": "json"}.items():
        monkeypatch.setenv(k, v)
    seen: list[tuple[object, ...]] = []

    def spy(*args: object) -> None:
        seen.append(args)

    async def check(_settings: object) -> int:
        return 0

    monkeypatch.setattr(app_module, "configure_logging", spy)
    monkeypatch.setattr(app_module, "check", check)
    assert app_module.main(["check"]) == 0
    [(level, _secrets, fmt)] = seen
    assert (level, fmt) == ("INFO", "json")
