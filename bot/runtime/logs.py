"""Logging set-up: one line per event, and a filter that masks secret values should one
ever reach a log record (defence in depth: no code logs a secret on purpose).

Two formats (``LOG_FORMAT``):

- ``plain`` (the default): ``2024-05-01 12:00:00,123 INFO bot.poll.cycle: message``;
- ``json``: one JSON object a line, for a log collector: ``time`` (ISO 8601, UTC),
  ``level``, ``logger``, ``message``, ``exc`` (the traceback, when there is one) and every
  field a log call passes with ``extra=`` (the bot passes the ids a reader searches by:
  ``payment_id``, ``reference``, ``channel``, ``ts``, ``user``)::

      log.info("posted %s", ref, extra={"payment_id": pid, "channel": ch, "ts": ts})

The same masking applies to both: the filter masks the message and the traceback, and the
JSON formatter masks every string field it writes (an ``extra=`` value too).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

# Token shapes that must never reach a log, whatever code produced the line.
TOKEN_PATTERNS = re.compile(
    r"(xox[abpr]-[A-Za-z0-9-]{6,}|xapp-[A-Za-z0-9-]{6,}|Bearer\s+[A-Za-z0-9._~+/=-]{8,})"
)

LogFormat = Literal["plain", "json"]
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# The attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "taskName"}


class RedactSecrets(logging.Filter):
    """Replaces known secret values and token-shaped strings in every record with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        if secret and len(secret) >= 6 and secret not in self.secrets:
            self.secrets.append(secret)
            self.secrets.sort(key=len, reverse=True)

    def redact(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "***")
        return TOKEN_PATTERNS.sub("***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.redact(exc_text)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class JsonLines(logging.Formatter):
    """One JSON object per record (see the module docstring); every string in it passes
    through ``redact``."""

    def __init__(self, redact: Callable[[str], str] = lambda text: text) -> None:
        super().__init__()
        self.redact = redact

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, list | tuple):
            return [self._value(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self._value(v) for k, v in value.items()}
        return self.redact(str(value))

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in entry and not key.startswith("_"):
                entry[key] = value
        return json.dumps({k: self._value(v) for k, v in entry.items()}, ensure_ascii=False)


def configure_logging(
    level: str = "INFO", secrets: Iterable[str] = (), fmt: LogFormat = "plain"
) -> RedactSecrets:
    """Log to stderr in ``fmt`` with the redaction filter on the root handler; returns the
    filter."""
    redactor = RedactSecrets(secrets)
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonLines(redactor.redact) if fmt == "json" else logging.Formatter(PLAIN_FORMAT)
    handler.setFormatter(formatter)
    handler.addFilter(redactor)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return redactor


def safe_url(url: str) -> str:
    """``url`` with any password masked (``redis://:***@host``), for a message or a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
