"""The record and the pure rules that change it (API.md section 2).

Every backend runs these functions inside its own atomic unit (a SQLite
transaction, a Firestore transaction, a CouchDB `_rev` retry loop, ...), so
the merge, versioning and tracking rules are written exactly once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from agent_datastore.core.errors import InvalidValue, NotANumber, ValueTooLarge, VersionConflict
from agent_datastore.core.jsonutil import dumps, is_finite_double, utf8_len

# Re-exported for admin/gofannon, which reads it from here.
from agent_datastore.core.limits import MAX_METADATA_BYTES as MAX_METADATA_BYTES


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def format_ts(ms: int | None) -> str | None:
    """RFC 3339 UTC with milliseconds: 2026-11-30T12:00:00.000Z."""
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    # Formatted field by field: strftime costs twice as much, and a page of records formats three
    # timestamps per record. The year always has four digits (strftime leaves years < 1000 short).
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{ms % 1000:03d}Z"
    )


# Epoch milliseconds whose format_ts is 24 characters: years 1970 to 9999.
_YEAR_10000 = 253_402_300_800_000


def _same_width(ms: int | None) -> str | None:
    """A stand-in of the same length as `format_ts(ms)`, made without formatting a date."""
    if ms is None:
        return None
    return "0" * 24 if 0 <= ms < _YEAR_10000 else format_ts(ms)


def parse_ts(text: str) -> int:
    """Inverse of format_ts; also takes timestamps without a zone (read as UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Scope:
    """One user's namespace: every store call is confined to one."""

    user_id: str
    namespace: str


@dataclass(frozen=True)
class Record:
    user_id: str
    namespace: str
    key: str
    value_json: str
    metadata: dict[str, Any] = field(default_factory=dict)
    created_by_agent: str = ""
    last_accessed_by_agent: str = ""
    access_count: int = 0
    created_at: int = 0
    updated_at: int = 0
    version: int = 1
    expires_at: int | None = None
    # The TTL the last write asked for, kept so that `refresh_ttl` can move the expiry by it.
    # Not part of the answers (API.md section 2 does not list it); export and import carry it.
    # None: no TTL, or a record written before the store kept it (refresh leaves those alone).
    ttl_seconds: int | None = None

    @property
    def value(self) -> Any:
        return json.loads(self.value_json)

    @property
    def metadata_json(self) -> str:
        return dumps(self.metadata) if self.metadata else "{}"

    @property
    def size(self) -> int:
        """Stored bytes as `stats` counts them: value + metadata as compact JSON."""
        return utf8_len(self.value_json) + utf8_len(self.metadata_json)

    def is_live(self, now: int) -> bool:
        return self.expires_at is None or now < self.expires_at

    def to_dict(self) -> dict[str, Any]:
        """The record as the answers show it (API.md section 2)."""
        return self._answer(self.value, format_ts)

    @property
    def answer_size(self) -> int:
        """Bytes of `to_dict()` as compact JSON, counted without parsing the value or
        formatting the timestamps (a page of records sizes each one)."""
        return utf8_len(dumps(self._answer(None, _same_width))) - len("null") + utf8_len(self.value_json)

    def _answer(self, value: Any, timestamp: Callable[[int | None], str | None]) -> dict[str, Any]:
        return {
            "userId": self.user_id,
            "namespace": self.namespace,
            "key": self.key,
            "value": value,
            "metadata": self.metadata,
            "createdByAgent": self.created_by_agent,
            "lastAccessedByAgent": self.last_accessed_by_agent,
            "accessCount": self.access_count,
            "createdAt": timestamp(self.created_at),
            "updatedAt": timestamp(self.updated_at),
            "version": self.version,
            "expiresAt": timestamp(self.expires_at),
        }

    def to_export_dict(self) -> dict[str, Any]:
        """`to_dict()` plus `ttlSeconds` when the record has one: every field, for export."""
        data = self.to_dict()
        if self.ttl_seconds is not None:
            data["ttlSeconds"] = self.ttl_seconds
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """Inverse of to_dict and to_export_dict (used by import)."""
        expires = data.get("expiresAt")
        ttl = data.get("ttlSeconds")
        return cls(
            user_id=data["userId"],
            namespace=data["namespace"],
            key=data["key"],
            value_json=dumps(data.get("value")),
            metadata=dict(data.get("metadata") or {}),
            created_by_agent=data.get("createdByAgent") or "",
            last_accessed_by_agent=data.get("lastAccessedByAgent") or "",
            access_count=int(data.get("accessCount") or 0),
            created_at=parse_ts(data["createdAt"]),
            updated_at=parse_ts(data["updatedAt"]),
            version=int(data.get("version") or 1),
            expires_at=parse_ts(expires) if expires else None,
            ttl_seconds=_ttl_member(ttl),
        )


def _ttl_member(ttl: Any) -> int | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
        raise ValueError(f"ttlSeconds must be a positive integer, not {ttl!r}")
    return ttl


@dataclass(frozen=True)
class Write:
    """One write of a value as asked for by `set`, `set_many` or `increment`.

    `expires_at` is the `now` the store is given plus the TTL asked for (the
    service computes both from one clock reading), so the record's TTL is
    the span between them (`ttl_of`).
    """

    value_json: str
    agent: str
    metadata: dict[str, Any] | None = None  # None: keep the stored metadata
    expires_at: int | None = None
    if_version: int | None = None


def ttl_of(write: Write, now: int) -> int | None:
    """The TTL in seconds that `write`, applied at `now`, asked for (None: no expiry)."""
    if write.expires_at is None:
        return None
    # Whole seconds when the expiry was computed from this `now`, as the service does.
    return max(1, round((write.expires_at - now) / 1000))


def stored_fields(record: Record) -> dict[str, Any]:
    """A record's fields besides its identity and value, as document backends store
    them: metadata as compact JSON text (key order and numbers kept whatever the
    database's JSON does), times as epoch milliseconds, and `size` for the registry.
    Documents written before `ttl_seconds` existed lack it: read as None."""
    return {
        "metadata": record.metadata_json,
        "created_by_agent": record.created_by_agent,
        "last_accessed_by_agent": record.last_accessed_by_agent,
        "access_count": record.access_count,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "version": record.version,
        "expires_at": record.expires_at,
        "size": record.size,
        "ttl_seconds": record.ttl_seconds,
    }


STORED_FIELDS = (
    "metadata",
    "created_by_agent",
    "last_accessed_by_agent",
    "access_count",
    "created_at",
    "updated_at",
    "version",
    "expires_at",
    "size",
    "ttl_seconds",
)


def record_from_fields(scope: Scope, key: str, value_json: str, fields: Mapping[str, Any]) -> Record:
    """Inverse of `stored_fields`."""
    return Record(
        user_id=scope.user_id,
        namespace=scope.namespace,
        key=key,
        value_json=value_json,
        metadata=json.loads(fields["metadata"]),
        created_by_agent=fields["created_by_agent"],
        last_accessed_by_agent=fields["last_accessed_by_agent"],
        access_count=fields["access_count"],
        created_at=fields["created_at"],
        updated_at=fields["updated_at"],
        version=fields["version"],
        expires_at=fields.get("expires_at"),
        ttl_seconds=fields.get("ttl_seconds"),
    )


def check_version(key: str, existing: Record | None, if_version: int | None) -> None:
    current = existing.version if existing else 0
    if if_version is not None and current != if_version:
        raise VersionConflict(key, current, if_version)


def merge_metadata(stored: dict[str, Any], patch: dict[str, Any] | None) -> dict[str, Any]:
    """Top-level merge: new members win, a member given as null is removed."""
    merged = dict(stored)
    for name, item in (patch or {}).items():
        if item is None:
            merged.pop(name, None)
        else:
            merged[name] = item
    if utf8_len(dumps(merged)) > MAX_METADATA_BYTES:
        raise ValueTooLarge(f"metadata after merging exceeds {MAX_METADATA_BYTES} bytes")
    return merged


def apply_write(scope: Scope, key: str, existing: Record | None, write: Write, now: int) -> Record:
    """The record after `write`; `existing` must be the live record or None."""
    check_version(key, existing, write.if_version)
    if existing is None:
        return Record(
            user_id=scope.user_id,
            namespace=scope.namespace,
            key=key,
            value_json=write.value_json,
            metadata=merge_metadata({}, write.metadata),
            created_by_agent=write.agent,
            last_accessed_by_agent=write.agent,
            access_count=0,
            created_at=now,
            updated_at=now,
            version=1,
            expires_at=write.expires_at,
            ttl_seconds=ttl_of(write, now),
        )
    return replace(
        existing,
        value_json=write.value_json,
        metadata=merge_metadata(existing.metadata, write.metadata),
        last_accessed_by_agent=write.agent,
        updated_at=max(now, existing.updated_at),
        version=existing.version + 1,
        expires_at=write.expires_at,
        ttl_seconds=ttl_of(write, now),
    )


def increment_value(key: str, existing: Record | None, by: int | float) -> str:
    """The JSON text of the incremented value (NotANumber / InvalidValue)."""
    if existing is None:
        return dumps(by)
    current = existing.value
    if isinstance(current, bool) or not isinstance(current, (int, float)):
        raise NotANumber(f"key {key!r} holds a {json_type(current)}, not a number")
    result = current + by
    if not is_finite_double(result):
        raise InvalidValue(f"incrementing key {key!r} gives a number that is not finite")
    return dumps(result)


def increment_write(key: str, existing: Record | None, by: int | float, agent: str, expires_at: int | None) -> Write:
    """`increment` is a write like any other: of the incremented number, metadata kept."""
    return Write(increment_value(key, existing, by), agent, None, expires_at)


def apply_read(record: Record, reader: str | None, refresh_at: int | None = None) -> Record:
    """What one read changes: access tracking (`reader` None means track_access: false) and,
    with `refresh_at` (the read's `now`, when it asks for refresh_ttl), the expiry moved to
    `refresh_at` + the record's TTL. A refresh is a write of the expiry only: version and
    updatedAt stay, and a record without a kept TTL is left as it is. Returns `record` itself
    when the read changes nothing, so a backend knows it has nothing to write."""
    changes: dict[str, Any] = {}
    if reader is not None:
        changes.update(access_count=record.access_count + 1, last_accessed_by_agent=reader)
    if refresh_at is not None and record.ttl_seconds is not None:
        changes["expires_at"] = refresh_at + record.ttl_seconds * 1000
    return replace(record, **changes) if changes else record


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass(frozen=True)
class NamespaceStats:
    namespace: str
    keys: int
    bytes: int
    updated_at: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "keys": self.keys,
            "bytes": self.bytes,
            "updatedAt": format_ts(self.updated_at),
        }
