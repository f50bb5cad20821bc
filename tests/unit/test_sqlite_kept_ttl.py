"""A SQLite database file made before records kept their TTL is brought up to the schema, its rows kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agent_datastore.core.records import Scope, Write
from agent_datastore.stores.sqlite.store import SQLiteStore

# The `records` table as the release before `ttl_seconds` created it.
OLD_RECORDS = """
CREATE TABLE records (
    user_id BLOB NOT NULL, namespace BLOB NOT NULL, key BLOB NOT NULL, value TEXT NOT NULL,
    metadata TEXT NOT NULL, created_by_agent TEXT NOT NULL, last_accessed_by_agent TEXT NOT NULL,
    access_count INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL, expires_at INTEGER, size INTEGER NOT NULL,
    PRIMARY KEY (user_id, namespace, key)
) WITHOUT ROWID;
"""
SCOPE = Scope("u", "n")


def old_database(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_RECORDS)
        conn.execute(
            "INSERT INTO records VALUES (?, ?, ?, '1', '{}', 'a', 'a', 0, 1000, 1000, 1, 500000, 3)",
            (b"u", b"n", b"old"),
        )


def test_an_old_file_gains_the_column_and_its_records_refresh_as_before(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old_database(path)
    first, second = SQLiteStore(path), SQLiteStore(path)  # two stores open it: the column is added once
    try:
        old = first.get(SCOPE, "old", reader=None, now=2000)
        assert old is not None and (old.expires_at, old.ttl_seconds, old.value) == (500_000, None, 1)
        # Written before the TTL was kept: a refresh leaves its expiry as it is.
        refreshed = second.get(SCOPE, "old", reader="r", now=3000, refresh_ttl=True)
        assert refreshed is not None and (refreshed.expires_at, refreshed.access_count) == (500_000, 1)
        record, _ = first.put(SCOPE, "new", Write("2", "a", expires_at=4000 + 60_000), 4000)
        assert record.ttl_seconds == 60
        again = second.get(SCOPE, "new", reader=None, now=10_000, refresh_ttl=True)
        assert again is not None and (again.expires_at, again.ttl_seconds) == (70_000, 60)
    finally:
        first.close()
        second.close()
    with sqlite3.connect(path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(records)")]
    assert columns.count("ttl_seconds") == 1
