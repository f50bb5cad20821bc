"""CouchDB layout (API.md section 7): document ids, the design document, record <-> document.

A record's `_id` is

    r-<hex(utf8(user_id))>-<hex(utf8(namespace))>-<hex(utf8(key))>

Hex digits never contain `-`, so the id is unambiguous for every input, and
because `-` sorts below every hex digit, ordering ids by their bytes orders
records by user, then namespace, then key, each by its UTF-8 bytes. CouchDB 3
orders `_all_docs` by raw bytes, PouchDB by UTF-16 code units; on an ASCII-only
id the two agree, so one user's namespace is one contiguous, byte-ordered
`_all_docs` range (`r-<u>-<n>-` up to `r-<u>-<n>-g`) and a key prefix is a
range too.

The namespace registry (key count, bytes, latest write per namespace) is a
reduce view of the design document `_design/agent_datastore`, maintained by
CouchDB itself from the same documents: it cannot drift from the records the
way a separately updated counter document could (there are no cross-document
transactions), and it is no write hotspot. A second view indexes expiry times
so that expired records are filtered and swept without scanning keys.
"""

from __future__ import annotations

import json
from typing import Any

from ..records import Record, Scope

DESIGN_ID = "_design/agent_datastore"
# Views see only the ASCII hex segments of the id, never the raw strings: view
# keys collate with ICU, which may treat distinct Unicode strings as equal.
DESIGN: dict[str, Any] = {
    "language": "javascript",
    "views": {
        "namespaces": {
            "map": (
                "function (doc) { if (doc.type === 'record') { var p = doc._id.split('-');"
                " emit([p[1], p[2]], [1, doc.size, doc.updated_at]); } }"
            ),
            "reduce": (
                "function (keys, values, rereduce) { var r = [0, 0, 0];"
                " for (var i = 0; i < values.length; i++) { r[0] += values[i][0]; r[1] += values[i][1];"
                " if (values[i][2] > r[2]) { r[2] = values[i][2]; } } return r; }"
            ),
        },
        "expiry": {
            "map": (
                "function (doc) { if (doc.type === 'record' && typeof doc.expires_at === 'number') {"
                " var p = doc._id.split('-'); var x = doc.expires_at;"
                " emit(['all', x], doc._rev); emit(['user', p[1], x], doc._rev);"
                " emit(['ns', p[1], p[2], x], doc._rev); } }"
            ),
        },
    },
}


def hex_of(text: str) -> str:
    return text.encode("utf-8").hex()


def unhex(text: str) -> str:
    return bytes.fromhex(text).decode("utf-8")


def record_id(scope: Scope, key: str) -> str:
    return f"r-{hex_of(scope.user_id)}-{hex_of(scope.namespace)}-{hex_of(key)}"


def namespace_prefix(scope: Scope) -> str:
    return f"r-{hex_of(scope.user_id)}-{hex_of(scope.namespace)}-"


def to_doc(record: Record) -> dict[str, Any]:
    # Value and metadata are stored as their compact JSON text, so numbers and
    # key order round-trip byte for byte whatever the server's JSON library does.
    return {
        "_id": record_id(Scope(record.user_id, record.namespace), record.key),
        "type": "record",
        "user_id": record.user_id,
        "namespace": record.namespace,
        "key": record.key,
        "value": record.value_json,
        "metadata": record.metadata_json,
        "created_by_agent": record.created_by_agent,
        "last_accessed_by_agent": record.last_accessed_by_agent,
        "access_count": record.access_count,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "version": record.version,
        "expires_at": record.expires_at,
        "size": record.size,
    }


def from_doc(doc: dict[str, Any]) -> Record:
    return Record(
        user_id=doc["user_id"],
        namespace=doc["namespace"],
        key=doc["key"],
        value_json=doc["value"],
        metadata=json.loads(doc["metadata"]),
        created_by_agent=doc["created_by_agent"],
        last_accessed_by_agent=doc["last_accessed_by_agent"],
        access_count=doc["access_count"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        version=doc["version"],
        expires_at=doc.get("expires_at"),
    )
