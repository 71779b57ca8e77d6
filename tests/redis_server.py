"""A throwaway ``redis-server`` for tests and benchmarks.

``ensure_redis()`` answers the URL of a Redis that answers: ``REDIS_URL`` when it is set
and answers, otherwise a fresh ``redis-server`` on a free loopback port, with nothing
kept on disk, stopped when the process exits.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str, timeout: float = 1.0) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@dataclass
class RedisServer:
    """A ``redis-server`` process this test run owns (it can be stopped and restarted)."""

    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    options: tuple[str, ...] = ()
    """More ``redis-server`` arguments; they override the defaults (e.g. ``--appendonly yes``)."""
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="fp-redis-"))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, wait: float = 10.0) -> RedisServer:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError(
                "redis-server is not installed and REDIS_URL does not answer: "
                "install it (apt-get install redis-server) or set REDIS_URL to a Redis that answers"
            )
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.workdir,
                "--logfile",
                "",
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited at start (port {self.port})")
            if answers(self.url, timeout=0.2):
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {wait}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def ensure_redis() -> str:
    url = os.environ.get("REDIS_URL")
    if url and answers(url):
        return url
    server = RedisServer().start()
    atexit.register(server.stop)
    return server.url


if __name__ == "__main__":
    import sys

    url = os.environ.get("REDIS_URL")
    if url and answers(url):
        print("tests use the Redis at REDIS_URL")
    elif shutil.which("redis-server"):
        print(
            "tests start a throwaway redis-server on a free port (REDIS_URL unset or not answering)"
        )
    else:
        print(
            "error: no Redis for the tests: REDIS_URL is unset or does not answer, "
            "and redis-server is not installed (apt-get install redis-server)",
            file=sys.stderr,
        )
        sys.exit(2)
