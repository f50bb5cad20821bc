"""The namespace registry in shards: summed exactly, emptied namespaces removed, tables written
before the shards read as they are (their entry is shard 0), concurrent increments never lost."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from agent_datastore.stores.dynamodb import codec
from agent_datastore.stores.dynamodb import registry as dynamodb_registry
from agent_datastore.stores.dynamodb.store import DynamoDBStore
from agent_datastore.stores.dynamodb.writes import SHARD_MARK
from tests.aws import scale


def registry_partition(store: Any, user_id: str) -> list[dict[str, Any]]:
    """The items of the user's registry partition, as stored."""
    return list(
        store.db.query(
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": "pk"},
            ExpressionAttributeValues={":pk": {"S": codec.registry_pk(user_id)}},
            ConsistentRead=True,
        )
    )


def registry_items(store: Any, user_id: str) -> dict[str, tuple[int, int]]:
    """The user's registry partition as stored: sort key -> (n, b)."""
    return {
        item["sk"]["S"]: (int(item.get("n", {"N": "0"})["N"]), int(item.get("b", {"N": "0"})["N"]))
        for item in registry_partition(store, user_id)
    }


def stats(ds) -> dict[str, tuple[int, int]]:
    return {row["namespace"]: (row["keys"], row["bytes"]) for row in ds("stats")["namespaces"]}


def put_registry_item(store: Any, user_id: str, sort_key: str, keys: int, size: int, updated_at: int = 1) -> None:
    store.db.call(
        "put_item",
        TableName=store.table,
        Item={
            "pk": {"S": codec.registry_pk(user_id)},
            "sk": {"S": sort_key},
            "n": {"N": str(keys)},
            "b": {"N": str(size)},
            "ua": {"N": str(updated_at)},
        },
    )


def test_writes_spread_over_shards_and_sum_exactly(ds, store, user_id):
    for index in range(10):
        ds("set", namespace="ten", key=f"k{index}", value="v" * index)
    items = registry_items(store, user_id)
    # A namespace of 10 keys: at most 10 shard items (the shard comes from the key's hash).
    assert 1 < len(items) <= 10 and all(sort_key.startswith("ten") for sort_key in items)
    assert stats(ds) == {"ten": (10, 85)}  # "v" * i is i + 2 bytes of JSON, and "{}" of metadata
    ds("set", namespace="ten", key="k3", value="longer value")  # an overwrite: bytes move, keys stay
    ds("delete", namespace="ten", key="k4")
    ds("set_many", namespace="ten", items={"m1": 1, "m2": 2})  # a batch: its delta in one shard
    expected_bytes = 85 + (16 - 7) - (4 + 4) + 2 * 3  # k3: 7 -> 16 bytes; k4 gone; m1, m2
    assert stats(ds) == {"ten": (11, expected_bytes)}
    assert ds("list_namespaces")["namespaces"] == ["ten"]
    assert ds("stats", namespace="ten")["namespaces"][0]["keys"] == 11
    assert ds("clear", namespace="ten") == {"deleted": 11}
    assert stats(ds) == {} and ds("list_namespaces")["namespaces"] == []
    assert registry_items(store, user_id) == {}  # every shard item of the emptied namespace removed


def test_a_namespace_and_a_longer_one_sharing_its_prefix_stay_apart(ds, store, user_id):
    for index in range(6):
        ds("set", namespace="a", key=f"k{index}", value=1)
        ds("set", namespace="a\x01", key=f"k{index}", value=1)
        ds("set", namespace="ab", key=f"k{index}", value=1)
    assert ds("list_namespaces")["namespaces"] == ["a", "a\x01", "ab"]
    assert [row["keys"] for row in ds("stats", namespace="a")["namespaces"]] == [6]
    assert ds("list_namespaces", prefix="a")["namespaces"] == ["a", "a\x01", "ab"]
    assert ds("list_namespaces", prefix="ab")["namespaces"] == ["ab"]


def test_a_table_written_before_the_shards_keeps_working(ds, store, user_id):
    # Writes with one shard are today's writes: one registry item per namespace, its sort key the
    # bare namespace. The sharded store reads that item as shard 0 and goes on from there.
    legacy = scale.call  # the service, over a store writing as before
    old = DynamoDBStore(store.table, registry_shards=1)
    for index in range(8):
        legacy(old, user_id, "set", namespace="old", key=f"k{index}", value=index)
    legacy(old, user_id, "set", namespace="gone", key="only", value=1)
    assert set(registry_items(store, user_id)) == {"old", "gone"}  # the legacy shape
    assert stats(ds) == {"old": (8, 8 * 3), "gone": (1, 3)}
    # Deletes of legacy keys go to the keys' shards, below zero there while shard 0 stays positive.
    for index in range(4):
        assert ds("delete", namespace="old", key=f"k{index}") == {"deleted": True}
    ds("set", namespace="old", key="new", value=[1, 2])
    ds("set", namespace="old", key="k5", value="overwritten")
    items = registry_items(store, user_id)
    assert items["old"] == (8, 8 * 3) and any(keys < 0 for keys, _ in items.values())
    assert stats(ds) == {"old": (5, 3 * 3 + 7 + 13 + 2), "gone": (1, 3)}
    assert ds("delete", namespace="gone", key="only") == {"deleted": True}
    assert ds("list_namespaces")["namespaces"] == ["old"]
    assert not any(sort_key.startswith("gone") for sort_key in registry_items(store, user_id))
    assert sorted(record.key for record in store.scan(user_id, "old")) == ["k4", "k5", "k6", "k7", "new"]
    assert user_id in set(store.users())
    assert ds("clear", namespace="old") == {"deleted": 5}
    assert user_id not in set(store.users())  # its shards sum to 0: no namespace with keys
    assert ds("list_namespaces")["namespaces"] == []  # the read that removes the emptied entry's items
    assert registry_items(store, user_id) == {}


def test_an_emptied_namespace_of_more_shards_than_one_transaction_holds_is_removed(ds, store, user_id):
    # 150 shard items whose counts sum to 0 (each may be off zero after batches), and 130 summing to 5.
    for shard in range(150):
        put_registry_item(
            store, user_id, "empty" if shard == 0 else f"empty{SHARD_MARK}{shard}", 1 - 2 * (shard % 2), 0
        )
    for shard in range(130):
        put_registry_item(store, user_id, f"full{SHARD_MARK}{shard + 1}", 1 if shard < 5 else 0, 10, updated_at=shard)
    assert ds("list_namespaces")["namespaces"] == ["full"]
    assert [(row["namespace"], row["keys"], row["bytes"]) for row in ds("stats")["namespaces"]] == [("full", 5, 1300)]
    assert ds("stats")["namespaces"][0]["updatedAt"] == "1970-01-01T00:00:00.129Z"  # the latest of the shards
    items = registry_items(store, user_id)
    assert not any(sort_key.startswith("empty") for sort_key in items) and len(items) == 130


def test_an_emptied_namespace_whose_shard_changed_meanwhile_is_kept(store, user_id):
    put_registry_item(store, user_id, "ns", 1, 5)
    put_registry_item(store, user_id, f"ns{SHARD_MARK}7", -1, -5)
    read = registry_partition(store, user_id)
    put_registry_item(store, user_id, f"ns{SHARD_MARK}7", 0, 3)  # a write lands between read and removal
    dynamodb_registry._drop_namespace(store.db, read)
    assert registry_items(store, user_id) == {"ns": (1, 5), f"ns{SHARD_MARK}7": (0, 3)}  # nothing removed


def test_users_sums_the_shards(store, user_id):
    other = user_id + "-b"
    put_registry_item(store, user_id, "ns", 1, 5)
    put_registry_item(store, user_id, f"ns{SHARD_MARK}3", -1, -5)  # empty, not yet removed
    put_registry_item(store, other, "ns", -1, 5)
    put_registry_item(store, other, f"ns{SHARD_MARK}3", 2, -5)  # one key
    users = set(store.users())
    assert other in users and user_id not in users


@pytest.mark.usefixtures("table")  # skips, as its neighbours do, without the DynamoDB test server
def test_concurrent_increments_of_one_key_all_land(user_id):
    # 20 clients x 50 increments of one key: every one acknowledged, none lost. On a table of its own:
    # moto's transactions take longer the more the table holds (it copies it for its rollback).
    store = DynamoDBStore(f"incr_{uuid.uuid4().hex[:10]}")
    store.create()
    try:
        outcome = scale.increments(store, clients=20, each=50, user_id=user_id)
        assert outcome.errors == [] and outcome.acknowledged == 1000
        assert scale.call(store, user_id, "get", key="counter", track_access=False)["value"] == 1000
    finally:
        store.drop()


def test_writers_deleters_and_a_reader_end_exact(ds, store, user_id):
    # Writers create and delete distinct keys (every other one deleted again) while a reader lists.
    errors: list[str] = []

    def writer(index: int) -> None:
        for key_index in range(6):
            key = f"w{index}-{key_index}"
            ds("set", namespace="busy", key=key, value=key_index)
            if key_index % 2:
                ds("delete", namespace="busy", key=key)

    def reader() -> None:
        for _ in range(5):
            if ds("stats")["namespaces"] and ds("list_namespaces")["namespaces"] != ["busy"]:
                errors.append("listed wrong")

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(8)]
    threads.append(threading.Thread(target=reader))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert stats(ds) == {"busy": (8 * 3, 8 * (1 + 1 + 1) + 8 * 3 * 2)}
