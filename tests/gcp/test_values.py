"""Large values, split values, TTL fields and the registry when the TTL policy deletes."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from agent_datastore.core.records import Scope
from agent_datastore.stores.firestore.layout import key_doc_id
from agent_datastore.stores.firestore.store import FirestoreStore

MIB = 1024 * 1024


def incompressible(length: int) -> str:
    """Printable ASCII without quote or backslash: close to the most entropy compact JSON text can carry."""
    alphabet = bytes(c for c in range(0x20, 0x7F) if c not in b'"\\')
    data = os.urandom(length)
    return bytes(alphabet[b % len(alphabet)] for b in data).decode("ascii")


def stored(fs, raw, user_id, key, namespace="default"):
    ref = fs.documents.records(Scope(user_id, namespace)).document(key_doc_id(key))
    return ref, raw.document(ref.path).get()


def test_one_mib_incompressible_value_fits_one_document(ds, fs, raw, user_id):
    big = incompressible(MIB - 2)
    ds("set", key="big", value=big, metadata={"m": "x" * 16000})
    _, snap = stored(fs, raw, user_id, "big")
    data = snap.to_dict()
    assert "value" not in data and len(data["value_z"]) < 950_000  # compressed, under the 1 MiB document limit
    assert ds("get", key="big")["value"] == big
    assert ds("stats")["namespaces"][0]["bytes"] == MIB + len('{"m":""}') + 16000


def test_value_split_across_part_documents_is_read_and_replaced_atomically(collection, user_id):
    fs = FirestoreStore(collection, part_bytes=100_000)
    scope = Scope(user_id, "default")
    from agent_datastore.core.records import Write, now_ms

    big = '"' + incompressible(MIB - 2) + '"'
    fs.put(scope, "big", Write(big, "a"), now_ms())
    ref = fs.documents.records(scope).document(key_doc_id("big"))
    raw = fs.client
    data = raw.document(ref.path).get().to_dict()
    assert data["parts"] >= 8 and "value_z" not in data
    assert len(list(raw.document(ref.path).collection("parts").list_documents())) == data["parts"]
    assert fs.get(scope, "big", reader="r", now=now_ms()).value_json == big
    # Shrinking the value removes the parts in the same commit.
    fs.put(scope, "big", Write('"small"', "a"), now_ms())
    assert list(raw.document(ref.path).collection("parts").list_documents()) == []
    assert fs.get(scope, "big", reader=None, now=now_ms()).value == "small"
    # Concurrent readers of a value being rewritten never see a mix of two versions.
    values = ['"' + incompressible(300_000) + '"' for _ in range(3)]

    def churn(i):
        if i % 2:
            fs.put(scope, "big", Write(values[i % 3], "a"), now_ms())
            return None
        return fs.get(scope, "big", reader=None, now=now_ms()).value_json

    with ThreadPoolExecutor(6) as pool:
        seen = [value for value in pool.map(churn, range(30)) if value is not None]
    assert all(value in [*values, '"small"'] for value in seen)
    fs.close()


def test_expiring_records_carry_a_ttl_timestamp_and_a_marker(ds, fs, raw, user_id):
    ds("set", key="t", value=1, ttl_seconds=60)
    ds("set", key="p", value=1)
    record = ds("get", key="t", include_record=True)["record"]
    _, snap = stored(fs, raw, user_id, "t")
    assert snap.get("expire_time").isoformat(timespec="milliseconds").replace("+00:00", "Z") == record["expiresAt"]
    marker = raw.document(fs.documents.markers(Scope(user_id, "default")).document(key_doc_id("t")).path).get()
    assert marker.exists and marker.get("expires_at") == snap.get("expires_at")
    _, plain = stored(fs, raw, user_id, "p")
    assert "expire_time" not in plain.to_dict()
    ds("set", key="t", value=2)  # no ttl any more: marker and TTL field go
    assert not raw.document(fs.documents.markers(Scope(user_id, "default")).document(key_doc_id("t")).path).get().exists
    assert "expire_time" not in stored(fs, raw, user_id, "t")[1].to_dict()


def test_registry_stays_exact_when_the_ttl_policy_deletes_first(ds, fs, raw, user_id, clock):
    ds("set", namespace="ttl", key="a", value="x" * 10, ttl_seconds=5)
    ds("set", namespace="ttl", key="b", value="y" * 10, ttl_seconds=5)
    ds("set", namespace="ttl", key="keep", value=1)
    clock.advance(6)
    # Firestore's TTL policy removes "a" (and only the record: it knows nothing of the registry).
    ref, _ = stored(fs, raw, user_id, "a", "ttl")
    raw.document(ref.path).delete()
    (row,) = ds("stats")["namespaces"]
    assert row["keys"] == 1 and row["bytes"] == len("1") + len("{}")
    # A write over a key the TTL policy removed counts it once, not twice.
    ds("set", namespace="ttl", key="a", value=1)
    assert ds("stats", namespace="ttl")["namespaces"][0]["keys"] == 2
    ds("clear", namespace="ttl")
    assert ds("list_namespaces")["namespaces"] == []
    assert user_id not in set(fs.users())


def test_two_clients_contending_keep_every_increment(collection, user_id):
    """Two stores (two processes' worth of clients, no shared lock) let Firestore arbitrate."""
    from agent_datastore.core.records import now_ms

    stores = [FirestoreStore(collection), FirestoreStore(collection)]
    scope = Scope(user_id, "default")

    def bump(i):
        stores[i % 2].increment(scope, "n", 1, agent="a", expires_at=None, now=now_ms())

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(bump, range(6)))
    assert stores[0].get(scope, "n", reader=None, now=now_ms()).value == 6
    assert stores[0].stats(user_id, namespace=None, now=now_ms())[0].keys == 1
