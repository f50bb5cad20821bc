"""Start every test server, run a command with their environment, stop them all.

Usage: python -m tests.servers.run [--only NAME,...] -- COMMAND...
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from . import SERVERS, Started, Unavailable

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated servers to start (default: all)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    wanted = [name for name in args.only.split(",") if name] or SERVERS
    workdir = ROOT / ".test-servers"
    started: list[Started] = []
    env = dict(os.environ)
    required = {"memory", "sqlite"}
    not_run: list[str] = []

    def stop_all(*_: object) -> None:
        for server in reversed(started):
            server.stop()

    signal.signal(signal.SIGTERM, lambda *_: (stop_all(), sys.exit(143)))
    try:
        for name in wanted:
            module = importlib.import_module(f"tests.servers.{name}")
            try:
                server: Started = module.start(workdir / name)
            except Unavailable as exc:
                if module.REQUIRED:
                    print(f"[servers] {name}: REQUIRED but unavailable: {exc}", file=sys.stderr)
                    return 1
                not_run.append(f"{name}: {exc}")
                print(f"\n[servers] !!! {name.upper()} TESTS WILL NOT RUN: {exc}\n", file=sys.stderr)
                continue
            started.append(server)
            env.update(server.env)
            required.add(module.NAME)
            print(f"[servers] {name} ready: {' '.join(f'{k}={v}' for k, v in server.env.items())}", flush=True)
        env["DATASTORE_REQUIRE_BACKENDS"] = ",".join(sorted(required))
        code = subprocess.call(command, env=env) if command else 0
    finally:
        stop_all()
    for line in not_run:
        print(f"[servers] !!! NOT TESTED HERE: {line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
