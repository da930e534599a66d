"""A real `redis-server` for the tests: started on a free loopback port in a temporary folder,
stopped (or killed, or restarted on the same port) by the test.

Debian's `redis-server` package; `make test` and `.ci/run` install it when it is missing. Where
it truly cannot be installed the Redis tests skip, saying so. `TOOLWALL_TEST_REDIS_SERVER` names
another server binary to run them against (a `valkey-server`, for one).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REDIS_SERVER = os.environ.get("TOOLWALL_TEST_REDIS_SERVER") or shutil.which("redis-server")
MISSING = (
    "redis-server is not installed: `make test` installs it (apt-get install -y redis-server); "
    "the Redis backend's tests need a real server"
)


def free_port() -> int:
    """A free loopback port at most 55535: a cluster node also listens 10,000 above its port."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port <= 55535:
            return port


class RedisServer:
    """One redis-server process; `url` points at it."""

    def __init__(
        self, folder: Path, *extra: str, port: int | None = None, config: Path | None = None
    ) -> None:
        self.folder = folder
        self.extra = extra
        self.config = config  # a configuration file (Sentinel needs one it can rewrite)
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        if REDIS_SERVER is None:
            pytest.skip(MISSING)
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "redis.log", "ab")  # noqa: SIM115 - the server writes it
        command = [REDIS_SERVER, *([str(self.config)] if self.config else [])]
        command += ["--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--dir", str(self.folder), "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [*command, *self.extra], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited: {(self.folder / 'redis.log').read_text()[-2000:]}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn,
            ):
                conn.sendall(b"PING\r\n")
                if conn.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                    return self
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer within 10 s")

    def kill(self) -> None:
        """SIGKILL: Redis gone mid-run, as a crashed server is."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> RedisServer:
        self.kill()
        return self.start()


@contextlib.contextmanager
def running(folder: Path, *extra: str) -> Iterator[RedisServer]:
    server = RedisServer(folder, *extra).start()
    try:
        yield server
    finally:
        server.stop()
