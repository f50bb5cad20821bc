"""DynamoDB calls per operation, counted with botocore event hooks.

These numbers are the table in docs/aws.md: a change that adds a round
trip fails here.
"""

from __future__ import annotations

import random
import string

MIB = 1024 * 1024


def big_value(seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits + "+/") for _ in range(MIB - 2))


def test_get_is_one_update_item(ds, calls):
    ds("set", key="k", value={"a": 1})
    calls.reset()
    assert ds("get", key="k")["found"]
    assert calls.take() == {"UpdateItem": 1}
    assert ds("get", key="k", track_access=False)["found"]
    assert calls.take() == {"GetItem": 1}
    assert ds("get", key="missing") == {"found": False}
    assert calls.take() == {"UpdateItem": 1}


def test_writes_are_one_read_plus_one_transaction(ds, calls):
    calls.reset()
    ds("set", key="k", value=1)
    assert calls.take() == {"TransactWriteItems": 1}  # a new key: written conditioned on its absence
    ds("set", key="k", value=2, metadata={"m": 1}, if_version=1)
    assert calls.take() == {"GetItem": 1, "TransactWriteItems": 1}  # if_version needs the stored version
    # An overwrite: the blind attempt's failed condition returns the stored item, no GetItem.
    assert ds("set", key="k", value=3, metadata={"n": 2}) == {"version": 3, "created": False}
    assert calls.take() == {"TransactWriteItems": 2}
    record = ds("get", key="k", include_record=True)["record"]
    assert record["metadata"] == {"m": 1, "n": 2} and record["version"] == 3  # merged as before
    calls.reset()
    ds("increment", key="n")
    assert calls.take() == {"GetItem": 1, "TransactWriteItems": 1}
    ds("increment", key="n", by=2.5)
    assert calls.take() == {"GetItem": 1, "TransactWriteItems": 1}
    assert ds("delete", key="k") == {"deleted": True}
    assert calls.take() == {"GetItem": 1, "TransactWriteItems": 1}
    assert ds("delete", key="k") == {"deleted": False}
    assert calls.take() == {"GetItem": 1}


def test_a_lost_race_is_answered_by_the_failed_condition_not_a_new_read(ds, store, calls, user_id):
    from agent_datastore.core.records import Scope
    from agent_datastore.stores.dynamodb.store import DynamoDBStore

    ds("set", key="k", value=1)
    scope = Scope(user_id, "default")
    other = DynamoDBStore(store.table)
    sent = []

    def another_writer_lands_first(**_):
        sent.append(True)
        if len(sent) == 1:  # another writer lands between our read and our write
            other.increment(scope, "k", 10, agent="other", expires_at=None, now=10**13)

    store.client.meta.events.register("before-send.dynamodb.TransactWriteItems", another_writer_lands_first)
    calls.reset()
    record = store.increment(scope, "k", 100, agent="racer", expires_at=None, now=10**13)
    # Each attempt wrote over the version it had: the one read, then the one the race returned.
    guarded = [
        params["TransactItems"][0]["Update"]["ExpressionAttributeValues"][":ver"]["N"]
        for operation, params in calls.log
        if operation == "TransactWriteItems"
    ]
    assert guarded == ["1", "2"] and record.version == 3 and record.value == 111
    # The first transaction fails on the stale version and returns the stored
    # item (ReturnValuesOnConditionCheckFailure): the retry needs no GetItem.
    assert calls.take() == {"GetItem": 1, "TransactWriteItems": 2}


def test_version_conflict_costs_one_read(ds, calls):
    ds("set", key="k", value=1)
    calls.reset()
    try:
        ds("set", key="k", value=2, if_version=7)
    except Exception as exc:
        assert exc.details == {"current_version": 1}
    assert calls.take() == {"GetItem": 1}


def test_batches(ds, calls):
    calls.reset()
    ds("set_many", items={"a": 1, "b": 2, "c": 3})
    assert calls.take() == {"BatchGetItem": 1, "TransactWriteItems": 1}
    ds("get_many", keys=["a", "b", "c", "zz"])
    assert calls.take() == {"BatchGetItem": 1, "TransactWriteItems": 1}  # the 3 counts, batched
    ds("get_many", keys=["a", "b", "c"], track_access=False)
    assert calls.take() == {"BatchGetItem": 1}
    ds("set_many", items={f"k{i:03d}": i for i in range(100)})
    # 99 records + the registry update per transaction.
    assert calls.take() == {"BatchGetItem": 1, "TransactWriteItems": 2}


def test_listings(ds, calls):
    ds("set_many", items={f"k{i:02d}": i for i in range(30)})
    ds("set", namespace="other", key="x", value=1)
    calls.reset()
    assert len(ds("list_keys", limit=10)["keys"]) == 10
    assert calls.take() == {"Query": 1}
    assert ds("list_namespaces")["namespaces"] == ["default", "other"]
    assert calls.take() == {"Query": 2}  # expiry index + registry: independent of the key count
    assert len(ds("stats")["namespaces"]) == 2
    assert calls.take() == {"Query": 2}
    assert ds("clear") == {"deleted": 30}
    assert calls.take() == {"Query": 1, "TransactWriteItems": 1}


def test_one_mib_value_costs(ds, calls):
    big = big_value(1)
    calls.reset()
    ds("set", key="big", value=big)
    assert calls.take() == {"GetItem": 1, "BatchWriteItem": 1, "TransactWriteItems": 1}
    assert ds("get", key="big")["value"] == big
    assert calls.take() == {"UpdateItem": 1, "BatchGetItem": 1}
    ds("set", key="big", value="small")
    # The blind TransactWriteItems fails and returns the stored record, the second writes over it,
    # then one BatchWriteItem removes the old chunks.
    assert calls.take() == {"TransactWriteItems": 2, "BatchWriteItem": 1}


def test_refresh_ttl_rides_on_the_update_item_that_counts_the_read(ds, calls):
    ds("set", key="t", value=1, ttl_seconds=600)
    ds("set", key="plain", value=2)
    calls.reset()
    assert ds("get", key="t", refresh_ttl=True)["found"]
    assert calls.take() == {"UpdateItem": 1}  # as a tracked get: the count and the expiry in one
    assert ds("get", key="t", refresh_ttl=True, track_access=False)["found"]
    assert calls.take() == {"UpdateItem": 1}
    assert ds("get", key="missing", refresh_ttl=True) == {"found": False}
    assert calls.take() == {"UpdateItem": 1}
    # A record without a kept TTL: the failed condition returns it, then the read is counted.
    assert ds("get", key="plain", refresh_ttl=True)["found"]
    assert calls.take() == {"UpdateItem": 2}
    assert ds("get", key="plain", refresh_ttl=True, track_access=False)["found"]
    assert calls.take() == {"UpdateItem": 1}


def test_refresh_ttl_in_batches_and_pages(ds, calls, clock):
    ds("set_many", items={"a": 1, "b": 2}, ttl_seconds=600)
    ds("set", key="c", value=3)
    clock.advance(1)  # a refresh in the write's own millisecond moves nothing, so writes nothing
    calls.reset()
    ds("get_many", keys=["a", "b", "c", "zz"], refresh_ttl=True)
    assert calls.take() == {"BatchGetItem": 1, "TransactWriteItems": 1}  # counts and expiries, batched
    clock.advance(1)
    ds("get_many", keys=["a", "b", "c", "zz"], refresh_ttl=True, track_access=False)
    assert calls.take() == {"BatchGetItem": 1, "TransactWriteItems": 1}  # the 2 records that keep a TTL
    assert list(ds("list_keys", include_records=True)["records"]) == ["a", "b", "c"]
    assert calls.take() == {"Query": 1, "BatchGetItem": 1}  # not a read: nothing written
    clock.advance(1)
    ds("list_keys", include_records=True, refresh_ttl=True)
    assert calls.take() == {"Query": 1, "BatchGetItem": 1, "TransactWriteItems": 1}
    ds("list_keys", include_values=True, track_access=False)
    assert calls.take() == {"Query": 1, "BatchGetItem": 1}


def test_refresh_ttl_of_a_value_in_chunks_moves_the_chunks_first(ds, calls, clock):
    big = big_value(2)
    ds("set", key="big", value=big, ttl_seconds=600)
    clock.advance(1)
    calls.reset()
    assert ds("get", key="big", refresh_ttl=True)["value"] == big
    # The inline-only UpdateItem fails and returns the item; its chunks are read; their TTL moves
    # (one UpdateItem each), then the record's, conditioned on the version read.
    targets = [(operation, params.get("Key", {}).get("pk", {}).get("S", "")[:2]) for operation, params in calls.log]
    assert targets == [("UpdateItem", "R#"), ("BatchGetItem", ""), *[("UpdateItem", "C#")] * 3, ("UpdateItem", "R#")]
    assert "#ver = :ver" in calls.log[-1][1]["ConditionExpression"]
    assert calls.take() == {"UpdateItem": 2 + 3, "BatchGetItem": 1}


def test_a_refresh_that_moves_nothing_writes_nothing(ds, calls):
    # Read in the write's own millisecond, untracked: the expiry is already now + TTL. This once sent
    # an UpdateItem with an empty SET (a ValidationException, answered 500).
    ds("set_many", items={"a": 1, "b": 2}, ttl_seconds=600)
    calls.reset()
    assert ds("get_many", keys=["a", "b"], refresh_ttl=True, track_access=False)["values"] == {"a": 1, "b": 2}
    assert ds("get", key="a", refresh_ttl=True, track_access=False)["found"]
    assert calls.take() == {"BatchGetItem": 1, "UpdateItem": 1}  # get's one UpdateItem is its read


def test_threads_of_one_process_incrementing_one_key_do_not_race(ds, calls):
    # Their writes of one record queue in the process (the write loop's striped lock): each
    # increment is one read and one transaction, none lost to another thread and sent again.
    from concurrent.futures import ThreadPoolExecutor

    ds("set", key="hits", value=0)
    calls.reset()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: [ds.as_agent(f"client-{n}")("increment", key="hits") for _ in range(10)], range(8)))
    assert calls.take() == {"GetItem": 80, "TransactWriteItems": 80}
    record = ds("get", key="hits", include_record=True, track_access=False)["record"]
    assert (record["value"], record["version"]) == (80, 81)
