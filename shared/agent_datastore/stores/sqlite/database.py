"""The SQLite database file of `SQLiteStore`: its schema, connections, transactions, rows.

One file in WAL mode. User, namespace and key are stored as UTF-8 BLOBs, so
SQLite's memcmp ordering is the contract's byte order and a prefix is a range
scan of the primary key. Every write runs in `BEGIN IMMEDIATE`, which
serialises writers across threads and processes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent_datastore.core.errors import BackendUnavailable
from agent_datastore.core.records import Record, Scope

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    user_id BLOB NOT NULL,
    namespace BLOB NOT NULL,
    key BLOB NOT NULL,
    value TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_by_agent TEXT NOT NULL,
    last_accessed_by_agent TEXT NOT NULL,
    access_count INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    expires_at INTEGER,
    size INTEGER NOT NULL,
    ttl_seconds INTEGER,
    PRIMARY KEY (user_id, namespace, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_expiry ON records (user_id, expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS namespaces (
    user_id BLOB NOT NULL,
    namespace BLOB NOT NULL,
    keys INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, namespace)
) WITHOUT ROWID;
"""

COLUMNS = (
    "key, value, metadata, created_by_agent, last_accessed_by_agent, access_count,"
    " created_at, updated_at, version, expires_at, size, ttl_seconds"
)
# Columns added to `records` since its first release, for database files made before them.
ADDED_COLUMNS = {"ttl_seconds": "INTEGER"}
PK = "user_id = ? AND namespace = ? AND key = ?"
LIVE = "(expires_at IS NULL OR expires_at > ?)"


def utf8(text: str) -> bytes:
    return text.encode("utf-8")


def prefix_bounds(prefix: str) -> tuple[bytes, bytes | None]:
    """[low, high) of the byte strings that start with `prefix`."""
    low = utf8(prefix)
    high = bytearray(low)
    while high and high[-1] == 0xFF:
        high.pop()
    if not high:
        return low, None
    high[-1] += 1
    return low, bytes(high)


class _Translated:
    """A locked or unavailable database file is a 503 the caller may retry, not a 500. A plain
    context manager, not a generator: it wraps every read, and costs a fraction of one."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, traceback: Any) -> None:
        if isinstance(exc, sqlite3.OperationalError):
            raise BackendUnavailable(f"SQLite is unavailable: {exc}") from exc


_TRANSLATED = _Translated()


def translated() -> _Translated:
    return _TRANSLATED


class SQLiteDatabase:
    """One database file, one connection per thread (created on first use)."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, the schema created on the first."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            conn.executescript(SCHEMA)
            add_missing_columns(conn)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """`BEGIN IMMEDIATE` ... `COMMIT`, rolled back on any exception."""
        with translated():
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


def add_missing_columns(conn: sqlite3.Connection) -> None:
    """Bring a database file made by an earlier release up to the schema (its rows get NULL)."""

    def missing() -> list[str]:
        present = {row[1] for row in conn.execute("PRAGMA table_info(records)")}
        return [name for name in ADDED_COLUMNS if name not in present]

    for name in missing():
        try:
            conn.execute(f"ALTER TABLE records ADD COLUMN {name} {ADDED_COLUMNS[name]}")
        except sqlite3.OperationalError:
            if name in missing():  # not another connection that added it first
                raise


def record_of(scope: Scope, row: tuple[Any, ...]) -> Record:
    """The record of a `records` row read as COLUMNS."""
    return Record(
        user_id=scope.user_id,
        namespace=scope.namespace,
        key=row[0].decode("utf-8"),
        value_json=row[1],
        metadata={} if row[2] == "{}" else json.loads(row[2]),
        created_by_agent=row[3],
        last_accessed_by_agent=row[4],
        access_count=row[5],
        created_at=row[6],
        updated_at=row[7],
        version=row[8],
        expires_at=row[9],
        ttl_seconds=row[11],
    )
