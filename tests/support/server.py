"""Run the real local server (`agent-datastore serve`) in a child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_server(env: dict[str, str] | None = None, args: list[str] | None = None) -> Iterator[RunningServer]:
    """`agent-datastore serve` on a free port (SQLite in a temporary folder unless `env` says otherwise)."""
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        log = Path(folder) / "server.log"
        child_env = {
            **os.environ,
            "SQLITE_PATH": str(Path(folder) / "store.sqlite3"),
            "PORT": str(port),
            "HOST": "127.0.0.1",
            **(env or {}),
        }
        command = [sys.executable, "-m", "agent_datastore.cli", "serve", *(args or [])]
        with log.open("wb") as handle:
            process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=child_env, cwd=ROOT)
        server = RunningServer(f"http://127.0.0.1:{port}", process, log)
        try:
            wait_http(f"{server.url}/healthz", process, log, timeout=30)
            yield server
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
