"""DynamoDB item layout for `DynamoDBStore`: keys, attributes, large values.

One table, string hash key `pk` and string range key `sk`:

| item            | pk                                  | sk                         |
|-----------------|-------------------------------------|----------------------------|
| record          | `R#<len(user)>#<user>#<namespace>`  | the key, verbatim          |
| value chunk     | `C#<len(user)>#<user>#<namespace>`  | `<sha256(key)>#<gen>#<i>`  |
| namespace entry | `U#<user>`                          | the namespace, verbatim    |
| TTL removal     | `X#<len(user)>#<user>#<namespace>`  | the stream event's id      |

`len(user)` is the user id's length in UTF-8 bytes, so the user id ends at a
known offset and nothing a user id or namespace contains can make two
scopes share a partition (API.md section 7). The first letter separates
the kinds of item. A TTL removal item remembers, for two days, that the
stream consumer (`aws_ttl`) took one TTL-deleted record out of the
registry, so a redelivered stream event is not applied twice. The sort key of a record is the key itself, so a
Query returns keys in DynamoDB's string order, which is the order of their
UTF-8 bytes - the contract's order.

Values are kept as JSON text (never as DynamoDB maps or numbers, so no
`Decimal` and no change of number precision). Large values are compressed
with zlib; what is then above `INLINE_MAX` (4 KiB) goes to chunk
items named by a fresh generation id per write, and the record names the
generation it uses: a reader holding one version of the record can only
ever assemble that version's chunks.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

from agent_datastore.core.jsonutil import utf8_len
from agent_datastore.core.records import Record, Scope

# Values above this are worth compressing (smaller items cost fewer write units).
COMPRESS_ABOVE = 32 * 1024
# Bytes of value payload kept inside the record item; a larger value goes to chunk items.
# DynamoDB bills an UpdateItem by the whole item, so every counted read (an UpdateItem of the
# record) costs one write unit per KB of the record item: with values above 4 KiB out of it, a
# tracked read of any value costs ~1-5 write units plus the metadata's KBs (a 300 KB value kept
# inline cost 223), and a write of a large value is a plain BatchWriteItem of its chunks (1 unit
# per KB) instead of a transactional write (2 per KB). The price: values above 4 KiB take one more
# request to read (their chunks) and to overwrite (the old chunks' delete). Records written when
# this was 360,000 still hold values up to that inline; they read as before.
INLINE_MAX = 4096
# Bytes of payload in one chunk item.
CHUNK_BYTES = 380_000

RECORD_PREFIX = "R#"
CHUNK_PREFIX = "C#"
REGISTRY_PREFIX = "U#"
REMOVAL_PREFIX = "X#"

# Record attributes read when the value itself is not needed.
META_ATTRIBUTES = ["pk", "sk", "m", "cb", "la", "ac", "ca", "ua", "ver", "exp", "sz", "vn", "vg", "vz", "ts"]
# Record attributes only some records have (the value's form, an expiry, a kept TTL): a write
# removes those its new record lacks.
OPTIONAL_ATTRIBUTES = ("v", "vb", "vn", "vg", "vz", "exp", "ttl", "xu", "ts", "tm")


def scope_body(scope: Scope) -> str:
    return f"{utf8_len(scope.user_id)}#{scope.user_id}#{scope.namespace}"


def record_pk(scope: Scope) -> str:
    return RECORD_PREFIX + scope_body(scope)


def chunk_pk(scope: Scope) -> str:
    return CHUNK_PREFIX + scope_body(scope)


def registry_pk(user_id: str) -> str:
    return REGISTRY_PREFIX + user_id


def removal_key(scope: Scope, event_id: str) -> dict[str, Any]:
    """Key of the item recording that stream event `event_id` (a TTL removal) was applied."""
    return {"pk": {"S": REMOVAL_PREFIX + scope_body(scope)}, "sk": {"S": event_id}}


def parse_scope(pk: str) -> Scope:
    """Inverse of record_pk / chunk_pk."""
    body = pk[2:]
    length_text, _, rest = body.partition("#")
    raw = rest.encode("utf-8")
    length = int(length_text)
    user = raw[:length].decode("utf-8")
    if raw[length : length + 1] != b"#":
        raise ValueError(f"malformed partition key {pk!r}")
    return Scope(user, raw[length + 1 :].decode("utf-8"))


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def chunk_sk(key: str, generation: str, index: int) -> str:
    return f"{key_digest(key)}#{generation}#{index:04d}"


def record_key(scope: Scope, key: str) -> dict[str, Any]:
    return {"pk": {"S": record_pk(scope)}, "sk": {"S": key}}


def registry_key(scope: Scope) -> dict[str, Any]:
    return {"pk": {"S": registry_pk(scope.user_id)}, "sk": {"S": scope.namespace}}


def ttl_seconds(expires_at_ms: int) -> int:
    """The table's TTL attribute is epoch seconds; round up so DynamoDB never
    removes an item before the instant it expires."""
    return math.ceil(expires_at_ms / 1000)


@dataclass(frozen=True)
class Payload:
    """A value as stored: inline text, inline compressed bytes, or chunks."""

    inline_text: str | None = None
    inline_bytes: bytes | None = None
    chunks: tuple[bytes, ...] = ()
    compressed: bool = False
    generation: str = ""


def encode_value(value_json: str) -> Payload:
    raw = value_json.encode("utf-8")
    data, compressed = raw, False
    if len(raw) > COMPRESS_ABOVE:
        packed = zlib.compress(raw, 6)
        if len(packed) < len(raw) * 0.9:
            data, compressed = packed, True
    if len(data) <= INLINE_MAX:
        if compressed:
            return Payload(inline_bytes=data, compressed=True)
        return Payload(inline_text=value_json)
    chunks = tuple(data[offset : offset + CHUNK_BYTES] for offset in range(0, len(data), CHUNK_BYTES))
    return Payload(chunks=chunks, compressed=compressed, generation=uuid.uuid4().hex[:16])


def decode_chunks(chunks: list[bytes], compressed: bool) -> str:
    data = b"".join(chunks)
    return (zlib.decompress(data) if compressed else data).decode("utf-8")


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def record_item(scope: Scope, record: Record, payload: Payload) -> dict[str, Any]:
    item: dict[str, Any] = {
        **record_key(scope, record.key),
        "m": {"S": record.metadata_json},
        "cb": {"S": record.created_by_agent},
        "la": {"S": record.last_accessed_by_agent},
        "ac": _n(record.access_count),
        "ca": _n(record.created_at),
        "ua": _n(record.updated_at),
        "ver": _n(record.version),
        "sz": _n(record.size),
    }
    if payload.inline_text is not None:
        item["v"] = {"S": payload.inline_text}
    elif payload.inline_bytes is not None:
        item["vb"] = {"B": payload.inline_bytes}
    else:
        item["vn"] = _n(len(payload.chunks))
        item["vg"] = {"S": payload.generation}
        item["vz"] = {"BOOL": payload.compressed}
    if record.expires_at is not None:
        item["exp"] = _n(record.expires_at)
        item["ttl"] = _n(ttl_seconds(record.expires_at))
        # Sparse index of the user's expiring records (purge before listing).
        item["xu"] = {"S": registry_pk(scope.user_id)}
    if record.ttl_seconds is not None:
        # The TTL kept for refresh_ttl, in seconds and in milliseconds: a read's UpdateItem moves
        # `exp` to now + `tm` and `ttl` to ceil(now / 1000) + `ts` (expressions add, never multiply).
        item["ts"] = _n(record.ttl_seconds)
        item["tm"] = _n(record.ttl_seconds * 1000)
    return item


def chunk_items(scope: Scope, key: str, payload: Payload, expires_at: int | None) -> list[dict[str, Any]]:
    items = []
    for index, data in enumerate(payload.chunks):
        item: dict[str, Any] = {
            "pk": {"S": chunk_pk(scope)},
            "sk": {"S": chunk_sk(key, payload.generation, index)},
            "d": {"B": data},
        }
        if expires_at is not None:
            item["ttl"] = _n(ttl_seconds(expires_at))
        items.append(item)
    return items


def chunk_keys(scope: Scope, key: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    """Keys of the chunk items a record item points to (none when inline)."""
    if "vn" not in item:
        return []
    generation = item["vg"]["S"]
    return [
        {"pk": {"S": chunk_pk(scope)}, "sk": {"S": chunk_sk(key, generation, index)}}
        for index in range(int(item["vn"]["N"]))
    ]


def number(item: dict[str, Any], name: str, default: int | None = None) -> int | None:
    cell = item.get(name)
    return default if cell is None else int(cell["N"])


def is_live(item: dict[str, Any], now: int) -> bool:
    expires = number(item, "exp")
    return expires is None or now < expires


def to_record(scope: Scope, item: dict[str, Any], value_json: str | None = None) -> Record:
    """A record from its item; `value_json` given when the value lives in chunks."""
    if value_json is None:
        if "v" in item:
            value_json = item["v"]["S"]
        elif "vb" in item:
            value_json = zlib.decompress(bytes(item["vb"]["B"])).decode("utf-8")
        else:
            value_json = ""
    return Record(
        user_id=scope.user_id,
        namespace=scope.namespace,
        key=item["sk"]["S"],
        value_json=value_json,
        metadata=json.loads(item["m"]["S"]),
        created_by_agent=item["cb"]["S"],
        last_accessed_by_agent=item["la"]["S"],
        access_count=int(item["ac"]["N"]),
        created_at=int(item["ca"]["N"]),
        updated_at=int(item["ua"]["N"]),
        version=int(item["ver"]["N"]),
        expires_at=number(item, "exp"),
        ttl_seconds=number(item, "ts"),
    )


def stored_size(item: dict[str, Any] | None) -> int:
    return 0 if item is None else int(item["sz"]["N"])
