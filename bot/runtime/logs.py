"""Logging set-up: one line per event, and a filter that masks secret values should one
ever reach a log record (defence in depth: no code logs a secret on purpose)."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

# Token shapes that must never reach a log, whatever code produced the line.
TOKEN_PATTERNS = re.compile(
    r"(xox[abpr]-[A-Za-z0-9-]{6,}|xapp-[A-Za-z0-9-]{6,}|Bearer\s+[A-Za-z0-9._~+/=-]{8,})"
)


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


def configure_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> RedactSecrets:
    """Log to stderr with the redaction filter on the root handler; returns the filter."""
    redactor = RedactSecrets(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return redactor
