"""Firestore at scale (docs/scale.md): no document that every write of a namespace touches, the
registry exact and read-your-writes under concurrency, databases written before the registry
shards still exact, batch reads that stop at the response budget, increments under contention.

Document writes are counted from the Commit requests by the RPC interceptor
(tests/contract/backends/firestore.py): the emulator does not enforce the cloud's rate per document.
"""

from __future__ import annotations

import threading
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

from agent_datastore.api.service import DataStoreService
from agent_datastore.core.identity import Identity
from agent_datastore.core.limits import MAX_BODY_BYTES
from agent_datastore.core.records import Record, Scope, Write, now_ms
from agent_datastore.core.settings import Settings
from agent_datastore.stores.base import response_cost
from agent_datastore.stores.firestore.layout import SHARDS
from agent_datastore.stores.firestore.store import FirestoreStore
from tests.contract.conftest import Client
from tests.gcp.test_values import incompressible
from tests.gcp.workload import write_distinct_keys

WRITERS, KEYS = 16, 15


def truth(store: FirestoreStore, user_id: str, now: int) -> dict[str, tuple[int, int]]:
    """(keys, bytes) by namespace, counted from the live records themselves."""
    counts: dict[str, tuple[int, int]] = {}
    for record in store.scan(user_id):
        if record.is_live(now):
            keys, size = counts.get(record.namespace, (0, 0))
            counts[record.namespace] = (keys + 1, size + record.size)
    return counts


def registry(ds: Client) -> dict[str, tuple[int, int]]:
    return {row["namespace"]: (row["keys"], row["bytes"]) for row in ds("stats")["namespaces"]}


def assert_exact(ds: Client, store: FirestoreStore, user_id: str, now: int) -> None:
    expected = truth(store, user_id, now)
    assert registry(ds) == expected
    assert ds("list_namespaces")["namespaces"] == sorted(expected, key=lambda name: name.encode("utf-8"))
    for namespace, (keys, size) in expected.items():
        (row,) = ds("stats", namespace=namespace)["namespaces"]
        assert (row["keys"], row["bytes"]) == (keys, size)


def shard_documents(store: FirestoreStore, scope: Scope) -> list[str]:
    return [doc.id for doc in store.documents.shards(scope).stream()]


# -- no hot document ---------------------------------------------------------------------


def test_sixteen_writers_of_distinct_keys_share_no_hot_document(collection):
    outcome = write_distinct_keys(writers=WRITERS, keys=KEYS, collection=collection)
    assert outcome.errors == []
    assert outcome.acknowledged == WRITERS * KEYS
    path, writes = outcome.hottest
    assert writes <= WRITERS * KEYS // 10, f"{path} took {writes} of {WRITERS * KEYS} writes"
    store = FirestoreStore(collection)
    ds = Client(DataStoreService(store, Settings(auth="none")), Identity(outcome.user_id, "reader"))
    assert registry(ds) == {"files:repo": (WRITERS * KEYS, sum(r.size for r in store.scan(outcome.user_id)))}
    assert_exact(ds, store, outcome.user_id, now_ms())
    assert len(shard_documents(store, Scope(outcome.user_id, "files:repo"))) <= SHARDS


def test_the_write_counter_sees_the_single_registry_document(collection):
    """The same workload on one shard (the layout before the shards): the entry takes every write."""
    outcome = write_distinct_keys(writers=4, keys=5, shards=1, collection=collection)
    assert outcome.errors == [] and outcome.acknowledged == 20
    assert outcome.hottest[1] == 20
    assert len(outcome.other_writes) == 1


def test_a_namespace_holds_no_more_shards_than_keys(ds, fs, user_id):
    ds("set_many", namespace="small", items={f"k{i}": i for i in range(10)})  # one batch: one shard
    for i in range(10):
        ds("set", namespace="small", key=f"k{i}", value=i + 1)
    assert 1 <= len(shard_documents(fs, Scope(user_id, "small"))) <= 10
    assert registry(ds) == {"small": (10, sum(len(str(i + 1)) + 2 for i in range(10)))}


# -- exact under concurrency -------------------------------------------------------------


def test_stats_stay_exact_under_concurrent_writers_deletes_expiry_and_clear(collection, user_id, clock):
    stores = [FirestoreStore(collection) for _ in range(6)]
    clients = [Client(DataStoreService(s, Settings(auth="none"), clock=clock), Identity(user_id, "a")) for s in stores]
    ds, store = clients[0], stores[0]
    ds("set_many", namespace="doomed", items={f"d{i}": i for i in range(60)})
    stop = threading.Event()
    reads: list[int] = []

    def reader() -> None:
        while not stop.is_set():
            reads.append(sum(row["keys"] for row in ds("stats")["namespaces"]))
            ds("list_namespaces")

    def writer(index: int) -> None:
        client = clients[1 + index % 5]
        for i in range(12):
            key = f"w{index}-{i}"
            client("set", namespace="live", key=key, value="x" * i, ttl_seconds=5 if i % 3 == 0 else None)
            if i % 4 == 1:
                client("delete", namespace="live", key=key)
            if i % 5 == 2:
                client("set_many", namespace="live", items={f"{key}-b{j}": j for j in range(3)})

    watcher = threading.Thread(target=reader)
    watcher.start()
    with ThreadPoolExecutor(6) as pool:
        cleared = pool.submit(lambda: clients[5]("clear", namespace="doomed"))
        list(pool.map(writer, range(10)))
        assert cleared.result() == {"deleted": 60}
    stop.set()
    watcher.join()
    assert reads  # the reader ran alongside, without an error
    assert_exact(ds, store, user_id, clock.now)
    assert "doomed" not in ds("list_namespaces")["namespaces"]
    clock.advance(6)  # a third of the writes expire
    assert_exact(ds, store, user_id, clock.now)
    ds("clear", namespace="live")
    assert registry(ds) == {}
    assert shard_documents(store, Scope(user_id, "live")) == []


# -- databases from before the shards ------------------------------------------------------


def test_a_registry_written_before_the_shards_stays_exact(collection, ds, fs, raw, user_id, clock):
    # shards=1 writes exactly the layout of before: the whole entry in the namespace's document.
    legacy = Client(
        DataStoreService(FirestoreStore(collection, shards=1), Settings(auth="none"), clock=clock),
        Identity(user_id, "old"),
    )
    legacy("set_many", namespace="old", items={f"k{i:02d}": "v" * i for i in range(30)})
    legacy("set", namespace="old", key="soon", value=1, ttl_seconds=5)
    legacy("set", namespace="old", key="later", value=2, ttl_seconds=50)
    scope = Scope(user_id, "old")
    entry = raw.document(fs.documents.registry(scope).path).get().to_dict()
    assert set(entry) == {"user_id", "namespace", "keys", "bytes", "updated_at", "next_expiry"}
    assert entry["keys"] == 32
    assert len(shard_documents(fs, scope)) == 1
    assert_exact(ds, fs, user_id, clock.now)

    # The sharded store over it: overwrites, new keys, deletes, increments, a batch.
    for i in range(0, 30, 3):
        ds("set", namespace="old", key=f"k{i:02d}", value="w" * (i + 7))
    for i in range(1, 30, 4):
        assert ds("delete", namespace="old", key=f"k{i:02d}") == {"deleted": True}
    ds("set_many", namespace="old", items={f"new{i}": i for i in range(12)})
    ds("increment", namespace="old", key="counter", by=5)
    ds("set", namespace="old", key="fresh", value=3, ttl_seconds=20)
    assert len(shard_documents(fs, scope)) > 1
    assert_exact(ds, fs, user_id, clock.now)
    assert ds("stats", namespace="old")["namespaces"][0]["updatedAt"] is not None

    # Expiry across the old entry's hint and the new shards' hints.
    clock.advance(6)
    assert_exact(ds, fs, user_id, clock.now)
    clock.advance(30)
    assert_exact(ds, fs, user_id, clock.now)
    assert ds("get", namespace="old", key="later", track_access=False)["found"] is True
    clock.advance(30)
    assert_exact(ds, fs, user_id, clock.now)

    # The old store still reads what the new one wrote (every shard is summed on read).
    assert legacy("stats") == ds("stats")
    keys = truth(fs, user_id, clock.now)["old"][0]
    assert ds("clear", namespace="old") == {"deleted": keys}
    assert ds("list_namespaces")["namespaces"] == []
    assert shard_documents(fs, scope) == []
    assert user_id not in set(fs.users())


# -- batch reads and increments ------------------------------------------------------------


def test_tracked_get_many_of_100_is_one_transaction_with_exact_counts(ds, rpcs):
    keys = [f"k{i:03d}" for i in range(100)]
    ds("set_many", items={key: key for key in keys})
    rpcs.take()
    assert len(ds("get_many", keys=keys)["values"]) == 100
    assert rpcs.take() == {"begin_transaction": 1, "batch_get_documents": 1, "commit": 1}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: ds("get_many", keys=keys), range(8)))
    rows = ds("list_keys", include_records=True, limit=100)["records"]
    assert {key: row["accessCount"] for key, row in rows.items()} == dict.fromkeys(keys, 9)


def test_get_many_stops_reading_once_the_budget_is_spent(fs, user_id):
    scope = Scope(user_id, "big")
    value = '"' + incompressible(1024 * 1024 - 2) + '"'  # about 820 KB stored, compressed
    now = now_ms()
    keys = [f"b{i:02d}" for i in range(24)]
    for key in keys:
        fs.put(scope, key, Write(value, "a"), now)
    tracemalloc.start()
    try:
        result = fs.get_many(scope, keys, reader=None, now=now, max_bytes=MAX_BODY_BYTES)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    fits = MAX_BODY_BYTES // response_cost("b00", Record("u", "n", "b00", value))
    assert list(result.found) == keys[:fits]
    assert result.unprocessed == keys[fits:]
    # 24 MiB of values stored; reading them all held every one (compressed and unpacked).
    assert peak < 3 * MAX_BODY_BYTES, f"peak {peak / 2**20:.1f} MiB to return {fits} MiB"
    tracked = fs.get_many(scope, keys, reader="r", now=now, max_bytes=MAX_BODY_BYTES)
    assert list(tracked.found) == keys[:fits] and {r.access_count for r in tracked.found.values()} == {1}
    assert fs.get(scope, keys[fits], reader=None, now=now).access_count == 0


def test_twenty_clients_incrementing_one_key_end_at_exactly_1000(ds):
    errors: list[str] = []

    def client(_: int) -> None:
        for _ in range(50):
            try:
                ds("increment", key="hits")
            except Exception as exc:  # every failure is the finding
                errors.append(repr(exc))

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(client, range(20)))
    assert errors == []
    record = ds("get", key="hits", include_record=True, track_access=False)["record"]
    assert (record["value"], record["version"]) == (1000, 1000)
