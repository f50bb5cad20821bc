"""Mistakes in a command's input or environment end in one line naming the bad input and what to do
(exit code 2), never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(
    args: list[str], env: dict[str, str] | None = None, tmp: Path | None = None
) -> subprocess.CompletedProcess[str]:
    child = {k: v for k, v in os.environ.items() if not k.startswith(("STORE_", "DATASTORE_", "AWS_"))}
    if tmp is not None:
        child["SQLITE_PATH"] = str(tmp / "store.sqlite3")
    child.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "agent_datastore", *args],
        env=child,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_a_missing_import_file(tmp_path: Path) -> None:
    assert_one_line(run(["admin", "import", str(tmp_path / "nope.ndjson")], tmp=tmp_path), "nope.ndjson", "cannot read")


def test_a_mistyped_backend(tmp_path: Path) -> None:
    result = run(["serve", "--backend", "sqlit", "--port", "0"], tmp=tmp_path)
    assert_one_line(result, "STORE_BACKEND", "'sqlit'", "sqlite")


def test_a_request_budget_that_is_not_a_number(tmp_path: Path) -> None:
    result = run(["admin", "create"], {"DATASTORE_REQUEST_BUDGET": "abc"}, tmp=tmp_path)
    assert_one_line(result, "DATASTORE_REQUEST_BUDGET", "'abc'")


def test_an_unknown_auth_mode(tmp_path: Path) -> None:
    assert_one_line(run(["admin", "create"], {"DATASTORE_AUTH": "off"}, tmp=tmp_path), "DATASTORE_AUTH", "'off'")


def test_dynamodb_without_a_region(tmp_path: Path) -> None:
    env = {
        "STORE_BACKEND": "dynamodb",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_CONFIG_FILE": "/dev/null",
    }
    assert_one_line(run(["admin", "create"], env, tmp=tmp_path), "region", "AWS_REGION")


def test_a_port_already_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(["serve", "--port", str(port)], tmp=tmp_path)
    assert_one_line(result, "already in use", "--port")


def test_python_dash_m_is_the_console_script() -> None:
    result = run(["--version"])
    assert result.returncode == 0 and result.stdout.startswith("agent-datastore ")


@pytest.mark.parametrize("args", [["serve", "--help"], ["admin", "--help"]])
def test_help_still_works(args: list[str]) -> None:
    assert run(args).returncode == 0
