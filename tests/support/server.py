"""Run the real `agent-datastore` console commands (serve, proxy) in child processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from tests.servers import START_TIMEOUT, free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_cli(args: list[str], port: int, folder: Path, env: dict[str, str]) -> Iterator[RunningServer]:
    """`agent-datastore ARGS...` listening on `port`; waits for /healthz, stops it with SIGTERM."""
    log = folder / f"{args[0]}-{port}.log"
    command = [sys.executable, "-m", "agent_datastore.cli", *args]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    running = RunningServer(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_http(f"{running.url}/healthz", process, log, timeout=START_TIMEOUT)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def running_server(env: dict[str, str] | None = None, args: list[str] | None = None) -> Iterator[RunningServer]:
    """`agent-datastore serve` on a free port (SQLite in a temporary folder unless `env` says otherwise)."""
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        child_env = {
            **os.environ,
            "SQLITE_PATH": str(Path(folder) / "store.sqlite3"),
            "PORT": str(port),
            "HOST": "127.0.0.1",
            **(env or {}),
        }
        with running_cli(["serve", *(args or [])], port, Path(folder), child_env) as server:
            yield server


@contextmanager
def without_httptools_and_uvloop() -> Iterator[str]:
    """A PYTHONPATH (the current one behind it) on which `import httptools` and `import uvloop`
    fail, as where they are not installed: child processes then serve on h11 and asyncio."""
    with tempfile.TemporaryDirectory(prefix="no-c-runtime-") as folder:
        for name in ("httptools", "uvloop"):
            (Path(folder) / f"{name}.py").write_text(f"raise ImportError('{name} is hidden by the test')\n")
        yield os.pathsep.join(filter(None, [folder, os.environ.get("PYTHONPATH")]))


def loaded_libraries(process: subprocess.Popen[bytes]) -> str:
    """The shared objects mapped into a running child (Linux: /proc/PID/maps)."""
    return Path(f"/proc/{process.pid}/maps").read_text()


def raw_exchange(url: str, raw: bytes) -> tuple[int, dict[str, object]]:
    """Send `raw` bytes to the server at `url` on a connection of its own; the answer's status and
    JSON body (read until the server closes the connection)."""
    address = urlparse(url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)
