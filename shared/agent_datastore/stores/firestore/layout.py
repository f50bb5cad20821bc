"""Firestore layout: document ids and the stored form of a value.

Document paths (collection ids are fixed, the root collection is configurable):

    {root}/{user}                                      (never written; parent of the registry)
    {root}/{user}/namespaces/{namespace}               registry shard 0 of the namespace (and parent of its records)
    {root}/{user}/namespaces/{namespace}+{i}           registry shard i (1 <= i < SHARDS)
    {root}/{user}/namespaces/{namespace}/records/{key} one record
    {root}/{user}/namespaces/{namespace}/records/{key}/parts/p{i}   value parts, rarely used
    {root}/{user}/namespaces/{namespace}/expiring/{key}             expiry marker of an expiring record

Every id is a one-letter tag followed by the UTF-8 bytes of the name in an
order-preserving base64 (alphabet in ASCII order, no padding): ids never
contain `/`, are never `.`, `..` or `__x__`, a 1,024-byte key takes 1,367
bytes (under Firestore's 1,500), and comparing two ids compares the UTF-8
bytes of the names, so ordering by document id is the contract's key order
and a literal prefix is a range of ids. A user id too long for that is
stored under the SHA-256 of its bytes instead (user ids are never listed in
order).

A namespace's registry entry (keys, bytes, last write, expiry hint) is the sum
of its shard documents: each write adds its delta to the shard its key hashes
to (`shard_of`), so writers of distinct keys rarely write the same document
(docs/scale.md). Shard 0 is the document a registry entry always was, so a
database written before the shards existed reads the same. `+` sorts below
every character of the id alphabet: a namespace's shards are the ids in
[`namespace_doc_id`, `namespace_doc_id` + `,`), just after shard 0 and before
any other namespace.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import zlib
from typing import Any

_STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_ORDERED = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_TO_ORDERED = str.maketrans(_STANDARD, _ORDERED)
_TO_STANDARD = str.maketrans(_ORDERED, _STANDARD)
MAX_USER_ID_CHARS = 1400

# Registry shards per namespace (docs/scale.md has the arithmetic).
SHARDS = 64
SHARD_SEPARATOR = "+"

# Values above this many bytes of JSON are stored zlib-compressed.
COMPRESS_OVER = 1024
# Compressed values above this go to part documents. A record document then
# stays far below Firestore's 1 MiB limit: 16 KiB of metadata, a key of 1 KiB,
# a document name of a few KiB and the record fields fit beside it.
PART_BYTES = 900_000


def encode_name(text: str) -> str:
    raw = base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")
    return raw.translate(_TO_ORDERED)


def decode_name(token: str) -> str:
    raw = token.translate(_TO_STANDARD)
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-8")


def user_doc_id(user_id: str) -> str:
    encoded = encode_name(user_id)
    if len(encoded) <= MAX_USER_ID_CHARS:
        return "u" + encoded
    return "h" + hashlib.sha256(user_id.encode("utf-8")).hexdigest()


def namespace_doc_id(namespace: str) -> str:
    return "n" + encode_name(namespace)


def shard_doc_id(namespace: str, shard: int) -> str:
    """Registry shard `shard` of a namespace; shard 0 is the namespace's own document."""
    return namespace_doc_id(namespace) + (f"{SHARD_SEPARATOR}{shard}" if shard else "")


def shard_range(namespace: str) -> tuple[str, str]:
    """[low, high) of the ids of a namespace's registry shards."""
    low = namespace_doc_id(namespace)
    return low, low + chr(ord(SHARD_SEPARATOR) + 1)


def shard_of(key_id: str, shards: int) -> int:
    """The registry shard a key's writes count in: a stable hash of its document id."""
    return zlib.crc32(key_id.encode("ascii")) % shards


def key_doc_id(key: str) -> str:
    return "k" + encode_name(key)


def decode_doc_id(doc_id: str) -> str:
    """The name behind a `u`, `n` or `k` id (not `h`: hashed user ids are one-way)."""
    return decode_name(doc_id[1:])


def prefix_range(tag: str, prefix: str) -> tuple[str, str | None]:
    """[low, high) of the document ids of names starting with `prefix`."""
    data = bytearray(prefix.encode("utf-8"))
    low = tag + encode_name(prefix)
    while data and data[-1] == 0xFF:
        data.pop()
    if not data:
        return low, None
    data[-1] += 1
    # bytes(data) need not be UTF-8; encode the bytes directly.
    raw = base64.urlsafe_b64encode(bytes(data)).decode("ascii").rstrip("=")
    return low, tag + raw.translate(_TO_ORDERED)


# -- the stored form of a value --------------------------------------------


def pack_value(value_json: str, part_bytes: int = PART_BYTES) -> tuple[dict[str, Any], list[bytes]]:
    """Record fields holding the value, and the part documents' payloads (usually none)."""
    raw = value_json.encode("utf-8")
    if len(raw) <= COMPRESS_OVER:
        return {"value": value_json}, []
    packed = zlib.compress(raw, 6)
    if len(packed) <= part_bytes:
        return {"value_z": packed}, []
    parts = [packed[start : start + part_bytes] for start in range(0, len(packed), part_bytes)]
    return {"parts": len(parts), "gen": secrets.token_hex(8)}, parts


def unpack_value(data: dict[str, Any], parts: list[bytes] | None = None) -> str:
    if "value" in data:
        return str(data["value"])
    if "value_z" in data:
        return zlib.decompress(data["value_z"]).decode("utf-8")
    if parts is None:
        raise ValueError("a value stored in parts needs its parts")
    return zlib.decompress(b"".join(parts)).decode("utf-8")
