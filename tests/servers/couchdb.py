"""pouchdb-server: a CouchDB-protocol server, in memory, on 127.0.0.1.

Installed from npm with the lockfile in tests/servers/couchdb/
(`npm ci --ignore-scripts`, no native builds: the in-memory adapter is pure JS).
Exports COUCHDB_URL.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from . import Started, Unavailable, free_port, launch

NAME = "couchdb"
REQUIRED = True
PACKAGE = Path(__file__).resolve().parent / "couchdb"
BINARY = PACKAGE / "node_modules" / ".bin" / "pouchdb-server"


def install() -> None:
    """`npm ci --ignore-scripts` once; the lockfile pins every package."""
    if BINARY.exists():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise Unavailable("node and npm are needed to install pouchdb-server")
    result = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=PACKAGE, capture_output=True, text=True
    )
    if result.returncode != 0 or not BINARY.exists():
        raise Unavailable(f"npm ci failed in {PACKAGE}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def start(workdir: Path) -> Started:
    install()
    workdir.mkdir(parents=True, exist_ok=True)  # pouchdb-server writes config.json and log.txt here
    port = free_port()
    log = workdir / "pouchdb-server.log"
    command = [str(BINARY), "--in-memory", "--host", "127.0.0.1", "--port", str(port), "--no-color"]
    url = f"http://127.0.0.1:{port}"
    return launch(command, log, {"COUCHDB_URL": url}, url + "/", cwd=workdir)
