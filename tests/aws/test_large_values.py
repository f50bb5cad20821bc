"""1 MiB values on DynamoDB: compressed, chunked, never read half-old, never left behind."""

from __future__ import annotations

import threading

from agent_datastore.core.records import Scope
from agent_datastore.stores.dynamodb import codec

from .test_round_trips import MIB, big_value


def chunk_count(store, scope: Scope) -> int:
    items = list(
        store.db.query(
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": "pk"},
            ExpressionAttributeValues={":pk": {"S": codec.chunk_pk(scope)}},
            ConsistentRead=True,
        )
    )
    return len(items)


def test_incompressible_mib_round_trips_and_leaves_no_chunks(ds, store, user_id):
    scope = Scope(user_id, "default")
    big = big_value(7)
    ds("set", key="big", value=big)
    stored = store.db.get_item(codec.record_key(scope, "big"))
    assert "vn" in stored and int(stored["vn"]["N"]) == chunk_count(store, scope) >= 2
    assert ds("get", key="big")["value"] == big
    assert ds("stats")["namespaces"][0]["bytes"] == MIB + 2
    ds("set", key="big", value="small")
    assert chunk_count(store, scope) == 0
    assert ds("get", key="big")["value"] == "small"
    ds("set", key="big", value=big)
    ds("set", key="big", value=big_value(8))  # big over big: the old generation goes
    assert chunk_count(store, scope) == int(store.db.get_item(codec.record_key(scope, "big"))["vn"]["N"])
    assert ds("delete", key="big") == {"deleted": True}
    assert chunk_count(store, scope) == 0
    ds("set_many", items={"b1": big, "b2": "x"})
    assert ds("clear") == {"deleted": 2}
    assert chunk_count(store, scope) == 0


def test_compressible_large_value_stays_in_one_item(ds, store, user_id):
    # 640 kB of JSON, 2 kB after zlib: under codec.INLINE_MAX, so inline.
    value = {"rows": [{"text": "the same words again"}] * 20000}
    ds("set", key="doc", value=value)
    item = store.db.get_item(codec.record_key(Scope(user_id, "default"), "doc"))
    assert "vb" in item and "vn" not in item  # zlib, inline
    assert ds("get", key="doc")["value"] == value


def test_readers_never_see_a_mix_of_two_versions(ds):
    first, second = big_value(11), big_value(12)
    ds("set", key="big", value=first)
    seen: list[str] = []
    stop = threading.Event()

    def read():
        while not stop.is_set():
            seen.append(ds("get", key="big", track_access=False)["value"])

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        for index in range(6):
            ds("set", key="big", value=second if index % 2 == 0 else first)
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=60)
    assert seen and all(value in (first, second) for value in seen)
