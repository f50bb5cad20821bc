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

A design document of its own, `_design/agent_datastore_sizes`, maps each
record's `_id` to its `size`: the batches read it first, for the keys they
name, to page their document reads by bytes and to stop reading once a
response budget is spent. It is a design document apart so that adding it to
an existing database leaves the index of the first one as it is (CouchDB
rebuilds every view of a design document whose views change).
"""

from __future__ import annotations

from typing import Any

from agent_datastore.core.records import Record, Scope, record_from_fields, stored_fields

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

SIZES_ID = "_design/agent_datastore_sizes"
SIZES: dict[str, Any] = {
    "language": "javascript",
    "views": {"sizes": {"map": "function (doc) { if (doc.type === 'record') { emit(doc._id, doc.size); } }"}},
}
# Every design document `admin create` keeps up to date: id -> its fields.
DESIGNS: dict[str, dict[str, Any]] = {DESIGN_ID: DESIGN, SIZES_ID: SIZES}


def hex_of(text: str) -> str:
    return text.encode("utf-8").hex()


def unhex(text: str) -> str:
    return bytes.fromhex(text).decode("utf-8")


def record_id(scope: Scope, key: str) -> str:
    return f"r-{hex_of(scope.user_id)}-{hex_of(scope.namespace)}-{hex_of(key)}"


def namespace_prefix(scope: Scope) -> str:
    return f"r-{hex_of(scope.user_id)}-{hex_of(scope.namespace)}-"


def to_doc(record: Record) -> dict[str, Any]:
    scope = Scope(record.user_id, record.namespace)
    return {
        "_id": record_id(scope, record.key),
        "type": "record",
        "user_id": record.user_id,
        "namespace": record.namespace,
        "key": record.key,
        # Value and metadata as their compact JSON text: numbers and key order
        # round-trip byte for byte whatever the server's JSON library does.
        "value": record.value_json,
        **stored_fields(record),
    }


def from_doc(doc: dict[str, Any]) -> Record:
    return record_from_fields(Scope(doc["user_id"], doc["namespace"]), doc["key"], doc["value"], doc)
