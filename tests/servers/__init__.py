"""Real protocol servers for the test run, one module per server.

Each module defines:

    NAME: str                      # backend it serves (matches tests/contract/backends)
    REQUIRED: bool                 # True: must start (installed from registries by `make test`)
    def start(workdir: Path) -> Started   # start, wait until ready; raise Unavailable(reason) if it cannot run here

`python -m tests.servers.run -- <command>` starts every server, exports their
environment, runs the command and stops every server afterwards, even on
failure or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVERS = ["dynamodb", "couchdb", "firestore"]


class Unavailable(Exception):
    """The server cannot run on this machine (reason in the message)."""


@dataclass
class Started:
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    notes: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(
    command: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a server in its own process group, output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("wb")
    return subprocess.Popen(
        command,
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


# On a machine whose cores are busy, starting Java or importing moto can take minutes; a wait ends as soon
# as the server answers, so a long limit costs nothing when the machine is quiet.
START_TIMEOUT = 300.0


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = START_TIMEOUT) -> None:
    """Wait until `url` answers any HTTP status, or fail with the server's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} not ready after {timeout}s:\n{log.read_text(errors='replace')[-3000:]}")


def launch(
    command: list[str],
    log: Path,
    exports: dict[str, str],
    ready_url: str,
    timeout: float = START_TIMEOUT,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Started:
    """Spawn a server, wait until `ready_url` answers, and return it with the
    environment the tests need to reach it; a server that never gets ready is stopped."""
    process = spawn(command, log, env=env, cwd=cwd)
    started = Started(env=exports, process=process, log=log)
    try:
        wait_http(ready_url, process, log, timeout=timeout)
    except RuntimeError:
        started.stop()
        raise
    return started
