"""The per-user namespace registry stays exact: it always equals what is stored."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor


def truth(store, user_id):
    keys, size = defaultdict(int), defaultdict(int)
    for record in store.scan(user_id):
        keys[record.namespace] += 1
        size[record.namespace] += record.size
    return {namespace: (keys[namespace], size[namespace]) for namespace in keys}


def registry(ds):
    return {row["namespace"]: (row["keys"], row["bytes"]) for row in ds("stats")["namespaces"]}


def test_registry_is_exact_under_concurrent_writes_deletes_and_clears(ds, store, user_id):
    def churn(i):
        namespace = f"ns{i % 3}"
        key = f"k{i % 7}"
        ds("set", namespace=namespace, key=key, value="v" * (i % 11), metadata={"i": i})
        if i % 3 == 0:
            ds("delete", namespace=namespace, key=key)
        if i % 5 == 0:
            ds("increment", namespace=namespace, key="counter")
        if i % 17 == 0:
            ds("set_many", namespace=namespace, items={f"m{j}": j for j in range(5)})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(churn, range(60)))
    assert registry(ds) == truth(store, user_id)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: ds("clear", namespace=f"ns{i % 3}") if i % 2 else churn(i), range(12)))
    assert registry(ds) == truth(store, user_id)


def test_expired_records_leave_the_registry_by_the_given_now(ds, store, user_id, clock):
    ds("set", namespace="short", key="a", value=1, ttl_seconds=5)
    ds("set", namespace="short", key="b", value=22, ttl_seconds=50)
    ds("set", namespace="long", key="a", value=1)
    clock.advance(6)
    assert registry(ds) == {"long": (1, 3), "short": (1, 4)}
    clock.advance(60)
    assert ds("list_namespaces")["namespaces"] == ["long"]
    # Physically gone, not only hidden: the purge ran through the expiry index.
    assert [record.key for record in store.scan(user_id, "short")] == []


def test_emptied_registry_entries_are_removed(ds, store, user_id):
    ds("set", namespace="tmp", key="a", value=1)
    ds("delete", namespace="tmp", key="a")
    assert ds("list_namespaces")["namespaces"] == []
    from agent_datastore.stores.dynamodb import registry as dynamodb_registry

    entries = dynamodb_registry.entries(store.db, user_id)
    assert entries == []
    raw = store.db.get_item({"pk": {"S": f"U#{user_id}"}, "sk": {"S": "tmp"}})
    assert raw is None
