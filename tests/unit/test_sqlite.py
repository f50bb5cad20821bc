"""SQLite specifics the contract suite cannot see."""

from __future__ import annotations

import sqlite3

import pytest

from agent_datastore.core import errors
from agent_datastore.core.records import Scope, Write
from agent_datastore.stores.sqlite.database import prefix_bounds
from agent_datastore.stores.sqlite.store import SQLiteStore


def test_prefix_bounds_are_a_byte_range():
    assert prefix_bounds("") == (b"", None)
    assert prefix_bounds("a") == (b"a", b"b")
    assert prefix_bounds("é") == ("é".encode(), b"\xc3\xaa")


def test_a_locked_database_is_a_retryable_503(tmp_path):
    path = tmp_path / "locked.sqlite3"
    store = SQLiteStore(path, timeout=0.1)
    store.create()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(errors.BackendUnavailable):
            store.put(Scope("u", "n"), "k", Write("1", "a"), 1)
        with pytest.raises(errors.BackendUnavailable, match="SQLite is unavailable"):
            store.get(Scope("u", "n"), "k", reader="a", now=1)  # a tracked read writes its count
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    record, created = store.put(Scope("u", "n"), "k", Write("1", "a"), 1)
    assert created and record.version == 1


def test_wal_mode_and_the_namespace_registry(tmp_path):
    store = SQLiteStore(tmp_path / "s.sqlite3")
    store.create()
    conn = store.database.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.put(Scope("u", "n"), "k", Write('"v"', "a", {"m": 1}), 1)
    assert conn.execute("SELECT keys, bytes FROM namespaces").fetchall() == [(1, len('"v"') + len('{"m":1}'))]
    plan = " ".join(
        str(row)
        for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT key FROM records WHERE user_id = ? AND namespace = ? AND key >= ? AND key < ?",
            (b"u", b"n", b"a", b"b"),
        )
    )
    assert "SEARCH" in plan and "PRIMARY KEY" in plan  # a range scan, not a table scan
