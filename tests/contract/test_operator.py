"""The operator interface of `Store` (admin export/import/migrate/purge)."""

from __future__ import annotations

from dataclasses import replace

from agent_datastore.core.records import Record, now_ms


def test_scan_returns_every_field_in_order(ds, store, user_id):
    ds("set", namespace="b", key="y", value=1)
    ds("set", namespace="a", key="z", value={"v": [1]}, metadata={"m": 1})
    ds("set", namespace="a", key="x", value=None, ttl_seconds=100)
    ds("get", namespace="a", key="z")
    records = list(store.scan(user_id))
    assert [(record.namespace, record.key) for record in records] == [("a", "x"), ("a", "z"), ("b", "y")]
    z = records[1]
    assert z.user_id == user_id and z.value == {"v": [1]} and z.metadata == {"m": 1}
    assert z.access_count == 1 and z.version == 1 and z.created_by_agent == "agent-a"
    assert records[0].expires_at is not None and records[0].value is None
    assert [record.key for record in store.scan(user_id, "b")] == ["y"]
    assert user_id in set(store.users())


def test_restore_writes_verbatim_and_is_idempotent(ds, store, user_id):
    record = Record(
        user_id=user_id,
        namespace="imported:a/b",
        key="k:1/2",
        value_json='{"z":1,"a":[1.5,"x"]}',
        metadata={"source": "gofannon"},
        created_by_agent="old-agent",
        last_accessed_by_agent="reader",
        access_count=7,
        created_at=1_700_000_000_123,
        updated_at=1_700_000_500_456,
        version=3,
        expires_at=None,
    )
    store.restore(record)
    store.restore(record)
    (got,) = list(store.scan(user_id))
    assert got == record
    assert ds("list_namespaces")["namespaces"] == ["imported:a/b"]
    (stats,) = ds("stats")["namespaces"]
    assert stats["keys"] == 1 and stats["bytes"] == record.size
    store.restore(replace(record, value_json="2", version=4))
    assert ds("get", namespace="imported:a/b", key="k:1/2", include_record=True)["record"]["version"] == 4
    assert ds("stats")["namespaces"][0]["keys"] == 1


def test_purge_user_leaves_others_alone(ds, store, user_id):
    other = ds.as_agent("x", user="other-" + user_id)
    for namespace in ["a", "b/c"]:
        ds("set_many", namespace=namespace, items={f"k{i}": i for i in range(5)})
    other("set", namespace="a", key="k0", value="mine")
    assert store.purge_user(user_id, now_ms()) == 10
    assert list(store.scan(user_id)) == []
    assert ds("list_namespaces")["namespaces"] == []
    assert user_id not in set(store.users())
    assert other("get", namespace="a", key="k0")["value"] == "mine"


def test_purge_expired(ds, store, user_id, clock):
    ds("set", key="gone", value=1, ttl_seconds=1)
    ds("set", key="kept", value=1)
    clock.advance(2)
    assert store.purge_expired(clock(), user_id) == 1
    assert [record.key for record in store.scan(user_id)] == ["kept"]
