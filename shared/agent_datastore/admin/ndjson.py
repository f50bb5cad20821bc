"""Records as NDJSON: one `Record.to_export_dict()` object a line, every field (`ttlSeconds` too)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from agent_datastore.core.records import Record, parse_ts

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
    return position(parse_line(lines[-1].decode("utf-8")))


class BadLine(ValueError):
    """A line that is not one exported record; the message names the field and what is wrong."""


# Members of an exported record: JSON types each may have (None: may be null or absent).
_TEXT = ("userId", "namespace", "key")
_TIMES = ("createdAt", "updatedAt")
_OPTIONAL: dict[str, tuple[type, ...]] = {
    "metadata": (dict,),
    "createdByAgent": (str,),
    "lastAccessedByAgent": (str,),
    "accessCount": (int,),
    "version": (int,),
    "expiresAt": (str,),
    "ttlSeconds": (int,),
}
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    for kind, name in _JSON_TYPES.items():
        if isinstance(value, kind):
            return name
    return "a number"


def parse_line(line: str) -> Record:
    """One NDJSON line as a record, or `BadLine` naming the field at fault."""
    try:
        data = json.loads(line.rstrip("\r\n"))
    except ValueError as exc:
        detail = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise BadLine(f"not JSON ({detail})") from None
    if not isinstance(data, dict):
        raise BadLine(f"a line must be a JSON object, not {_json_type(data)}")
    for name in (*_TEXT, *_TIMES):
        if name not in data:
            raise BadLine(f"missing field {name!r}")
        if not isinstance(data[name], str):
            raise BadLine(f"field {name!r} must be a string, not {_json_type(data[name])}")
    for name, kinds in _OPTIONAL.items():
        value = data.get(name)
        wrong = value is not None and (not isinstance(value, kinds) or (kinds == (int,) and isinstance(value, bool)))
        if wrong:
            raise BadLine(f"field {name!r} must be {_JSON_TYPES[kinds[0]]} or null, not {_json_type(value)}")
    for name in (*_TIMES, "expiresAt"):
        if data.get(name) is not None:
            try:
                parse_ts(data[name])
            except ValueError:
                raise BadLine(f"field {name!r} is not an RFC 3339 timestamp: {data[name][:40]!r}") from None
    try:
        return Record.from_dict(data)
    except (ValueError, KeyError, TypeError) as exc:  # a rule of the record itself (e.g. ttlSeconds < 1)
        raise BadLine(str(exc)) from None


def read_records(lines: Iterable[str]) -> Iterator[tuple[int, Record | Exception]]:
    """(line number, record or the `BadLine` that line gave); blank lines are skipped."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield number, parse_line(line)
        except BadLine as exc:
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
