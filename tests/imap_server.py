"""A throwaway Dovecot IMAP server for tests: Debian's ``dovecot-imapd``, started on a free
loopback port with its own configuration, state and maildir under a temporary directory,
stopped (and restartable, to drop every connection) by the test that owns it.

The test configuration allows plaintext login over loopback (``ssl = no``) and has one user
in a ``passwd-file``. Run as root (as CI is), Dovecot will not run its login process or a
mailbox as root: they run as the package's ``dovenull`` and ``dovecot`` users, and the
directory is handed to ``dovecot``. Run as anyone else, everything runs as that user.

``imap_server`` (the fixture) skips the test with the reason when Dovecot is not installed
(``apt-get install dovecot-imapd``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from tests.redis_server import free_port

USER = "finance-mail"
PASSWORD = "imap-test-pass-7Qx"
DOVECOT = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")


def _accounts() -> tuple[str, str, str, int, int]:
    """(login user, internal user, internal group, mail uid, mail gid) for this process."""
    if os.geteuid() != 0:
        me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
        return me, me, group, os.getuid(), os.getgid()
    mail = pwd.getpwnam("dovecot")
    return "dovenull", "dovecot", grp.getgrgid(mail.pw_gid).gr_name, mail.pw_uid, mail.pw_gid


def _config(root: Path, port: int) -> str:
    login, internal, group, uid, gid = _accounts()
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = fp-test-{port}
default_login_user = {login}
default_internal_user = {internal}
default_internal_group = {group}
first_valid_uid = {uid}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {root}/dovecot.log
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass
class ImapServer:
    """One Dovecot instance this test owns."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="fp-imap-")))
    proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: float = 15.0) -> ImapServer:
        if DOVECOT is None:
            raise RuntimeError("dovecot is not installed (apt-get install dovecot-imapd)")
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir(exist_ok=True)
        (self.root / "dovecot.conf").write_text(_config(self.root, self.port))
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        if os.geteuid() == 0:
            _, _, _, uid, gid = _accounts()
            os.chown(self.root, uid, gid)
            for sub in ("state", "mail"):
                os.chown(self.root / sub, uid, gid)
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + wait
        while True:
            try:
                imaplib.IMAP4("127.0.0.1", self.port, timeout=2).logout()
                return self
            except (OSError, imaplib.IMAP4.error):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = self.log()
                    self.stop()
                    raise RuntimeError(
                        f"dovecot did not start on port {self.port}: {log[-800:]}"
                    ) from None
                time.sleep(0.05)

    @property
    def instance(self) -> str:
        return f"fp-test-{self.port}"

    def _children(self, service: str = "") -> list[int]:
        """Pids of this instance's processes (Dovecot names them ``dovecot-<instance>/<service>``),
        which outlive a stopped master while a client is connected."""
        mark = f"dovecot-{self.instance}/{service}".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if (entry / "cmdline").read_bytes().startswith(mark):
                        pids.append(int(entry.name))
                except OSError:
                    continue
        return pids

    def drop_connections(self) -> int:
        """Kill the processes serving IMAP clients: each client's connection drops (the
        server itself keeps running). Returns how many were killed."""
        pids = self._children("imap")
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    def stop(self) -> None:
        """Stop Dovecot and every process of this instance: every client connection drops."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for pid in self._children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self) -> imaplib.IMAP4:
        """A logged-in test client (the test's own, not the bot's)."""
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        imap.login(USER, PASSWORD)
        return imap

    def append(self, raw: bytes, folder: str = "INBOX") -> int:
        """IMAP APPEND a message; returns its UID (from APPENDUID)."""
        imap = self.client()
        try:
            typ, data = imap.append(folder, None, None, raw)
            assert typ == "OK", data
            text = data[0].decode() if isinstance(data[0], bytes) else str(data[0])
            return int(text.split("APPENDUID", 1)[1].split()[1].rstrip("]"))
        finally:
            imap.logout()

    def flags(self, uid: int, folder: str = "INBOX") -> str:
        imap = self.client()
        try:
            imap.select(folder)
            _typ, data = imap.uid("FETCH", str(uid), "(FLAGS)")
            return " ".join(d.decode() for d in data if isinstance(d, bytes))
        finally:
            imap.logout()

    def mark_unread(self, uid: int, folder: str = "INBOX") -> None:
        """Take ``\\Seen`` off a message, as a person marking it unread."""
        imap = self.client()
        try:
            imap.select(folder)
            imap.uid("STORE", str(uid), "-FLAGS", r"(\Seen)")
        finally:
            imap.logout()

    def create_folder(self, folder: str) -> None:
        imap = self.client()
        try:
            imap.create(folder)
        finally:
            imap.logout()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def notification(
    subject: str,
    body: str,
    *,
    sender: str = "ConnectBooster <notifications@connectbooster.com>",
    message_id: str | None = None,
    html: str | None = None,
) -> bytes:
    """An e-mail as ConnectBooster's notifications might look (their format is not
    published: the tests keep to what the patterns read)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "finance@example.com"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id or make_msgid(domain="connectbooster.test")
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return bytes(msg)


@pytest.fixture
def imap_server() -> Iterator[ImapServer]:
    """A running Dovecot on a free loopback port (the test is skipped, with the reason, when
    Dovecot is not installed)."""
    if DOVECOT is None:
        pytest.skip("dovecot is not installed: apt-get install dovecot-imapd (.ci/run does)")
    server = ImapServer().start()
    try:
        yield server
    finally:
        server.close()
