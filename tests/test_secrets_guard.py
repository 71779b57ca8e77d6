"""A log scanner: no token, secret or refresh token may appear in any log line.

``no_secrets_in_logs`` is an autouse fixture: every log record any logger produces during a
test (root raised to DEBUG for the test, so nothing below the usual level escapes the scan)
is formatted with its traceback and scanned for

- the harness's secrets (bot token, signing secret, ConnectBooster key, the QBO sandbox's
  client secret),
- QBO sandbox token shapes (refresh tokens ``RT1-…``, access tokens ``eyJsandbox.…``),
- Slack token shapes (``xoxb-…``, ``xapp-…``) and ``Bearer …`` headers,
- the gateway stand-in's security key and ``security_key=…`` form bodies (issue 15),
- Fernet keys (the ``TOKEN_ENCRYPTION_KEY`` shape).

``tests/conftest.py`` imports it, so it guards every test of the suite.

A test that logs a secret on purpose (to test redaction) takes the ``secrets_may_be_logged``
fixture.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from tests.harness import BOT_TOKEN, CB_KEY, SIGNING_SECRET

SANDBOX_CLIENT_SECRET = "sandbox-client-secret"
SANDBOX_GATEWAY_KEY = "gw-sandbox-security-key"  # sandbox.gateway's (issue 15)
KNOWN_SECRETS = (BOT_TOKEN, SIGNING_SECRET, CB_KEY, SANDBOX_CLIENT_SECRET, SANDBOX_GATEWAY_KEY)
SECRET_SHAPES = re.compile(
    r"RT1-[A-Za-z0-9_-]{8,}"  # QBO sandbox refresh token
    r"|eyJsandbox\.[A-Za-z0-9_-]{8,}"  # QBO sandbox access token
    r"|xox[abpr]-[A-Za-z0-9-]{6,}"  # Slack bot/user tokens
    r"|xapp-[A-Za-z0-9-]{6,}"  # Slack app-level token
    r"|Bearer\s+[A-Za-z0-9._~+/=-]{8,}"  # an Authorization header
    r"|security_key=[^&\s'\"]{6,}"  # a gateway Query API form body
    r"|(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}=(?![A-Za-z0-9_=-])"  # a Fernet key
)


def leaks(text: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The secrets (masked to their first 6 characters) found in ``text``."""
    found = [s for s in (*KNOWN_SECRETS, *extra) if s and s in text]
    found += [m.group(0) for m in SECRET_SHAPES.finditer(text)]
    return [f[:6] + "…" for f in found]


class SecretScanner(logging.Handler):
    """Formats every record (message and traceback) and keeps the ones that leak."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.records = 0
        self.leaked: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        try:
            text = self.format(record)
        except Exception as exc:  # a record that cannot be formatted is a bug of its own
            text = f"unformattable record from {record.name}: {exc!r}"
        hits = leaks(text)
        if hits:
            self.leaked.append(f"{record.name} {record.levelname}: {hits} in {text[:200]!r}")


_ALLOWED = pytest.StashKey[bool]()


@pytest.fixture
def secrets_may_be_logged(request: pytest.FixtureRequest) -> None:
    """Opt out of the scan (for a test that logs a secret on purpose)."""
    request.node.stash[_ALLOWED] = True


@pytest.fixture(autouse=True)
def no_secrets_in_logs(request: pytest.FixtureRequest) -> Iterator[SecretScanner]:
    """Fail the test if any log line it produced holds a secret or a token."""
    scanner = SecretScanner()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(scanner)
    root.setLevel(logging.DEBUG)
    try:
        yield scanner
    finally:
        root.removeHandler(scanner)
        root.setLevel(old_level)
    if scanner.leaked and not request.node.stash.get(_ALLOWED, False):
        pytest.fail("secrets in log lines:\n" + "\n".join(scanner.leaked[:10]), pytrace=False)


# ---- the scanner itself: it must catch what it is for ----------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        f"posting with token {BOT_TOKEN}",
        "refresh RT1-abcdefghijklmnopqrstuvwx failed",
        "GET with eyJsandbox.abcdefghijklmnopqrstuvwxyz0123456789",
        "xapp-1-A0123-456-abcdef",
        f"signing with {SIGNING_SECRET}",
        "Authorization: Bearer abcdefghijklmnop",
        "key is mGJ4sgV2SVzQfFCnLtCG4z1dTHd0xpJPQnPi8w6eY3o=",
    ],
)
def test_scanner_catches_each_secret_shape(line: str) -> None:
    assert leaks(line)


@pytest.mark.parametrize(
    "line",
    [
        "QBO GET /query failed: ThrottledError (code 003001, HTTP 429, intuit_tid 1-abc)",
        "SLACK_BOT_TOKEN: is not set; expects the bot token (xoxb-…) from the Slack app",
        "resuming dismiss_sync on CB1001 (attempt 2) after a restart",
    ],
)
def test_scanner_lets_ordinary_lines_through(line: str) -> None:
    assert not leaks(line)


def test_scanner_fails_a_test_that_logs_a_token(
    no_secrets_in_logs: SecretScanner, secrets_may_be_logged: None
) -> None:
    logging.getLogger("bot.somewhere").debug("token %s", BOT_TOKEN)
    try:
        raise RuntimeError("refresh failed for RT1-abcdefghijklmnop")
    except RuntimeError:
        logging.getLogger("qb.auth").exception("boom")
    assert len(no_secrets_in_logs.leaked) == 2
