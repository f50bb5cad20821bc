"""In-memory store: fast unit tests and embedding. One lock, exact semantics."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from agent_datastore.core.records import (
    NamespaceStats,
    Record,
    Scope,
    Write,
    apply_read,
    apply_write,
    check_version,
    increment_write,
)
from agent_datastore.core.settings import Settings
from agent_datastore.stores.base import Store


class MemoryStore(Store):
    name = "memory"

    def __init__(self) -> None:
        self._data: dict[Scope, dict[str, Record]] = {}
        self._updated: dict[Scope, int] = {}
        self._lock = threading.RLock()

    def _live(self, scope: Scope, key: str, now: int) -> Record | None:
        record = self._data.get(scope, {}).get(key)
        if record is not None and not record.is_live(now):
            self._remove(scope, key)
            return None
        return record

    def _remove(self, scope: Scope, key: str) -> None:
        rows = self._data.get(scope, {})
        rows.pop(key, None)
        if not rows:
            self._data.pop(scope, None)

    def get(self, scope: Scope, key: str, *, reader: str | None, now: int, refresh_ttl: bool = False) -> Record | None:
        with self._lock:
            record = self._live(scope, key, now)
            if record is None:
                return None
            read = apply_read(record, reader, now if refresh_ttl else None)
            if read is not record:
                self._data[scope][key] = read
            return read

    def put(self, scope: Scope, key: str, write: Write, now: int) -> tuple[Record, bool]:
        with self._lock:
            existing = self._live(scope, key, now)
            record = apply_write(scope, key, existing, write, now)
            self._data.setdefault(scope, {})[key] = record
            self._updated[scope] = max(now, self._updated.get(scope, 0))
            return record, existing is None

    def put_many(self, scope: Scope, items: list[tuple[str, Write]], now: int) -> dict[str, int]:
        with self._lock:
            self.check_merged_metadata(scope, items, now)
            return {key: self.put(scope, key, write, now)[0].version for key, write in items}

    def delete(self, scope: Scope, key: str, *, if_version: int | None, now: int) -> bool:
        with self._lock:
            existing = self._live(scope, key, now)
            check_version(key, existing, if_version)
            if existing is None:
                return False
            self._remove(scope, key)
            return True

    def increment(
        self, scope: Scope, key: str, by: int | float, *, agent: str, expires_at: int | None, now: int
    ) -> Record:
        with self._lock:
            existing = self._live(scope, key, now)
            write = increment_write(key, existing, by, agent, expires_at)
            record, _ = self.put(scope, key, write, now)
            return record

    def list_keys(self, scope: Scope, *, prefix: str, after: str | None, limit: int, now: int) -> list[str]:
        with self._lock:
            # Python orders str by code point, which is the order of UTF-8 bytes.
            keys = sorted(
                key
                for key, record in self._data.get(scope, {}).items()
                if key.startswith(prefix) and (after is None or key > after) and record.is_live(now)
            )
            return keys[:limit]

    def list_namespaces(self, user_id: str, *, prefix: str, now: int) -> list[str]:
        with self._lock:
            self.purge_expired(now, user_id)
            return sorted(
                scope.namespace
                for scope in self._data
                if scope.user_id == user_id and scope.namespace.startswith(prefix)
            )

    def clear(self, scope: Scope, *, now: int, deadline: float) -> tuple[int, bool]:
        with self._lock:
            rows = self._data.pop(scope, {})
            return sum(1 for record in rows.values() if record.is_live(now)), True

    def stats(self, user_id: str, *, namespace: str | None, now: int) -> list[NamespaceStats]:
        with self._lock:
            self.purge_expired(now, user_id)
            return [
                NamespaceStats(
                    scope.namespace,
                    len(rows),
                    sum(record.size for record in rows.values()),
                    self._updated.get(scope, 0),
                )
                for scope, rows in sorted(self._data.items(), key=lambda item: item[0].namespace)
                if scope.user_id == user_id and namespace in (None, scope.namespace)
            ]

    def users(self) -> Iterator[str]:
        with self._lock:
            return iter(sorted({scope.user_id for scope in self._data}))

    def scan(self, user_id: str, namespace: str | None = None) -> Iterator[Record]:
        with self._lock:
            records = [
                record
                for scope, rows in self._data.items()
                if scope.user_id == user_id and namespace in (None, scope.namespace)
                for record in rows.values()
            ]
        return iter(sorted(records, key=lambda record: (record.namespace, record.key)))

    def restore(self, record: Record) -> None:
        with self._lock:
            scope = Scope(record.user_id, record.namespace)
            self._data.setdefault(scope, {})[record.key] = record
            self._updated[scope] = max(record.updated_at, self._updated.get(scope, 0))

    def purge_expired(self, now: int, user_id: str | None = None) -> int:
        with self._lock:
            expired = [
                (scope, key)
                for scope, rows in self._data.items()
                if user_id in (None, scope.user_id)
                for key, record in rows.items()
                if not record.is_live(now)
            ]
            for scope, key in expired:
                self._remove(scope, key)
            return len(expired)


def from_settings(settings: Settings) -> MemoryStore:
    del settings  # nothing to configure
    return MemoryStore()
