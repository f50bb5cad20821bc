"""Documents of the original Gofannon `agent_data_store`, turned into Records.

The original keeps one document per record with the members userId,
namespace, key, value, metadata, createdByAgent, lastAccessedByAgent,
accessCount, createdAt, updatedAt (ISO 8601 without a zone, read as UTC,
e.g. `2026-03-04T01:06:36.525056`) and sometimes lastAccessedAt. Accepted
shapes (docs/admin.md), detected per file and per document:

- CouchDB: `GET /agent_data_store/_all_docs?include_docs=true` output
  (`{"rows": [{"doc": {...}}]}`), a `_find` answer (`{"docs": [...]}`), a
  JSON array of documents, or one document per line. `_id`, `_rev` and
  design documents are ignored: the id is rebuilt from the fields, so ids of
  the ambiguous old form `{userId}:{namespace}:{base64(key)}` do not matter.
- Firestore: plain documents (`doc.to_dict()` as JSON), or the REST shape
  (`{"documents": [{"name", "fields": {"userId": {"stringValue": ...}}}]}`,
  or one such document a line) with typed values decoded.
- DynamoDB: `aws dynamodb scan --output json` (`{"Items": [...]}`), or an
  export to S3 in DynamoDB JSON (`{"Item": {...}}` a line), typed attribute
  values (`{"S": ...}`, `{"N": ...}`, `{"M": ...}`, ...) decoded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from agent_datastore.core.jsonutil import dumps, utf8_len
from agent_datastore.core.limits import MAX_KEY_BYTES, MAX_NAMESPACE_BYTES, MAX_VALUE_BYTES
from agent_datastore.core.records import MAX_METADATA_BYTES, Record, now_ms, parse_ts

DYNAMO_TYPES = {"S", "N", "BOOL", "NULL", "M", "L", "SS", "NS", "BS", "B"}
FIRESTORE_TYPES = {
    "stringValue",
    "integerValue",
    "doubleValue",
    "booleanValue",
    "nullValue",
    "mapValue",
    "arrayValue",
    "timestampValue",
    "referenceValue",
    "bytesValue",
    "geoPointValue",
}


class Skipped(ValueError):
    """This document is not a record of the original store (a design document, ...)."""


def documents(text: str) -> Iterator[Any]:
    """Every document in an export file, whichever accepted shape it has."""
    stripped = text.strip()
    if not stripped:
        return
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        for line in stripped.splitlines():
            if line.strip():
                yield from _unwrap(json.loads(line))
        return
    yield from _unwrap(whole)


def _unwrap(data: Any) -> Iterator[Any]:
    if isinstance(data, list):
        for item in data:
            yield from _unwrap(item)
    elif isinstance(data, dict):
        for container in ("rows", "docs", "documents", "Items"):
            if isinstance(data.get(container), list) and "userId" not in data:
                for item in data[container]:
                    yield from _unwrap(item)
                return
        if "doc" in data and "userId" not in data:  # an _all_docs row
            if data.get("doc") is not None:
                yield data["doc"]
        elif "Item" in data and "userId" not in data:  # DynamoDB export line
            yield data["Item"]
        else:
            yield data
    else:
        yield data


def _dynamo(value: dict[str, Any]) -> Any:
    ((kind, item),) = value.items()
    if kind == "S" or kind == "B":
        return item
    if kind == "N":
        return _number(item)
    if kind == "BOOL":
        return bool(item)
    if kind == "NULL":
        return None
    if kind == "M":
        return {name: _dynamo(member) for name, member in item.items()}
    if kind == "L":
        return [_dynamo(member) for member in item]
    if kind == "NS":
        return [_number(member) for member in item]
    return list(item)  # SS, BS


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def _firestore(value: dict[str, Any]) -> Any:
    ((kind, item),) = value.items()
    if kind == "integerValue":
        return int(item)
    if kind == "doubleValue":
        return float(item)
    if kind == "nullValue":
        return None
    if kind == "mapValue":
        return {name: _firestore(member) for name, member in (item.get("fields") or {}).items()}
    if kind == "arrayValue":
        return [_firestore(member) for member in (item.get("values") or [])]
    return item  # strings, booleans, timestamps (RFC 3339 text), references, bytes (base64), geo points


def _is_typed(doc: dict[str, Any], types: set[str]) -> bool:
    return bool(doc) and all(
        isinstance(item, dict) and len(item) == 1 and next(iter(item)) in types for item in doc.values()
    )


def plain(doc: Any) -> dict[str, Any]:
    """The document as plain JSON members (typed DynamoDB / Firestore values decoded)."""
    if not isinstance(doc, dict):
        raise ValueError("a document must be a JSON object")
    if isinstance(doc.get("fields"), dict) and "userId" not in doc:  # Firestore REST document
        return {name: _firestore(item) for name, item in doc["fields"].items()}
    if isinstance(doc.get("userId"), dict) and _is_typed(doc, DYNAMO_TYPES):
        return {name: _dynamo(item) for name, item in doc.items()}
    if isinstance(doc.get("userId"), dict) and _is_typed(doc, FIRESTORE_TYPES):
        return {name: _firestore(item) for name, item in doc.items()}
    return doc


def timestamp(value: Any, fallback: int | None = None) -> int:
    """Epoch milliseconds from ISO 8601 (zone or none = UTC, any fraction) or epoch seconds/ms."""
    if value is None or value == "":
        if fallback is None:
            raise ValueError("timestamp missing")
        return fallback
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, (int, float)):
        return int(value) if value > 100_000_000_000 else round(value * 1000)
    if isinstance(value, dict) and "seconds" in value:  # Firestore Timestamp as a dict
        return int(value["seconds"]) * 1000 + int(value.get("nanos", 0)) // 1_000_000
    text = str(value).strip().replace(" ", "T", 1)
    if "." in text:  # Python before 3.11 and Firestore nanoseconds: keep microseconds at most
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{(digits + '000000')[:6]}{zone}"
    return parse_ts(text)


def to_record(doc: Any, *, user_map: dict[str, str] | None = None, now: int | None = None) -> Record:
    """One original document as a Record (version 1 unless the document has one)."""
    data = plain(doc)
    doc_id = str(data.get("_id", ""))
    if doc_id.startswith("_design/") or doc_id.startswith("_local/"):
        raise Skipped(f"{doc_id} is not a record")
    for name in ("userId", "namespace", "key"):
        if not isinstance(data.get(name), str):
            raise ValueError(f"member {name!r} missing or not a string")
    user_id = (user_map or {}).get(data["userId"], data["userId"])
    namespace, key = data["namespace"] or "default", data["key"]
    _check_name("key", key, MAX_KEY_BYTES)
    _check_name("namespace", namespace, MAX_NAMESPACE_BYTES)
    value_json = dumps(data.get("value"))
    if utf8_len(value_json) > MAX_VALUE_BYTES:
        raise ValueError(f"value of {key!r} is larger than {MAX_VALUE_BYTES} bytes")
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ValueError("metadata must be a JSON object")
    metadata = {name: item for name, item in metadata.items() if item is not None}
    if utf8_len(dumps(metadata)) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata of {key!r} is larger than {MAX_METADATA_BYTES} bytes")
    current = now if now is not None else now_ms()
    created = timestamp(data.get("createdAt"), timestamp(data.get("updatedAt"), current))
    updated = timestamp(data.get("updatedAt"), created)
    expires = data.get("expiresAt")
    created_by = str(data.get("createdByAgent") or "")
    access_count = data.get("accessCount") or 0
    if isinstance(access_count, bool) or not isinstance(access_count, (int, float)) or access_count < 0:
        raise ValueError(f"accessCount must be a number >= 0, not {access_count!r}")
    return Record(
        user_id=user_id,
        namespace=namespace,
        key=key,
        value_json=value_json,
        metadata=metadata,
        created_by_agent=created_by,
        last_accessed_by_agent=str(data.get("lastAccessedByAgent") or created_by),
        access_count=int(access_count),
        created_at=created,
        updated_at=max(updated, created),
        version=int(data.get("version") or 1),
        expires_at=timestamp(expires) if expires else None,
    )


def _check_name(what: str, text: str, limit: int) -> None:
    if not text or utf8_len(text) > limit or "\x00" in text:
        raise ValueError(f"{what} {text[:80]!r} is not 1-{limit} bytes without NUL")
