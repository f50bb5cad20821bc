"""Records as NDJSON: one `Record.to_export_dict()` object a line, every field (`ttlSeconds` too)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from agent_datastore.core.records import Record

Position = tuple[str, str, str]  # (user_id, namespace, key) of the last record written


def record_line(record: Record) -> str:
    return json.dumps(record.to_export_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"


def position(record: Record) -> Position:
    return (record.user_id, record.namespace, record.key)


def position_key(pos: Position) -> tuple[bytes, bytes, bytes]:
    """Order of export: user, namespace, key, each by UTF-8 bytes."""
    return (pos[0].encode("utf-8"), pos[1].encode("utf-8"), pos[2].encode("utf-8"))


def parse_position(text: str) -> Position:
    """`--after` takes the JSON array ["user", "namespace", "key"] printed by an export."""
    data = json.loads(text)
    if not (isinstance(data, list) and len(data) == 3 and all(isinstance(item, str) for item in data)):
        raise ValueError('--after must be a JSON array ["userId", "namespace", "key"]')
    return (data[0], data[1], data[2])


def resume_file(path: str) -> Position | None:
    """Last complete record of an interrupted export; a torn last line is cut off."""
    try:
        handle = open(path, "rb+")  # noqa: SIM115 - truncated in place below
    except FileNotFoundError:
        return None
    with handle:
        data = handle.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            handle.truncate(end)
        lines = data[:end].splitlines()
    if not lines:
        return None
    return position(Record.from_dict(json.loads(lines[-1])))


def read_records(lines: Iterable[str]) -> Iterator[tuple[int, Record | Exception]]:
    """(line number, record or the error that line gave); blank lines are skipped."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("a line must be a JSON object")
            yield number, Record.from_dict(data)
        except (ValueError, KeyError, TypeError) as exc:
            yield number, exc


def fingerprint(record: Record) -> int:
    """Digest of every field, as an integer (summed, so order does not matter)."""
    fields: list[Any] = [
        record.user_id,
        record.namespace,
        record.key,
        record.value_json,
        record.metadata_json,
        record.created_by_agent,
        record.last_accessed_by_agent,
        record.access_count,
        record.created_at,
        record.updated_at,
        record.version,
        record.expires_at,
    ]
    if record.ttl_seconds is not None:  # records without one keep the digest they had before it existed
        fields.append(record.ttl_seconds)
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big")


class Checksum:
    """Count and order-independent checksum of a set of records."""

    MOD = 1 << 256

    def __init__(self) -> None:
        self.count = 0
        self.total = 0

    def add(self, record: Record) -> None:
        self.count += 1
        self.total = (self.total + fingerprint(record)) % self.MOD

    @property
    def hex(self) -> str:
        return f"{self.total:064x}"
