"""An in-memory model of API.md: what each of the ten operations must answer, and what it leaves behind.

Written from the contract alone (sections 2-4, and docs/contract-notes.md where API.md is silent),
never from the product's code: it is the yardstick the state machine in test_model.py holds every
backend to. One user; time is whatever `now` (milliseconds) the caller passes.

Each operation returns the 200 body the contract promises, or raises `Refused(code, details)`
for the error it must give; a refused operation changes nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any


class Refused(Exception):
    def __init__(self, code: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(code, details)
        self.code = code
        self.details = details or {}


def utf8(text: str) -> bytes:
    return text.encode("utf-8")


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def timestamp(ms: int | None) -> str | None:
    """RFC 3339 UTC with milliseconds (section 2)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class Entry:
    """One stored record (section 2), without the user/namespace/key it is filed under."""

    value: Any
    metadata: dict[str, Any]
    version: int
    created_at: int
    updated_at: int
    created_by: str
    last_agent: str
    access_count: int = 0
    expires_at: int | None = None

    def live(self, now: int) -> bool:
        # "does not exist for any operation, from the instant it expires"
        return self.expires_at is None or now < self.expires_at

    @property
    def size(self) -> int:
        """Stored bytes as `stats` counts them: value + metadata as compact JSON."""
        return len(utf8(compact(self.value))) + len(utf8(compact(self.metadata)))

    def record(self, user: str, namespace: str, key: str) -> dict[str, Any]:
        return {
            "userId": user,
            "namespace": namespace,
            "key": key,
            "value": self.value,
            "metadata": self.metadata,
            "createdByAgent": self.created_by,
            "lastAccessedByAgent": self.last_agent,
            "accessCount": self.access_count,
            "createdAt": timestamp(self.created_at),
            "updatedAt": timestamp(self.updated_at),
            "version": self.version,
            "expiresAt": timestamp(self.expires_at),
        }


@dataclass
class Model:
    user: str
    data: dict[str, dict[str, Entry]] = field(default_factory=dict)
    last_write: dict[str, int] = field(default_factory=dict)  # namespace -> latest write of a value

    # -- helpers -------------------------------------------------------------------------------

    def live(self, namespace: str, now: int) -> dict[str, Entry]:
        """The namespace's live records; expired ones are forgotten (they no longer exist)."""
        records = self.data.get(namespace, {})
        for key in [key for key, entry in records.items() if not entry.live(now)]:
            del records[key]
        return records

    def entry(self, namespace: str, key: str, now: int) -> Entry | None:
        return self.live(namespace, now).get(key)

    def _read(self, entry: Entry, agent: str, track_access: bool | None) -> None:
        if track_access is not False:
            entry.access_count += 1
            entry.last_agent = agent

    def _write(
        self,
        namespace: str,
        key: str,
        value: Any,
        agent: str,
        now: int,
        metadata: dict[str, Any] | None,
        ttl_seconds: int | None,
    ) -> Entry:
        """Create or overwrite (section 2): returns the record as stored."""
        old = self.entry(namespace, key, now)
        expires_at = None if ttl_seconds is None else now + ttl_seconds * 1000
        given = metadata or {}
        if old is None:
            entry = Entry(
                value=value,
                metadata={name: member for name, member in given.items() if member is not None},
                version=1,
                created_at=now,
                updated_at=now,
                created_by=agent,
                last_agent=agent,
                expires_at=expires_at,
            )
        else:
            merged = dict(old.metadata)
            for name, member in given.items():
                if member is None:
                    merged.pop(name, None)
                else:
                    merged[name] = member
            entry = replace(
                old,
                value=value,
                metadata=merged,
                version=old.version + 1,
                updated_at=now,
                last_agent=agent,
                expires_at=expires_at,
            )
        self.data.setdefault(namespace, {})[key] = entry
        self.last_write[namespace] = now
        return entry

    @staticmethod
    def _check_version(entry: Entry | None, if_version: int | None) -> None:
        current = 0 if entry is None else entry.version
        if if_version is not None and if_version != current:
            raise Refused("version_conflict", {"current_version": current})

    # -- the ten operations (section 4) --------------------------------------------------------

    def get(
        self,
        namespace: str,
        key: str,
        agent: str,
        now: int,
        include_record: bool | None = None,
        track_access: bool | None = None,
    ) -> dict[str, Any]:
        entry = self.entry(namespace, key, now)
        if entry is None:
            return {"found": False}
        self._read(entry, agent, track_access)
        body: dict[str, Any] = {"found": True, "value": entry.value}
        if include_record:
            body["record"] = entry.record(self.user, namespace, key)
        return body

    def set(
        self,
        namespace: str,
        key: str,
        value: Any,
        agent: str,
        now: int,
        metadata: dict[str, Any] | None = None,
        ttl_seconds: int | None = None,
        if_version: int | None = None,
    ) -> dict[str, Any]:
        old = self.entry(namespace, key, now)
        self._check_version(old, if_version)
        entry = self._write(namespace, key, value, agent, now, metadata, ttl_seconds)
        return {"version": entry.version, "created": old is None}

    def delete(self, namespace: str, key: str, now: int, if_version: int | None = None) -> dict[str, Any]:
        entry = self.entry(namespace, key, now)
        self._check_version(entry, if_version)
        if entry is None:
            return {"deleted": False}
        del self.data[namespace][key]
        return {"deleted": True}

    def list_keys(self, namespace: str, prefix: str, now: int) -> list[str]:
        """Every key a walk over all pages must return, in order (paging is checked by the caller)."""
        keys = [key for key in self.live(namespace, now) if utf8(key).startswith(utf8(prefix))]
        return sorted(keys, key=utf8)

    def read_page(self, namespace: str, keys: list[str], agent: str, track_access: bool | None) -> dict[str, Any]:
        """A list_keys page with include_values: the values, and each one counts as a read."""
        records = self.data.get(namespace, {})
        for key in keys:
            self._read(records[key], agent, track_access)
        return {key: records[key].value for key in keys}

    def list_namespaces(self, prefix: str, now: int) -> dict[str, Any]:
        names = [name for name in self.data if self.live(name, now) and utf8(name).startswith(utf8(prefix))]
        return {"namespaces": sorted(names, key=utf8)}

    def clear(self, namespace: str, now: int) -> int:
        """How many keys a clear (repeated until done) deletes in total."""
        deleted = len(self.live(namespace, now))
        self.data.pop(namespace, None)
        return deleted

    def get_many(
        self, namespace: str, keys: list[str], agent: str, now: int, track_access: bool | None = None
    ) -> dict[str, Any]:
        values, missing = {}, []
        for key in dict.fromkeys(keys):  # duplicates are read once
            entry = self.entry(namespace, key, now)
            if entry is None:
                missing.append(key)
            else:
                self._read(entry, agent, track_access)
                values[key] = entry.value
        return {"values": values, "missing": missing, "unprocessed": []}

    def set_many(
        self,
        namespace: str,
        items: dict[str, Any],
        agent: str,
        now: int,
        metadata: dict[str, Any] | None = None,
        ttl_seconds: int | None = None,
    ) -> dict[str, Any]:
        versions = {
            key: self._write(namespace, key, value, agent, now, metadata, ttl_seconds).version
            for key, value in items.items()
        }
        return {"written": len(versions), "versions": versions}

    def increment(
        self, namespace: str, key: str, by: int | float, agent: str, now: int, ttl_seconds: int | None = None
    ) -> dict[str, Any]:
        old = self.entry(namespace, key, now)
        start = 0 if old is None else old.value
        if not is_number(start):
            raise Refused("not_a_number")
        value = start + by
        if isinstance(value, float) and not math.isfinite(value):
            raise Refused("invalid_value")
        entry = self._write(namespace, key, value, agent, now, None, ttl_seconds)
        return {"value": value, "version": entry.version}

    def stats(self, now: int, namespace: str | None = None, *, updated_from_live: bool = False) -> dict[str, Any]:
        """`updated_from_live`: updatedAt is the newest live record's (CouchDB's documented reading),
        not the namespace's latest write (docs/contract-notes.md, `stats.updatedAt`)."""
        rows = []
        for name in sorted(self.data, key=utf8):
            records = self.live(name, now)
            if not records or (namespace is not None and name != namespace):
                continue
            newest = max(entry.updated_at for entry in records.values())
            rows.append(
                {
                    "namespace": name,
                    "keys": len(records),
                    "bytes": sum(entry.size for entry in records.values()),
                    "updatedAt": timestamp(newest if updated_from_live else self.last_write[name]),
                }
            )
        return {"namespaces": rows}
