"""Import from the original Gofannon agent_data_store (CouchDB, Firestore, DynamoDB exports)."""

from __future__ import annotations

import base64
import json

from agent_datastore.admin import operations
from agent_datastore.core.records import Scope, parse_ts

from .conftest import call

ORIGINAL = [
    # The ambiguous old ids: user "a:b" namespace "c" vs user "a" namespace "b:c".
    {"userId": "a:b", "namespace": "c", "key": "k", "value": {"who": "a:b / c"}},
    {"userId": "a", "namespace": "b:c", "key": "k", "value": {"who": "a / b:c"}},
    {
        "userId": "a",
        "namespace": "files:my-org/my-repo",
        "key": "src/main.py:10",
        "value": [1, 2.5, "x"],
        "metadata": {"lang": "py"},
    },
    {"userId": "a", "namespace": "asvs", "key": "asvs:requirements:10.4.1", "value": None},
]


def couchdb_doc(doc):
    key = base64.b64encode(doc["key"].encode()).decode()
    return {
        "_id": f"{doc['userId']}:{doc['namespace']}:{key}",
        "_rev": "3-abc",
        "metadata": {},
        "createdByAgent": "indexer",
        "lastAccessedByAgent": "reader",
        "accessCount": 4,
        "createdAt": "2026-03-04T01:06:36.525056",
        "updatedAt": "2026-03-05T02:00:00.000001",
        "lastAccessedAt": "2026-03-22T20:58:39.982262",
        **doc,
    }


def check(target):
    got = {(r.user_id, r.namespace, r.key): r for user in ("a", "a:b") for r in target.scan(user)}
    assert set(got) == {(d["userId"], d["namespace"], d["key"]) for d in ORIGINAL}
    record = got[("a", "files:my-org/my-repo", "src/main.py:10")]
    assert record.value == [1, 2.5, "x"] and record.metadata == {"lang": "py"}
    assert record.created_by_agent == "indexer" and record.last_accessed_by_agent == "reader"
    assert record.access_count == 4 and record.version == 1 and record.expires_at is None
    assert record.created_at == parse_ts("2026-03-04T01:06:36.525Z")
    assert record.updated_at == parse_ts("2026-03-05T02:00:00.000Z")
    assert got[("a:b", "c", "k")].value == {"who": "a:b / c"}
    assert got[("a", "b:c", "k")].value == {"who": "a / b:c"}
    assert got[("a", "asvs", "asvs:requirements:10.4.1")].value is None
    # Readable through the service like any record, and listed.
    assert call(target, "a", "x", "get", namespace="files:my-org/my-repo", key="src/main.py:10", track_access=False)[
        "value"
    ] == [1, 2.5, "x"]
    assert call(target, "a", "x", "list_namespaces")["namespaces"] == ["asvs", "b:c", "files:my-org/my-repo"]


def test_couchdb_all_docs_export(target):
    docs = [couchdb_doc(doc) for doc in ORIGINAL]
    dump = {
        "total_rows": 5,
        "offset": 0,
        "rows": [{"id": d["_id"], "key": d["_id"], "value": {"rev": d["_rev"]}, "doc": d} for d in docs],
    }
    dump["rows"].append({"id": "_design/x", "doc": {"_id": "_design/x", "views": {}}})
    text = json.dumps(dump)
    result = operations.import_gofannon(target, text)
    assert (result.imported, result.skipped, result.errors) == (4, 1, [])
    check(target)
    again = operations.import_gofannon(target, text)
    assert (again.imported, again.unchanged) == (0, 4)


def test_firestore_rest_and_plain_documents(target):
    def typed(value):
        if value is None:
            return {"nullValue": None}
        if isinstance(value, str):
            return {"stringValue": value}
        if isinstance(value, bool):
            return {"booleanValue": value}
        if isinstance(value, int):
            return {"integerValue": str(value)}
        if isinstance(value, float):
            return {"doubleValue": value}
        if isinstance(value, list):
            return {"arrayValue": {"values": [typed(item) for item in value]}}
        return {"mapValue": {"fields": {name: typed(item) for name, item in value.items()}}}

    docs = [couchdb_doc(doc) for doc in ORIGINAL]
    for doc in docs:
        del doc["_id"], doc["_rev"]
    rest = [
        {
            "name": f"projects/p/databases/(default)/documents/agent_data_store/{i}",
            "fields": {name: typed(item) for name, item in doc.items()},
        }
        for i, doc in enumerate(docs[:2])
    ]
    rest[0]["fields"]["createdAt"] = {"timestampValue": "2026-03-04T01:06:36.525056789Z"}
    lines = [json.dumps(doc) for doc in rest] + [json.dumps(doc) for doc in docs[2:]]  # NDJSON, mixed
    result = operations.import_gofannon(target, "\n".join(lines))
    assert (result.imported, result.errors) == (4, [])
    check(target)


def test_dynamodb_scan_output(target):
    def typed(value):
        if value is None:
            return {"NULL": True}
        if isinstance(value, str):
            return {"S": value}
        if isinstance(value, bool):
            return {"BOOL": value}
        if isinstance(value, (int, float)):
            return {"N": str(value)}
        if isinstance(value, list):
            return {"L": [typed(item) for item in value]}
        return {"M": {name: typed(item) for name, item in value.items()}}

    items = [{name: typed(item) for name, item in couchdb_doc(doc).items() if name != "_rev"} for doc in ORIGINAL]
    result = operations.import_gofannon(target, json.dumps({"Items": items, "Count": 4, "ScannedCount": 4}))
    assert (result.imported, result.errors) == (4, [])
    check(target)


def test_bad_documents_are_reported_not_imported(target):
    docs = [
        {"userId": "a", "namespace": "n", "key": "", "value": 1},
        {"userId": "a", "namespace": "n", "key": "k", "value": 1, "createdAt": "yesterday"},
        {"userId": "a", "namespace": "n", "key": "ok", "value": 1},
    ]
    result = operations.import_gofannon(target, json.dumps(docs), user_map={"a": "new-a"})
    assert result.imported == 1 and len(result.errors) == 2
    assert target.get(Scope("new-a", "n"), "ok", reader=None, now=0) is not None
    assert list(target.scan("a")) == []
