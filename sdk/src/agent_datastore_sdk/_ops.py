"""Every SDK method as a plan: a generator that yields calls and receives answers.

Written once, driven twice: `DataStore` runs a plan with a blocking
transport, `AsyncDataStore` with an async one. A plan yields `Call` (send it,
send me the answer) or `Sleep` (wait, then send me None) and returns the
method's result. No I/O happens here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, Union

from . import errors
from .transports.base import Call

T = TypeVar("T")

# The contract's limits: the core's own (core/limits.py), copied because the SDK
# installs without it; tests/sdk/test_core_tables.py holds the two equal.
DEFAULT_NAMESPACE = "default"
MAX_BATCH = 100
MAX_PAGE = 1000
MAX_KEY_BYTES = 1024
MAX_VALUE_BYTES = 1024 * 1024
MAX_BODY_BYTES = 6 * 1024 * 1024
MAX_DEPTH = 64
# Room in a set_many body for the envelope: namespace, member names, braces.
BODY_SLACK = 2048
# get_many rounds in a row that read nothing before giving up.
MAX_STALLED_ROUNDS = 6


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step = Union[Call, Sleep]  # noqa: UP007 - a runtime alias
Plan = Generator[Step, Any, T]


@dataclass(frozen=True)
class Record:
    """A stored record as `get_record` and `iter_records` return it (API.md section 2)."""

    namespace: str
    key: str
    value: Any
    metadata: dict[str, Any]
    created_by_agent: str
    last_accessed_by_agent: str
    access_count: int
    created_at: datetime
    updated_at: datetime
    version: int
    expires_at: datetime | None
    user_id: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        return cls(
            namespace=data["namespace"],
            key=data["key"],
            value=data.get("value"),
            metadata=dict(data.get("metadata") or {}),
            created_by_agent=data.get("createdByAgent", ""),
            last_accessed_by_agent=data.get("lastAccessedByAgent", ""),
            access_count=int(data.get("accessCount", 0)),
            created_at=parse_timestamp(data["createdAt"]),
            updated_at=parse_timestamp(data["updatedAt"]),
            version=int(data["version"]),
            expires_at=parse_timestamp(data["expiresAt"]) if data.get("expiresAt") else None,
            user_id=data.get("userId", ""),
        )


@dataclass(frozen=True)
class NamespaceStats:
    namespace: str
    keys: int
    bytes: int
    updated_at: datetime | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NamespaceStats:
        updated = data.get("updatedAt")
        when = parse_timestamp(updated) if updated else None
        return cls(data["namespace"], int(data["keys"]), int(data["bytes"]), when)


def parse_timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- encoding ----------------------------------------------------------------


def dumps(value: Any) -> str:
    """Compact JSON; a value JSON cannot carry raises here, before anything is sent.

    Not serialisable (a set, an object): TypeError, as the original `data_store`
    documents. NaN/Infinity, lone surrogates, cycles: InvalidValue (a ValueError).
    """
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except TypeError:
        raise
    except ValueError as exc:
        raise errors.InvalidValue(f"value cannot be stored as JSON: {exc}") from None
    return text


def encode(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.InvalidValue("strings must be valid UTF-8 (a lone surrogate was found)") from None


def make_call(operation: str, body: dict[str, Any], *, idempotent: bool = True) -> Call:
    return Call(operation, body, encode(dumps(body)), idempotent)


def ttl_seconds(ttl: int | float | timedelta | None) -> int | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool):
        raise TypeError("ttl must be a number of seconds or a timedelta")
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else ttl
    if not isinstance(seconds, (int, float)):
        raise TypeError("ttl must be a number of seconds or a timedelta")
    return math.ceil(seconds)


def _depth(value: Any) -> int:
    """Nesting depth as the contract counts it: a scalar is 0, `[]` is 1."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            level += 1
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((child, level) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def check_key(key: Any) -> None:
    if not isinstance(key, str):
        raise errors.InvalidKey(f"keys must be strings, not {type(key).__name__}")
    size = len(encode(key))
    if not 1 <= size <= MAX_KEY_BYTES or "\x00" in key:
        raise errors.InvalidKey(f"key must be 1-{MAX_KEY_BYTES} bytes of UTF-8 without NUL, got {size} bytes")


# -- plans -------------------------------------------------------------------


def read_flags(body: dict[str, Any], track_access: bool, refresh_ttl: bool) -> dict[str, Any]:
    """`body` with the members of a read that differ from the server's defaults."""
    if not track_access:
        body["track_access"] = False
    if refresh_ttl:
        body["refresh_ttl"] = True
    return body


def get(namespace: str, key: str, default: Any, track_access: bool, refresh_ttl: bool = False) -> Plan[Any]:
    body = read_flags({"namespace": namespace, "key": key}, track_access, refresh_ttl)
    answer = yield make_call("get", body)
    return answer["value"] if answer.get("found") else default


def get_record(namespace: str, key: str, track_access: bool, refresh_ttl: bool = False) -> Plan[Record | None]:
    body = read_flags({"namespace": namespace, "key": key, "include_record": True}, track_access, refresh_ttl)
    answer = yield make_call("get", body)
    return Record.from_dict(answer["record"]) if answer.get("found") else None


def set_(
    namespace: str,
    key: str,
    value: Any,
    metadata: Mapping[str, Any] | None,
    ttl: int | float | timedelta | None,
    if_version: int | None,
) -> Plan[int]:
    body: dict[str, Any] = {"namespace": namespace, "key": key, "value": value}
    if metadata is not None:
        body["metadata"] = dict(metadata)
    seconds = ttl_seconds(ttl)
    if seconds is not None:
        body["ttl_seconds"] = seconds
    if if_version is not None:
        body["if_version"] = if_version
    # With if_version a repeat of an applied write reports a conflict with itself.
    answer = yield make_call("set", body, idempotent=if_version is None)
    return int(answer["version"])


def delete(namespace: str, key: str, if_version: int | None) -> Plan[bool]:
    body: dict[str, Any] = {"namespace": namespace, "key": key}
    if if_version is not None:
        body["if_version"] = if_version
    answer = yield make_call("delete", body, idempotent=if_version is None)
    return bool(answer["deleted"])


def increment(namespace: str, key: str, by: int | float, ttl: int | float | timedelta | None) -> Plan[int | float]:
    if isinstance(by, bool) or not isinstance(by, (int, float)):
        raise TypeError("increment takes a number")
    body: dict[str, Any] = {"namespace": namespace, "key": key, "by": by}
    seconds = ttl_seconds(ttl)
    if seconds is not None:
        body["ttl_seconds"] = seconds
    answer = yield make_call("increment", body, idempotent=False)
    value: int | float = answer["value"]
    return value


def list_page(
    namespace: str,
    prefix: str | None,
    cursor: str | None,
    limit: int | None = None,
    include_values: bool = False,
    track_access: bool = True,
    *,
    include_records: bool = False,
    refresh_ttl: bool = False,
) -> Plan[dict[str, Any]]:
    """One `list_keys` call: its answer as the server gave it (`records` with include_records)."""
    body: dict[str, Any] = {"namespace": namespace}
    if prefix:
        body["prefix"] = prefix
    if limit is not None:
        body["limit"] = limit
    if cursor is not None:
        body["cursor"] = cursor
    if include_records:
        body["include_records"] = True  # a listing: never counted as reads
    elif include_values:
        body["include_values"] = True
        if not track_access:
            body["track_access"] = False
    if refresh_ttl and (include_records or include_values):
        body["refresh_ttl"] = True
    answer: dict[str, Any] = yield make_call("list_keys", body)
    return answer


def records_page(
    namespace: str, prefix: str | None, cursor: str | None, limit: int | None, refresh_ttl: bool
) -> Plan[tuple[list[Record], str | None]]:
    """One page of whole records, in key order, and the cursor of the next (None: the last)."""
    page = yield from list_page(namespace, prefix, cursor, limit, include_records=True, refresh_ttl=refresh_ttl)
    found = page.get("records") or {}
    records = [Record.from_dict(found[key]) for key in page["keys"] if key in found]
    return records, page.get("next_cursor") or None


def list_keys(namespace: str, prefix: str | None) -> Plan[list[str]]:
    keys: list[str] = []
    cursor: str | None = None
    while True:
        page = yield from list_page(namespace, prefix, cursor)
        keys.extend(page["keys"])
        cursor = page.get("next_cursor")
        if not cursor:
            return keys


def get_all(namespace: str, prefix: str | None, track_access: bool) -> Plan[dict[str, Any]]:
    values: dict[str, Any] = {}
    cursor: str | None = None
    while True:
        page = yield from list_page(namespace, prefix, cursor, include_values=True, track_access=track_access)
        page_values = page.get("values") or {}
        for key in page["keys"]:
            if key in page_values:
                values[key] = page_values[key]
        cursor = page.get("next_cursor")
        if not cursor:
            return values


def list_namespaces(prefix: str | None) -> Plan[list[str]]:
    body: dict[str, Any] = {}
    if prefix:
        body["prefix"] = prefix
    answer = yield make_call("list_namespaces", body)
    return list(answer["namespaces"])


def clear(namespace: str) -> Plan[int]:
    deleted = 0
    while True:
        answer = yield make_call("clear", {"namespace": namespace})
        deleted += int(answer.get("deleted", 0))
        if answer.get("done", True):
            return deleted


def get_many(
    namespace: str, keys: Iterable[str], track_access: bool, refresh_ttl: bool = False
) -> Plan[dict[str, Any]]:
    wanted = list(dict.fromkeys(keys))  # the order asked, each key once
    for key in wanted:
        check_key(key)
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), MAX_BATCH):
        pending = wanted[start : start + MAX_BATCH]
        stalled = 0
        while pending:
            body = read_flags({"namespace": namespace, "keys": pending}, track_access, refresh_ttl)
            answer = yield make_call("get_many", body)
            found.update(answer.get("values") or {})
            unprocessed = [key for key in answer.get("unprocessed") or [] if key in set(pending)]
            if unprocessed and len(unprocessed) == len(pending):
                stalled += 1
                if stalled > MAX_STALLED_ROUNDS:
                    raise errors.BackendUnavailable(f"get_many made no progress on {len(unprocessed)} keys")
                yield Sleep(min(0.05 * 2**stalled, 2.0))
            else:
                stalled = 0
            pending = unprocessed
    return {key: found[key] for key in wanted if key in found}


def set_many(
    namespace: str,
    items: Mapping[str, Any] | Iterable[tuple[str, Any]],
    metadata: Mapping[str, Any] | None,
    ttl: int | float | timedelta | None,
) -> Plan[int]:
    pairs = dict(items.items() if isinstance(items, Mapping) else items)
    meta_text = dumps(dict(metadata)) if metadata is not None else ""
    budget = MAX_BODY_BYTES - BODY_SLACK - len(encode(meta_text)) - len(encode(dumps(namespace)))
    # Check every item before the first chunk is sent, so that a bad item late
    # in a large batch does not leave the earlier chunks written.
    chunks: list[dict[str, Any]] = []
    chunk: dict[str, Any] = {}
    chunk_bytes = 0
    for key, value in pairs.items():
        check_key(key)
        value_bytes = len(encode(dumps(value)))
        if value_bytes > MAX_VALUE_BYTES:
            raise errors.ValueTooLarge(f"value of {key!r} is {value_bytes} bytes; the limit is {MAX_VALUE_BYTES}")
        if _depth(value) > MAX_DEPTH:
            raise errors.InvalidValue(f"value of {key!r} is nested deeper than {MAX_DEPTH} levels")
        cost = len(encode(dumps(key))) + value_bytes + 2
        if chunk and (len(chunk) >= MAX_BATCH or chunk_bytes + cost > budget):
            chunks.append(chunk)
            chunk, chunk_bytes = {}, 0
        chunk[key] = value
        chunk_bytes += cost
    if chunk:
        chunks.append(chunk)
    seconds = ttl_seconds(ttl)
    written = 0
    for part in chunks:
        body: dict[str, Any] = {"namespace": namespace, "items": part}
        if metadata is not None:
            body["metadata"] = dict(metadata)
        if seconds is not None:
            body["ttl_seconds"] = seconds
        answer = yield make_call("set_many", body)
        written += int(answer["written"])
    return written


def stats(namespace: str | None) -> Plan[list[NamespaceStats]]:
    body: dict[str, Any] = {} if namespace is None else {"namespace": namespace}
    answer = yield make_call("stats", body)
    return [NamespaceStats.from_dict(row) for row in answer["namespaces"]]
