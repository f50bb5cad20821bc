"""Tracked reads on DynamoDB: at the round-trip floor, at a few write units, exact (issue 12).

Round trips are counted with botocore event hooks (`calls`); capacity units are
computed from the requests by tests/support/capacity.py, the helper
bench/capacity.py bills with.
"""

from __future__ import annotations

import base64
import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from agent_datastore.core.records import Scope, Write
from agent_datastore.stores.dynamodb import codec
from agent_datastore.stores.dynamodb.store import DynamoDBStore
from tests.support.capacity import dynamo_meter


def text(size: int, seed: int = 0) -> str:
    """`size` characters of random base64 text (compresses to about 3/4)."""
    return base64.b64encode(random.Random(seed).randbytes(size))[:size].decode("ascii")


def record(ds: Any, key: str) -> dict[str, Any]:
    found: dict[str, Any] = ds("get", key=key, include_record=True, track_access=False)["record"]
    return found


def stored(store: Any, user_id: str, key: str) -> dict[str, Any]:
    item = store.db.get_item(codec.record_key(Scope(user_id, "default"), key))
    assert item is not None
    return item


@pytest.mark.parametrize("size", [100, 8 * 1024])
def test_a_tracked_get_many_of_100_keys_is_at_most_3_round_trips(ds, calls, size):
    keys = [f"k{i:03d}" for i in range(100)]
    ds("set_many", items={key: text(size, i) for i, key in enumerate(keys)})
    calls.reset()
    values = ds("get_many", keys=keys)["values"]
    assert len(values) == 100
    counts = calls.take()
    # The records, their chunks (values above 4 KiB), and every count in one transaction.
    assert counts == {"BatchGetItem": 1 if size < codec.INLINE_MAX else 2, "TransactWriteItems": 1}
    assert sum(counts.values()) <= 3
    assert {record(ds, key)["accessCount"] for key in keys} == {1}


def test_a_tracked_get_of_a_300_kb_value_costs_at_most_5_write_units(ds, store):
    value = text(300_000)
    ds("set", key="big", value=value)
    meter = dynamo_meter(store)
    with meter.measuring() as bill:
        assert ds("get", key="big")["value"] == value
    assert bill().write <= 5
    assert bill().requests == 2  # the record's UpdateItem, then the chunk's BatchGetItem
    assert record(ds, "big")["accessCount"] == 1


def test_records_written_in_the_former_layout_read_as_before(ds, store, user_id, clock, monkeypatch):
    """Values up to 360 kB were kept inline in the record item: such records still read, count,
    refresh and get rewritten in the current layout."""
    big, mid = text(300_000, 1), text(20_000, 2)
    monkeypatch.setattr(codec, "INLINE_MAX", 360_000)
    ds("set", key="big", value=big)
    ds("set", key="mid", value=mid, ttl_seconds=600)
    monkeypatch.undo()
    assert "vb" in stored(store, user_id, "big") and "v" in stored(store, user_id, "mid")
    assert ds("get", key="big")["value"] == big
    assert ds("get", key="mid", track_access=False)["value"] == mid
    clock.advance(1)
    assert ds("get_many", keys=["big", "mid"], refresh_ttl=True)["values"] == {"big": big, "mid": mid}
    assert ds("get", key="mid", refresh_ttl=True)["value"] == mid
    assert record(ds, "big")["accessCount"] == 2
    mid_record = record(ds, "mid")
    assert mid_record["accessCount"] == 2
    assert ds("list_keys", include_values=True)["values"] == {"big": big, "mid": mid}
    ds("set", key="big", value=big + "!")  # an overwrite writes today's layout, keeps the count
    item = stored(store, user_id, "big")
    assert "vn" in item and not {"v", "vb"} & set(item)
    assert record(ds, "big")["accessCount"] == 3 and ds("get", key="big")["value"] == big + "!"


def test_a_key_deleted_before_its_count_is_missing_and_the_others_are_counted(ds, store, user_id, calls):
    ds("set_many", items={"a": 1, "b": 2, "c": 3})
    other = DynamoDBStore(store.table)
    scope = Scope(user_id, "default")
    sent: list[int] = []

    def delete_b_first(**_: Any) -> None:
        sent.append(1)
        if len(sent) == 1:
            other.delete(scope, "b", if_version=None, now=10**13)

    store.client.meta.events.register("before-send.dynamodb.TransactWriteItems", delete_b_first)
    calls.reset()
    answer = ds("get_many", keys=["a", "b", "c"])
    assert answer["values"] == {"a": 1, "c": 3} and answer["missing"] == ["b"]
    # The cancelled transaction, the one without b, then b read on its own (gone).
    assert calls.take() == {"BatchGetItem": 1, "TransactWriteItems": 2, "UpdateItem": 1}
    assert record(ds, "a")["accessCount"] == 1 and record(ds, "c")["accessCount"] == 1


def test_an_overwrite_before_the_count_keeps_the_count(ds, store, user_id, calls):
    ds("set_many", items={"a": 1, "b": 2})
    other = DynamoDBStore(store.table)
    scope = Scope(user_id, "default")
    sent: list[int] = []

    def overwrite_a_first(**_: Any) -> None:
        sent.append(1)
        if len(sent) == 1:
            other.put(scope, "a", Write("10", "writer"), 10**13)

    store.client.meta.events.register("before-send.dynamodb.TransactWriteItems", overwrite_a_first)
    calls.reset()
    assert ds("get_many", keys=["a", "b"])["values"] == {"a": 1, "b": 2}  # what was read
    assert calls.take() == {"BatchGetItem": 1, "TransactWriteItems": 1}
    after = record(ds, "a")
    assert after["accessCount"] == 1 and after["version"] == 2 and after["value"] == 10


def test_concurrent_reads_and_overwrites_count_every_answered_read_once(ds, store):
    keys = [f"k{i:02d}" for i in range(20)]
    ds("set_many", items={key: 0 for key in keys})
    answered: Counter[str] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def run(work: Any) -> None:
        try:
            work()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    def many(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(12):
            chosen = rng.sample(keys, 10)
            values = ds("get_many", keys=chosen)["values"]
            with lock:
                answered.update(list(values))

    def single(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            key = rng.choice(keys)
            if ds("get", key=key)["found"]:
                with lock:
                    answered[key] += 1

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        for round_ in range(30):
            # Values on both sides of the inline threshold: the record item changes form too.
            ds("set", key=rng.choice(keys), value=text(8000, round_) if round_ % 2 else round_)

    work = [lambda s=s: many(s) for s in range(3)] + [lambda s=s: single(s) for s in range(3, 5)]
    work += [lambda s=s: writer(s) for s in range(5, 7)]
    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors
    assert {key: record(ds, key)["accessCount"] for key in keys} == {key: answered[key] for key in keys}


class Refuse:
    """Answers the next `times` requests of `operation` with DynamoDB's error `body`, unsent (the
    cloud's refusal of a request that meets an item a transaction holds; moto never refuses)."""

    def __init__(self, client: Any, operation: str, times: int, body: dict[str, Any]) -> None:
        self.left, self.body = times, json.dumps(body).encode("utf-8")
        client.meta.events.register(f"before-send.dynamodb.{operation}", self)

    def __call__(self, request: Any, **_: Any) -> Any:
        if self.left <= 0:
            return None
        self.left -= 1
        body = self.body

        class Raw:
            def stream(self, **_: Any) -> Iterator[bytes]:
                yield body

        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0"}, Raw())


ERRORS = "com.amazonaws.dynamodb.v20120810#"


def test_counts_held_by_another_transaction_are_sent_again(ds, store, calls):
    ds("set_many", items={"a": 1, "b": 2})
    held = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
    cancelled = {
        "__type": ERRORS + "TransactionCanceledException",
        "message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
        "CancellationReasons": [{"Code": "None"}, held],
    }
    Refuse(store.client, "TransactWriteItems", 2, cancelled)
    calls.reset()
    assert ds("get_many", keys=["a", "b"])["values"] == {"a": 1, "b": 2}
    assert calls.take() == {"BatchGetItem": 1, "TransactWriteItems": 3}
    assert record(ds, "a")["accessCount"] == 1 and record(ds, "b")["accessCount"] == 1


def test_a_get_of_an_item_a_transaction_holds_is_sent_again(ds, store, calls):
    ds("set", key="a", value=1)
    locked = {"__type": ERRORS + "TransactionConflictException", "message": "Transaction is ongoing for the item"}
    Refuse(store.client, "UpdateItem", 2, locked)
    calls.reset()
    assert ds("get", key="a")["value"] == 1
    assert calls.take() == {"UpdateItem": 3}
    assert record(ds, "a")["accessCount"] == 1


def test_a_refresh_in_get_many_moves_the_chunks_first_then_every_record_at_once(ds, store, user_id, calls, clock):
    keys = [f"t{i}" for i in range(5)]
    ds("set_many", items={key: text(8000, i) for i, key in enumerate(keys)}, ttl_seconds=600)
    clock.advance(100)
    calls.reset()
    assert len(ds("get_many", keys=keys, refresh_ttl=True)["values"]) == 5
    # Records, then their chunks, one TTL move per chunk (concurrently), then one transaction.
    assert calls.take() == {"BatchGetItem": 2, "UpdateItem": 5, "TransactWriteItems": 1}
    expires = clock() + 600_000
    scope = Scope(user_id, "default")
    for key in keys:
        item = stored(store, user_id, key)
        assert int(item["exp"]["N"]) == expires and record(ds, key)["accessCount"] == 1
        (chunk,) = store.db.batch_get(codec.chunk_keys(scope, key, item)).values()
        assert int(chunk["ttl"]["N"]) == codec.ttl_seconds(expires)
