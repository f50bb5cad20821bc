"""SQLite: the embedded default.

One file in WAL mode. User, namespace and key are stored as UTF-8 BLOBs, so
SQLite's memcmp ordering is the contract's byte order and a prefix is a range
scan of the primary key. Every write runs in `BEGIN IMMEDIATE`, which
serialises writers across threads and processes; the `namespaces` table is
the per-user registry that `list_namespaces` and `stats` read, kept exact in
the same transactions.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent_datastore.core.errors import BackendUnavailable
from agent_datastore.core.records import (
    NamespaceStats,
    Record,
    Scope,
    Write,
    apply_write,
    check_version,
    increment_write,
)
from agent_datastore.core.settings import Settings
from agent_datastore.stores.base import ManyResult, Store, within_budget

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
    " created_at, updated_at, version, expires_at, size"
)
PK = "user_id = ? AND namespace = ? AND key = ?"
LIVE = "(expires_at IS NULL OR expires_at > ?)"
CLEAR_BATCH = 500


def _b(text: str) -> bytes:
    return text.encode("utf-8")


def prefix_bounds(prefix: str) -> tuple[bytes, bytes | None]:
    """[low, high) of the byte strings that start with `prefix`."""
    low = _b(prefix)
    high = bytearray(low)
    while high and high[-1] == 0xFF:
        high.pop()
    if not high:
        return low, None
    high[-1] += 1
    return low, bytes(high)


@contextmanager
def _translated() -> Iterator[None]:
    """A locked or unavailable database file is a 503 the caller may retry, not a 500."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise BackendUnavailable(f"SQLite is unavailable: {exc}") from exc


class SQLiteStore(Store):
    name = "sqlite"

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    # -- connections -------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            conn.executescript(SCHEMA)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with _translated():
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def create(self) -> None:
        self._conn()

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # -- rows --------------------------------------------------------------

    @staticmethod
    def _record(scope: Scope, row: tuple[Any, ...]) -> Record:
        return Record(
            user_id=scope.user_id,
            namespace=scope.namespace,
            key=row[0].decode("utf-8"),
            value_json=row[1],
            metadata=json.loads(row[2]),
            created_by_agent=row[3],
            last_accessed_by_agent=row[4],
            access_count=row[5],
            created_at=row[6],
            updated_at=row[7],
            version=row[8],
            expires_at=row[9],
        )

    def _row(self, conn: sqlite3.Connection, scope: Scope, key: str) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = conn.execute(
            f"SELECT {COLUMNS} FROM records WHERE {PK}", (_b(scope.user_id), _b(scope.namespace), _b(key))
        ).fetchone()
        return row

    def _registry(self, conn: sqlite3.Connection, scope: Scope, keys: int, size: int, now: int) -> None:
        user, namespace = _b(scope.user_id), _b(scope.namespace)
        conn.execute(
            "INSERT INTO namespaces (user_id, namespace, keys, bytes, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id, namespace) DO UPDATE SET keys = keys + excluded.keys,"
            " bytes = bytes + excluded.bytes, updated_at = max(updated_at, excluded.updated_at)",
            (user, namespace, keys, size, now),
        )
        conn.execute("DELETE FROM namespaces WHERE user_id = ? AND namespace = ? AND keys <= 0", (user, namespace))

    def _store_row(
        self, conn: sqlite3.Connection, scope: Scope, old: tuple[Any, ...] | None, new: Record, now: int
    ) -> None:
        size = new.size
        conn.execute(
            "INSERT OR REPLACE INTO records (user_id, namespace, key, value, metadata, created_by_agent,"
            " last_accessed_by_agent, access_count, created_at, updated_at, version, expires_at, size)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _b(scope.user_id),
                _b(scope.namespace),
                _b(new.key),
                new.value_json,
                new.metadata_json,
                new.created_by_agent,
                new.last_accessed_by_agent,
                new.access_count,
                new.created_at,
                new.updated_at,
                new.version,
                new.expires_at,
                size,
            ),
        )
        self._registry(conn, scope, 0 if old else 1, size - (old[10] if old else 0), now)

    def _delete_row(self, conn: sqlite3.Connection, scope: Scope, row: tuple[Any, ...], now: int) -> None:
        conn.execute(f"DELETE FROM records WHERE {PK}", (_b(scope.user_id), _b(scope.namespace), row[0]))
        # A delete is not a write of a value: stats' updatedAt stays where it was.
        self._registry(conn, scope, -1, -row[10], 0)

    def _live(
        self, conn: sqlite3.Connection, scope: Scope, key: str, now: int
    ) -> tuple[tuple[Any, ...] | None, Record | None]:
        row = self._row(conn, scope, key)
        if row is None:
            return None, None
        record = self._record(scope, row)
        return row, (record if record.is_live(now) else None)

    # -- operations --------------------------------------------------------

    def _read(self, conn: sqlite3.Connection, scope: Scope, key: str, reader: str | None, now: int) -> Record | None:
        params = (_b(scope.user_id), _b(scope.namespace), _b(key), now)
        if reader is None:
            row = conn.execute(f"SELECT {COLUMNS} FROM records WHERE {PK} AND {LIVE}", params).fetchone()
        else:
            # One statement: the count and the returned record are one atomic step.
            row = conn.execute(
                "UPDATE records SET access_count = access_count + 1, last_accessed_by_agent = ?"
                f" WHERE {PK} AND {LIVE} RETURNING {COLUMNS}",
                (reader, *params),
            ).fetchone()
        return None if row is None else self._record(scope, row)

    def get(self, scope: Scope, key: str, *, reader: str | None, now: int) -> Record | None:
        with _translated():
            return self._read(self._conn(), scope, key, reader, now)

    def get_many(self, scope: Scope, keys: list[str], *, reader: str | None, now: int, max_bytes: int) -> ManyResult:
        with self._tx() as conn:
            read = {key: record for key in keys if (record := self._read(conn, scope, key, None, now))}
            result = within_budget(keys, read, max_bytes)
            if reader is not None:
                # Same transaction: only the records returned are counted.
                for key in result.found:
                    tracked = self._read(conn, scope, key, reader, now)
                    assert tracked is not None
                    result.found[key] = tracked
        return result

    def put(self, scope: Scope, key: str, write: Write, now: int) -> tuple[Record, bool]:
        with self._tx() as conn:
            return self._put(conn, scope, key, write, now)

    def _put(self, conn: sqlite3.Connection, scope: Scope, key: str, write: Write, now: int) -> tuple[Record, bool]:
        row, existing = self._live(conn, scope, key, now)
        record = apply_write(scope, key, existing, write, now)
        self._store_row(conn, scope, row, record, now)
        return record, existing is None

    def put_many(self, scope: Scope, items: list[tuple[str, Write]], now: int) -> dict[str, int]:
        # One transaction: all items are written, or none.
        with self._tx() as conn:
            return {key: self._put(conn, scope, key, write, now)[0].version for key, write in items}

    def delete(self, scope: Scope, key: str, *, if_version: int | None, now: int) -> bool:
        with self._tx() as conn:
            row, existing = self._live(conn, scope, key, now)
            check_version(key, existing, if_version)
            if row is not None:
                self._delete_row(conn, scope, row, now)
            return existing is not None

    def increment(
        self, scope: Scope, key: str, by: int | float, *, agent: str, expires_at: int | None, now: int
    ) -> Record:
        with self._tx() as conn:
            _, existing = self._live(conn, scope, key, now)
            write = increment_write(key, existing, by, agent, expires_at)
            return self._put(conn, scope, key, write, now)[0]

    def list_keys(self, scope: Scope, *, prefix: str, after: str | None, limit: int, now: int) -> list[str]:
        low, high = prefix_bounds(prefix)
        clauses = ["user_id = ?", "namespace = ?", LIVE, "key >= ?"]
        params: list[Any] = [_b(scope.user_id), _b(scope.namespace), now, low]
        if high is not None:
            clauses.append("key < ?")
            params.append(high)
        if after is not None:
            clauses.append("key > ?")
            params.append(_b(after))
        rows = (
            self._conn()
            .execute(f"SELECT key FROM records WHERE {' AND '.join(clauses)} ORDER BY key LIMIT ?", (*params, limit))
            .fetchall()
        )
        return [row[0].decode("utf-8") for row in rows]

    def purge_expired(self, now: int, user_id: str | None = None) -> int:
        """Physically remove expired records (of one user, or of everyone)."""
        where = "expires_at IS NOT NULL AND expires_at <= ?"
        params: tuple[Any, ...] = (now,)
        if user_id is not None:
            where = "user_id = ? AND " + where
            params = (_b(user_id), now)
        with self._tx() as conn:
            rows = conn.execute(f"SELECT user_id, namespace, {COLUMNS} FROM records WHERE {where}", params).fetchall()
            for row in rows:
                scope = Scope(row[0].decode("utf-8"), row[1].decode("utf-8"))
                self._delete_row(conn, scope, row[2:], now)
        return len(rows)

    def list_namespaces(self, user_id: str, *, prefix: str, now: int) -> list[str]:
        self.purge_expired(now, user_id)
        low, high = prefix_bounds(prefix)
        sql = "SELECT namespace FROM namespaces WHERE user_id = ? AND namespace >= ?"
        params: list[Any] = [_b(user_id), low]
        if high is not None:
            sql += " AND namespace < ?"
            params.append(high)
        with _translated():
            rows = self._conn().execute(sql + " ORDER BY namespace", params).fetchall()
        return [row[0].decode("utf-8") for row in rows]

    def clear(self, scope: Scope, *, now: int, deadline: float) -> tuple[int, bool]:
        deleted = 0
        user, namespace = _b(scope.user_id), _b(scope.namespace)
        while True:
            with self._tx() as conn:
                rows = conn.execute(
                    f"SELECT {COLUMNS} FROM records WHERE user_id = ? AND namespace = ? LIMIT ?",
                    (user, namespace, CLEAR_BATCH),
                ).fetchall()
                for row in rows:
                    self._delete_row(conn, scope, row, now)
                deleted += sum(1 for row in rows if row[9] is None or row[9] > now)
            if len(rows) < CLEAR_BATCH:
                return deleted, True
            if time.monotonic() >= deadline:
                return deleted, False

    def stats(self, user_id: str, *, namespace: str | None, now: int) -> list[NamespaceStats]:
        self.purge_expired(now, user_id)
        sql = "SELECT namespace, keys, bytes, updated_at FROM namespaces WHERE user_id = ?"
        params: list[Any] = [_b(user_id)]
        if namespace is not None:
            sql += " AND namespace = ?"
            params.append(_b(namespace))
        with _translated():
            rows = self._conn().execute(sql + " ORDER BY namespace", params).fetchall()
        return [NamespaceStats(row[0].decode("utf-8"), row[1], row[2], row[3]) for row in rows]

    def users(self) -> Iterator[str]:
        rows = self._conn().execute("SELECT DISTINCT user_id FROM records ORDER BY user_id").fetchall()
        return (row[0].decode("utf-8") for row in rows)

    def scan(self, user_id: str, namespace: str | None = None) -> Iterator[Record]:
        sql = f"SELECT namespace, {COLUMNS} FROM records WHERE user_id = ?"
        params: list[Any] = [_b(user_id)]
        if namespace is not None:
            sql += " AND namespace = ?"
            params.append(_b(namespace))
        cursor = self._conn().execute(sql + " ORDER BY namespace, key", params)
        for row in cursor:
            yield self._record(Scope(user_id, row[0].decode("utf-8")), row[1:])

    def restore(self, record: Record) -> None:
        scope = Scope(record.user_id, record.namespace)
        with self._tx() as conn:
            self._store_row(conn, scope, self._row(conn, scope, record.key), record, record.updated_at)


def from_settings(settings: Settings) -> SQLiteStore:
    store = SQLiteStore(settings.sqlite_path)
    store.create()
    return store
