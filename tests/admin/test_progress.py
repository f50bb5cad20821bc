"""Export, import and migrate show M/N progress with the total the store knows, never `N/?`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from rich.progress import Progress

from agent_datastore.commands.admin import Bar
from agent_datastore.stores.sqlite.store import SQLiteStore

from .conftest import populate
from .test_gofannon import ORIGINAL

ROOT = Path(__file__).resolve().parents[2]
COUNTS = re.compile(r"\b(\d+|\?)/(\d+|\?)\b")


def shown(args: list[str], env: dict[str, str]) -> set[str]:
    """Every `done/total` the progress bar drew on standard error (rich draws it only on a terminal:
    FORCE_COLOR makes it draw into the pipe)."""
    run = subprocess.run(
        [sys.executable, "-m", "agent_datastore", "admin", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "FORCE_COLOR": "1", "NO_COLOR": "1"},
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return {"/".join(pair) for pair in COUNTS.findall(run.stderr)}


def test_progress_shows_the_total(tmp_path: Path) -> None:
    env = {"STORE_BACKEND": "sqlite", "SQLITE_PATH": str(tmp_path / "source.sqlite3")}
    store = SQLiteStore(env["SQLITE_PATH"])
    store.create()
    populate(store, ["alice", "bob"])  # 6 records each, one namespace of alice's holds 1
    store.close()
    dump = str(tmp_path / "dump.ndjson")
    assert shown(["export", "-o", dump], env) >= {"0/12", "12/12"}
    assert shown(["export", "--user", "alice", "--namespace", "stats", "-o", dump], env) >= {"1/1"}
    target = {**env, "SQLITE_PATH": str(tmp_path / "target.sqlite3")}
    assert shown(["import", dump], target) >= {"1/1"}
    assert shown(["migrate", "--to-backend", "memory"], env) >= {"0/12", "12/12"}
    gofannon = tmp_path / "gofannon.json"
    gofannon.write_text(json.dumps([{**doc, "createdAt": "2026-03-04T01:06:36"} for doc in ORIGINAL]))
    assert shown(["import", "--format", "gofannon", str(gofannon)], target) >= {"4/4"}
    for counts in (shown(["export", "-o", dump], env), shown(["import", dump], target)):
        assert not any("?" in pair for pair in counts), counts


def test_a_total_that_proves_short_grows_to_what_is_done() -> None:
    # The registry counts live records; an export also carries expired ones not yet swept.
    with Progress(disable=True) as progress:
        bar = Bar(progress, progress.add_task("x", total=2))
        bar(3)
        assert (progress.tasks[0].completed, progress.tasks[0].total) == (3, 3)
        bar.total(10)
        bar(1)
        assert (progress.tasks[0].completed, progress.tasks[0].total) == (4, 10)
