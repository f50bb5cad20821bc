"""purge-user, migrate and sweep-expired, through the real CLI where a user meets them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from agent_datastore.admin import operations
from agent_datastore.core.records import now_ms
from agent_datastore.stores.sqlite.store import SQLiteStore

from .conftest import call, populate, snapshot

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str]) -> tuple[int, dict]:
    run = subprocess.run(
        [sys.executable, "-m", "agent_datastore.cli", "admin", "--json", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=120,
    )
    assert run.stdout.strip(), run.stderr
    return run.returncode, json.loads(run.stdout.strip().splitlines()[-1])


def test_purge_user_erases_everything_of_one_user_only(target):
    populate(target, ["victim", "victim2", "other"])
    keep = snapshot(target, ["victim2", "other"])
    result = operations.purge_user(target, "victim")
    assert result["stored"] == 6 and result["verified"] and result["remaining"] == 0
    assert list(target.scan("victim")) == [] and "victim" not in set(target.users())
    assert call(target, "victim", "a", "list_namespaces")["namespaces"] == []
    assert call(target, "victim", "a", "stats")["namespaces"] == []
    assert snapshot(target, ["victim2", "other"]) == keep  # nobody else touched, not even a read count


def test_purge_user_cli_needs_yes(tmp_path):
    env = {"STORE_BACKEND": "sqlite", "SQLITE_PATH": str(tmp_path / "s.sqlite3")}
    store = SQLiteStore(env["SQLITE_PATH"])
    populate(store, ["victim", "other"])
    code, dry = cli("purge-user", "victim", env=env)
    assert code == 0 and dry == {"userId": "victim", "would_delete": 6}
    assert len(list(store.scan("victim"))) == 6
    code, done = cli("purge-user", "victim", "--yes", env=env)
    assert code == 0 and done["verified"] and done["stored"] == 6
    assert list(store.scan("victim")) == [] and len(list(store.scan("other"))) == 6


def test_migrate_cli_copies_and_verifies(tmp_path):
    source_path, target_path = tmp_path / "from.sqlite3", tmp_path / "to.sqlite3"
    source = SQLiteStore(source_path)
    populate(source, ["u1", "u:2", "u/3"])
    target_backend, target_env = "sqlite", [f"SQLITE_PATH={target_path}"]
    if os.environ.get("COUCHDB_URL"):  # to a real CouchDB-protocol server when one runs
        target_backend, target_env = "couchdb", [f"COUCHDB_DB=migrate_{os.getpid()}_{now_ms()}"]
        from agent_datastore.stores.couchdb.store import CouchDBStore

        target = CouchDBStore(os.environ["COUCHDB_URL"], target_env[0].split("=", 1)[1])
        target.create()
    else:
        target = SQLiteStore(target_path)
    env = {"STORE_BACKEND": "sqlite", "SQLITE_PATH": str(source_path)}
    code, result = cli("migrate", "--to-backend", target_backend, "--to-env", target_env[0], env=env)
    assert code == 0, result
    assert result["verified"] and result["copied"] == 18 and result["records"] == 18 and result["users"] == 3
    assert snapshot(target, ["u1", "u:2", "u/3"]) == snapshot(source, ["u1", "u:2", "u/3"])
    # A target that differs is caught: change one record there and verify again.
    (record, *_) = target.scan("u1")
    target.restore(replace(record, access_count=record.access_count + 1))
    again = operations.checksums(target, ["u1"])["u1"]
    assert again.hex != operations.checksums(source, ["u1"])["u1"].hex
    if target_backend == "couchdb":
        target.drop()


def test_migrate_reports_a_mismatch(source, target):
    populate(source, ["u1"])

    class Lossy:
        """A target that drops one record on the floor."""

        def __init__(self, inner):
            self.inner = inner
            self.dropped = False

        def restore(self, record):
            if not self.dropped:
                self.dropped = True
                return
            self.inner.restore(record)

        def scan(self, user, namespace=None):
            return self.inner.scan(user, namespace)

    result = operations.migrate(source, Lossy(target))
    assert not result["verified"]
    assert result["mismatches"][0]["source"]["records"] == 6 and result["mismatches"][0]["target"]["records"] == 5


def test_sweep_expired(target):
    populate(target, ["u1", "u2"])
    later = now_ms() + 2 * 3600 * 1000
    assert operations.sweep_expired(target, user_id="u1", now=later)["removed"] == 1
    assert [r.key for r in target.scan("u1", "default")] == []
    assert [r.key for r in target.scan("u2", "default")] == ["expiring"]
    assert operations.sweep_expired(target, now=later)["removed"] == 1
    assert operations.sweep_expired(target, now=later)["removed"] == 0
    assert sum(1 for user in ("u1", "u2") for _ in target.scan(user)) == 10


def test_inspect_cli(tmp_path):
    env = {"STORE_BACKEND": "sqlite", "SQLITE_PATH": str(tmp_path / "s.sqlite3")}
    populate(SQLiteStore(env["SQLITE_PATH"]), ["u1"])
    code, users = cli("inspect", env=env)
    assert code == 0 and users["users"][0]["userId"] == "u1" and users["users"][0]["keys"] == 6
    code, spaces = cli("inspect", "--user", "u1", env=env)
    assert [row["namespace"] for row in spaces["namespaces"]] == [
        "cache:github",
        "default",
        "files:my-org/my-repo",
        "stats",
    ]
    code, page = cli("inspect", "--user", "u1", "--namespace", "cache:github", "--limit", "2", env=env)
    assert page == {"keys": ["%20 #", "a:b/c"], "next_after": "a:b/c"}
    code, rest = cli("inspect", "--user", "u1", "--namespace", "cache:github", "--after", "a:b/c", env=env)
    assert rest == {"keys": ["é😀"], "next_after": None}
    code, shown = cli("inspect", "--user", "u1", "--namespace", "files:my-org/my-repo", "--key", "src/a.py", env=env)
    assert shown["record"]["accessCount"] == 1 and shown["record"]["metadata"] == {"lang": "python", "n": 1.5}
    code, missing = cli("inspect", "--user", "u1", "--namespace", "stats", "--key", "nope", env=env)
    assert code == 1 and missing == {"found": False}
