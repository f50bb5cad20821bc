"""SQLite: the embedded default.

`SQLiteStore` runs every operation in one transaction of its database file
(`database.SQLiteDatabase`): `BEGIN IMMEDIATE` serialises writers across
threads and processes, so a write has no race to lose and needs no retry.
The `namespaces` table is the per-user registry that `list_namespaces` and
`stats` read, kept exact in the same transactions.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
from agent_datastore.stores.base import Cost, ManyResult, Store, response_cost, within_budget
from agent_datastore.stores.sqlite.database import (
    COLUMNS,
    LIVE,
    PK,
    SQLiteDatabase,
    prefix_bounds,
    record_of,
    translated,
    utf8,
)

CLEAR_BATCH = 500


def _read_sql(count: bool, refresh: bool) -> str:
    """The statement of a read: a SELECT, or one UPDATE ... RETURNING that counts the read (and
    refreshes the expiry) so that the count, the refresh and the record returned are one atomic
    step. Its parameters: `now` if it refreshes, the reader if it counts, then PK's and LIVE's."""
    changes = []
    if refresh:
        # records.apply_read's rule: a record without a kept TTL keeps its expiry.
        changes.append("expires_at = CASE WHEN ttl_seconds IS NULL THEN expires_at ELSE ? + ttl_seconds * 1000 END")
    if count:
        changes.append("access_count = access_count + 1, last_accessed_by_agent = ?")
    if not changes:
        return f"SELECT {COLUMNS} FROM records WHERE {PK} AND {LIVE}"
    return f"UPDATE records SET {', '.join(changes)} WHERE {PK} AND {LIVE} RETURNING {COLUMNS}"


READ_SQL = {(count, refresh): _read_sql(count, refresh) for count in (False, True) for refresh in (False, True)}


class SQLiteStore(Store):
    name = "sqlite"

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.database = SQLiteDatabase(path, timeout=timeout)

    @property
    def path(self) -> str:
        return self.database.path

    def create(self) -> None:
        self.database.connection()

    def close(self) -> None:
        self.database.close()

    # -- rows --------------------------------------------------------------

    def _row(self, conn: sqlite3.Connection, scope: Scope, key: str) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = conn.execute(
            f"SELECT {COLUMNS} FROM records WHERE {PK}", (utf8(scope.user_id), utf8(scope.namespace), utf8(key))
        ).fetchone()
        return row

    def _registry(self, conn: sqlite3.Connection, scope: Scope, keys: int, size: int, now: int) -> None:
        """Add `keys` and `size` to the namespace's row, made by the first key, dropped with the last.
        A write that adds no key updates the row if there is one (there is, if the namespace holds
        the key it overwrites): one statement per write, the second only for a delete."""
        user, namespace = utf8(scope.user_id), utf8(scope.namespace)
        if keys > 0:
            conn.execute(
                "INSERT INTO namespaces (user_id, namespace, keys, bytes, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id, namespace) DO UPDATE SET keys = keys + excluded.keys,"
                " bytes = bytes + excluded.bytes, updated_at = max(updated_at, excluded.updated_at)",
                (user, namespace, keys, size, now),
            )
            return
        conn.execute(
            "UPDATE namespaces SET keys = keys + ?, bytes = bytes + ?, updated_at = max(updated_at, ?)"
            " WHERE user_id = ? AND namespace = ?",
            (keys, size, now, user, namespace),
        )
        if keys < 0:
            conn.execute("DELETE FROM namespaces WHERE user_id = ? AND namespace = ? AND keys <= 0", (user, namespace))

    def _store_row(
        self, conn: sqlite3.Connection, scope: Scope, old: tuple[Any, ...] | None, new: Record, now: int
    ) -> None:
        size = new.size
        conn.execute(
            "INSERT OR REPLACE INTO records (user_id, namespace, key, value, metadata, created_by_agent,"
            " last_accessed_by_agent, access_count, created_at, updated_at, version, expires_at, size,"
            " ttl_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                utf8(scope.user_id),
                utf8(scope.namespace),
                utf8(new.key),
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
                new.ttl_seconds,
            ),
        )
        self._registry(conn, scope, 0 if old else 1, size - (old[10] if old else 0), now)

    def _delete_row(self, conn: sqlite3.Connection, scope: Scope, row: tuple[Any, ...], now: int) -> None:
        conn.execute(f"DELETE FROM records WHERE {PK}", (utf8(scope.user_id), utf8(scope.namespace), row[0]))
        # A delete is not a write of a value: stats' updatedAt stays where it was.
        self._registry(conn, scope, -1, -row[10], 0)

    def _live(
        self, conn: sqlite3.Connection, scope: Scope, key: str, now: int
    ) -> tuple[tuple[Any, ...] | None, Record | None]:
        row = self._row(conn, scope, key)
        if row is None:
            return None, None
        record = record_of(scope, row)
        return row, (record if record.is_live(now) else None)

    # -- operations --------------------------------------------------------

    def _read(
        self, conn: sqlite3.Connection, scope: Scope, key: str, reader: str | None, now: int, refresh: bool = False
    ) -> Record | None:
        params: tuple[Any, ...] = (utf8(scope.user_id), utf8(scope.namespace), utf8(key), now)
        sql = READ_SQL[reader is not None, refresh]
        if reader is not None:
            params = (reader, *params)
        if refresh:
            params = (now, *params)
        row = conn.execute(sql, params).fetchone()
        return None if row is None else record_of(scope, row)

    def get(self, scope: Scope, key: str, *, reader: str | None, now: int, refresh_ttl: bool = False) -> Record | None:
        with translated():
            return self._read(self.database.connection(), scope, key, reader, now, refresh_ttl)

    def get_many(
        self,
        scope: Scope,
        keys: list[str],
        *,
        reader: str | None,
        now: int,
        max_bytes: int,
        refresh_ttl: bool = False,
        cost: Cost = response_cost,
    ) -> ManyResult:
        with self.database.transaction() as conn:
            # One key at a time, in order: no row is read past the budget.
            result = within_budget(keys, lambda key: self._read(conn, scope, key, None, now), max_bytes, cost)
            if reader is not None or refresh_ttl:
                # Same transaction: only the records returned are counted (and refreshed).
                for key in result.found:
                    tracked = self._read(conn, scope, key, reader, now, refresh_ttl)
                    assert tracked is not None
                    result.found[key] = tracked
        return result

    def put(self, scope: Scope, key: str, write: Write, now: int) -> tuple[Record, bool]:
        with self.database.transaction() as conn:
            return self._put(conn, scope, key, write, now)

    def _put(self, conn: sqlite3.Connection, scope: Scope, key: str, write: Write, now: int) -> tuple[Record, bool]:
        row, existing = self._live(conn, scope, key, now)
        record = apply_write(scope, key, existing, write, now)
        self._store_row(conn, scope, row, record, now)
        return record, existing is None

    def put_many(self, scope: Scope, items: list[tuple[str, Write]], now: int) -> dict[str, int]:
        # One transaction: all items are written, or none.
        with self.database.transaction() as conn:
            return {key: self._put(conn, scope, key, write, now)[0].version for key, write in items}

    def delete(self, scope: Scope, key: str, *, if_version: int | None, now: int) -> bool:
        with self.database.transaction() as conn:
            row, existing = self._live(conn, scope, key, now)
            check_version(key, existing, if_version)
            if row is not None:
                self._delete_row(conn, scope, row, now)
            return existing is not None

    def increment(
        self, scope: Scope, key: str, by: int | float, *, agent: str, expires_at: int | None, now: int
    ) -> Record:
        with self.database.transaction() as conn:
            _, existing = self._live(conn, scope, key, now)
            write = increment_write(key, existing, by, agent, expires_at)
            return self._put(conn, scope, key, write, now)[0]

    def list_keys(self, scope: Scope, *, prefix: str, after: str | None, limit: int, now: int) -> list[str]:
        low, high = prefix_bounds(prefix)
        clauses = ["user_id = ?", "namespace = ?", LIVE, "key >= ?"]
        params: list[Any] = [utf8(scope.user_id), utf8(scope.namespace), now, low]
        if high is not None:
            clauses.append("key < ?")
            params.append(high)
        if after is not None:
            clauses.append("key > ?")
            params.append(utf8(after))
        rows = (
            self.database.connection()
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
            params = (utf8(user_id), now)
        with self.database.transaction() as conn:
            rows = conn.execute(f"SELECT user_id, namespace, {COLUMNS} FROM records WHERE {where}", params).fetchall()
            for row in rows:
                scope = Scope(row[0].decode("utf-8"), row[1].decode("utf-8"))
                self._delete_row(conn, scope, row[2:], now)
        return len(rows)

    def list_namespaces(self, user_id: str, *, prefix: str, now: int) -> list[str]:
        self.purge_expired(now, user_id)
        low, high = prefix_bounds(prefix)
        sql = "SELECT namespace FROM namespaces WHERE user_id = ? AND namespace >= ?"
        params: list[Any] = [utf8(user_id), low]
        if high is not None:
            sql += " AND namespace < ?"
            params.append(high)
        with translated():
            rows = self.database.connection().execute(sql + " ORDER BY namespace", params).fetchall()
        return [row[0].decode("utf-8") for row in rows]

    def clear(self, scope: Scope, *, now: int, deadline: float) -> tuple[int, bool]:
        deleted = 0
        user, namespace = utf8(scope.user_id), utf8(scope.namespace)
        while True:
            with self.database.transaction() as conn:
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
        params: list[Any] = [utf8(user_id)]
        if namespace is not None:
            sql += " AND namespace = ?"
            params.append(utf8(namespace))
        with translated():
            rows = self.database.connection().execute(sql + " ORDER BY namespace", params).fetchall()
        return [NamespaceStats(row[0].decode("utf-8"), row[1], row[2], row[3]) for row in rows]

    def users(self) -> Iterator[str]:
        rows = self.database.connection().execute("SELECT DISTINCT user_id FROM records ORDER BY user_id").fetchall()
        return (row[0].decode("utf-8") for row in rows)

    def scan(self, user_id: str, namespace: str | None = None) -> Iterator[Record]:
        sql = f"SELECT namespace, {COLUMNS} FROM records WHERE user_id = ?"
        params: list[Any] = [utf8(user_id)]
        if namespace is not None:
            sql += " AND namespace = ?"
            params.append(utf8(namespace))
        cursor = self.database.connection().execute(sql + " ORDER BY namespace, key", params)
        for row in cursor:
            yield record_of(Scope(user_id, row[0].decode("utf-8")), row[1:])

    def restore(self, record: Record) -> None:
        scope = Scope(record.user_id, record.namespace)
        with self.database.transaction() as conn:
            self._store_row(conn, scope, self._row(conn, scope, record.key), record, record.updated_at)


def from_settings(settings: Settings) -> SQLiteStore:
    store = SQLiteStore(settings.sqlite_path)
    store.create()
    return store
