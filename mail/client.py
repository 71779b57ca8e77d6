"""The mailbox: one IMAP connection to one folder, each blocking ``imaplib`` call run in a
worker thread (why ``imaplib``: see the package docstring).

:class:`Mailbox` is used as ``open`` (connect, log in, select the folder: its UIDVALIDITY),
then any number of ``uids_after`` / ``headers`` / ``message`` / ``mark``, then ``close``
(LOGOUT) or ``abort`` (drop the socket at once, from the event loop, e.g. when cancelled).
Calls on one connection are serialised by a thread lock; every socket read is bounded by
``MailboxConfig.timeout``. Any failure is a :mod:`mail.errors` exception; after a
``MailConnectionLost`` the connection is gone and ``open`` starts a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import imaplib
import re
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import SecretStr

from mail.errors import (
    MailAuthError,
    MailConnectionLost,
    MailError,
    MailFolderError,
    MailProtocolError,
)
from mail.message import MailMessage, parse_message

T = TypeVar("T")

KEYWORD = "$FailedPayments"
"""The keyword set beside ``\\Seen`` on each handled message (where the server keeps
keywords): a person sees which messages the bot handled."""
BODY_LIMIT = 256 * 1024
"""At most this many bytes of a message are read (ConnectBooster's notifications are small;
a large attachment is not read past this)."""
_UID = re.compile(rb"\bUID (\d+)")
_FETCH_BATCH = 100


@dataclass(frozen=True)
class MailboxConfig:
    """Where the mailbox is and how to log in (the password is a ``SecretStr``: its repr is
    masked)."""

    host: str
    user: str
    password: SecretStr = field(repr=False)
    port: int = 993
    tls: bool = True
    folder: str = "INBOX"
    timeout: float = 30.0

    @property
    def where(self) -> str:
        """``user@host:port/folder``, for messages (never the password)."""
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"


def quote(name: str) -> str:
    """A folder name as an IMAP quoted string."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(data: Any) -> str:
    """The server's words from an imaplib answer's data, as one line."""
    parts = data if isinstance(data, list | tuple) else [data]
    words = [p.decode("utf-8", "replace") if isinstance(p, bytes) else str(p) for p in parts]
    return " ".join(w for w in words if w and w != "None").strip() or "no reason given"


def fetched(data: Sequence[Any]) -> dict[int, bytes]:
    """UID → literal from an ``imaplib`` FETCH answer (the UID may come before or after the
    literal, as servers choose)."""
    out: dict[int, bytes] = {}
    items = list(data or [])
    for i, item in enumerate(items):
        if not isinstance(item, tuple) or len(item) < 2:
            continue
        head, literal = item[0], item[1]
        m = _UID.search(head if isinstance(head, bytes) else b"")
        if m is None and i + 1 < len(items) and isinstance(items[i + 1], bytes):
            m = _UID.search(items[i + 1])
        if m is not None and isinstance(literal, bytes):
            out[int(m.group(1))] = literal
    return out


def _uid_fetch(imap: imaplib.IMAP4, *, chunk: str, what: str) -> tuple[str, Any]:
    return imap.uid("FETCH", chunk, what)


class Mailbox:
    """One IMAP connection to one folder (see the module docstring)."""

    def __init__(self, config: MailboxConfig) -> None:
        self.config = config
        self.uidvalidity: int | None = None
        self._imap: imaplib.IMAP4 | None = None
        self._lock = threading.Lock()

    # -- async face ------------------------------------------------------------------------
    async def open(self) -> int:
        """Connect, log in and select the folder; returns its UIDVALIDITY."""
        return await asyncio.to_thread(self._locked, self._open)

    async def uids_after(self, uid: int, *, unseen: bool = False) -> list[int]:
        """The UIDs above ``uid`` in the folder now (only the unread ones with ``unseen``),
        in order (new mail since the last call shows here: the server is asked first)."""
        return await asyncio.to_thread(self._locked, lambda: self._uids_after(uid, unseen))

    async def headers(self, uids: Sequence[int]) -> list[MailMessage]:
        """The headers of these messages (body not read, nothing marked), in UID order; a
        UID no longer in the folder is left out."""
        return await asyncio.to_thread(self._locked, lambda: self._headers(uids))

    async def message(self, uid: int) -> MailMessage | None:
        """The whole message (up to ``BODY_LIMIT`` bytes, not marked), or ``None`` when it
        is no longer in the folder."""
        return await asyncio.to_thread(self._locked, lambda: self._message(uid))

    async def mark(self, uid: int) -> None:
        """Mark the message ``\\Seen`` (and ``KEYWORD`` where keywords are kept). Nothing is
        ever deleted."""
        await asyncio.to_thread(self._locked, lambda: self._mark(uid))

    async def close(self) -> None:
        """Log out politely (errors ignored: the connection is gone either way)."""
        await asyncio.to_thread(self._locked, self._logout)

    def abort(self) -> None:
        """Drop the connection at once, without waiting for a call in progress (which then
        fails with ``MailConnectionLost``)."""
        imap = self._imap
        if imap is not None:
            with contextlib.suppress(OSError):
                imap.sock.shutdown(socket.SHUT_RDWR)

    # -- the blocking work ------------------------------------------------------------------
    def _locked(self, fn: Callable[[], T]) -> T:
        with self._lock:
            return fn()

    def _where(self) -> str:
        return self.config.where

    def _lost(self, what: str, exc: BaseException) -> MailConnectionLost:
        self._drop()
        reason = str(exc) or type(exc).__name__
        return MailConnectionLost(f"IMAP {self._where()}: {what}: {reason}")

    def _drop(self) -> None:
        imap, self._imap = self._imap, None
        if imap is not None:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                imap.shutdown()

    def _do(self, what: str, fn: Callable[[imaplib.IMAP4], tuple[str, Any]]) -> Any:
        """Run one command on the open connection; its data when the server said OK."""
        imap = self._imap
        if imap is None:
            raise MailConnectionLost(f"IMAP {self._where()}: not connected")
        try:
            typ, data = fn(imap)
        except imaplib.IMAP4.abort as exc:
            raise self._lost(f"connection lost during {what}", exc) from exc
        except imaplib.IMAP4.error as exc:
            raise MailProtocolError(f"IMAP {self._where()}: {what} refused: {exc}") from exc
        except (OSError, EOFError) as exc:
            raise self._lost(f"connection lost during {what}", exc) from exc
        if typ != "OK":
            raise MailProtocolError(f"IMAP {self._where()}: {what} answered {typ}: {_text(data)}")
        return data

    def _untagged(self, code: str) -> list[Any]:
        """The data of the untagged ``code`` responses the server sent so far (taken)."""
        imap = self._imap
        if imap is None:
            return []
        _code, data = imap.response(code)
        return list(data or [])

    def _connect(self) -> imaplib.IMAP4:
        c = self.config
        try:
            if c.tls:
                return imaplib.IMAP4_SSL(
                    c.host, c.port, ssl_context=ssl.create_default_context(), timeout=c.timeout
                )
            return imaplib.IMAP4(c.host, c.port, timeout=c.timeout)
        except (OSError, EOFError, imaplib.IMAP4.error) as exc:
            reason = str(exc) or type(exc).__name__
            raise MailConnectionLost(
                f"IMAP {c.host}:{c.port} ({'TLS' if c.tls else 'plain'}) not reachable: {reason}"
            ) from exc

    def _open(self) -> int:
        self._drop()
        c = self.config
        self._imap = imap = self._connect()
        try:
            imap.login(c.user, c.password.get_secret_value())
        except imaplib.IMAP4.abort as exc:
            raise self._lost("connection lost during LOGIN", exc) from exc
        except imaplib.IMAP4.error as exc:
            self._drop()
            raise MailAuthError(
                f"IMAP {c.user}@{c.host}:{c.port}: login refused: {exc} "
                "(check MAIL_IMAP_USER and MAIL_IMAP_PASSWORD)"
            ) from exc
        except (OSError, EOFError) as exc:
            raise self._lost("connection lost during LOGIN", exc) from exc
        try:
            self._do("SELECT", lambda i: i.select(quote(c.folder)))
        except MailProtocolError as exc:
            self._drop()
            raise MailFolderError(
                f"IMAP {self._where()}: the folder cannot be opened ({exc.__cause__ or exc}); "
                "check MAIL_IMAP_FOLDER"
            ) from exc
        data = self._untagged("UIDVALIDITY")
        try:
            self.uidvalidity = int(data[-1])
        except (TypeError, ValueError, IndexError) as exc:
            self._drop()
            raise MailProtocolError(f"IMAP {self._where()}: SELECT gave no UIDVALIDITY") from exc
        return self.uidvalidity

    def _uids_after(self, uid: int, unseen: bool) -> list[int]:
        self._do("NOOP", lambda i: i.noop())
        changed = [d for d in self._untagged("UIDVALIDITY") if d is not None]
        if changed and changed[-1].isdigit():
            self.uidvalidity = int(changed[-1])  # the server changed it under us
        criteria = ["UID", f"{uid + 1}:*", *(["UNSEEN"] if unseen else [])]
        data = self._do("UID SEARCH", lambda i: i.uid("SEARCH", *criteria))
        words = b" ".join(d for d in data if isinstance(d, bytes)).split()
        return sorted({int(w) for w in words if w.isdigit() and int(w) > uid})

    def _fetch(self, uids: Sequence[int], what: str) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        for start in range(0, len(uids), _FETCH_BATCH):
            chunk = ",".join(str(u) for u in uids[start : start + _FETCH_BATCH])
            data = self._do("UID FETCH", functools.partial(_uid_fetch, chunk=chunk, what=what))
            out.update(fetched(data))
        return out

    def _headers(self, uids: Sequence[int]) -> list[MailMessage]:
        if not uids:
            return []
        raw = self._fetch(list(uids), "(UID BODY.PEEK[HEADER])")
        v = self.uidvalidity or 0
        return [parse_message(u, v, raw[u], headers_only=True) for u in sorted(raw)]

    def _message(self, uid: int) -> MailMessage | None:
        raw = self._fetch([uid], f"(UID BODY.PEEK[]<0.{BODY_LIMIT}>)")
        if uid not in raw:
            return None
        return parse_message(uid, self.uidvalidity or 0, raw[uid])

    def _mark(self, uid: int) -> None:
        try:
            self._do(
                "UID STORE",
                lambda i: i.uid("STORE", str(uid), "+FLAGS.SILENT", rf"(\Seen {KEYWORD})"),
            )
        except MailProtocolError:  # a server that keeps no keywords: \Seen alone
            self._do("UID STORE", lambda i: i.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen)"))

    def _logout(self) -> None:
        imap, self._imap = self._imap, None
        if imap is not None:
            with contextlib.suppress(OSError, EOFError, imaplib.IMAP4.error):
                imap.logout()


__all__ = ["BODY_LIMIT", "KEYWORD", "MailError", "Mailbox", "MailboxConfig", "fetched", "quote"]
