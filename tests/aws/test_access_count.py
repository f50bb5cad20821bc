"""A write keeps the reads counted while it was under way (API.md section 2).

A write reads the stored record, then writes it guarded by its version. A read
does not change the version, so a read landing in between used to be wiped
out by the write's whole-item Put. The write now SETs only the fields it owns
and moves `accessCount` by ADD, so such a read stays counted.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from agent_datastore.core.records import Scope
from agent_datastore.stores.dynamodb import codec
from agent_datastore.stores.dynamodb.store import DynamoDBStore

from .test_round_trips import big_value

VALUES = {
    "inline": lambda seed: {"n": seed},
    # Compressed to under codec.INLINE_MAX (4 KiB): kept inline, as zlib bytes.
    "compressed": lambda seed: {"rows": [{"id": i % 50, "seed": seed} for i in range(20000)]},
    "chunked": big_value,
}


def read_before_each_write(store: Any, other: DynamoDBStore, scope: Scope, key: str, clock: Any) -> list[int]:
    """Before each transaction of `store` reaches the server, another client counts a read of `key`."""
    reads: list[int] = []

    def read(**_: Any) -> None:
        if other.get(scope, key, reader="reader", now=clock()) is not None:
            reads.append(1)

    store.client.meta.events.register("before-send.dynamodb.TransactWriteItems", read)
    return reads


def stored(store: Any, scope: Scope, key: str) -> dict[str, Any]:
    item = store.db.get_item(codec.record_key(scope, key))
    assert item is not None
    return item


@pytest.mark.parametrize("kind", list(VALUES))
def test_a_read_between_a_writes_read_and_its_transaction_is_kept(ds, store, user_id, clock, kind):
    scope = Scope(user_id, "default")
    make = VALUES[kind]
    ds("set", key="k", value=make(1), metadata={"keep": 1})
    reads = read_before_each_write(store, DynamoDBStore(store.table), scope, "k", clock)
    for seed in range(2, 5):
        ds("set", key="k", value=make(seed), metadata={f"m{seed}": seed})
    record = ds("get", key="k", include_record=True, track_access=False)["record"]
    # A value that stays inline is first sent blind (refused: the key exists, and the stored item
    # comes back with the refusal), then guarded by that item's version: two transactions per
    # overwrite, a read before each, the second between the write's read and its transaction.
    # A larger value is read first, then written in one transaction.
    transactions = 2 if kind == "inline" else 1
    assert len(reads) == 3 * transactions
    assert record["accessCount"] == 3 * transactions
    assert record["lastAccessedByAgent"] == "agent-a"  # the writer's transaction landed last
    assert record["version"] == 4 and record["createdByAgent"] == "agent-a"
    assert record["metadata"] == {"keep": 1, "m2": 2, "m3": 3, "m4": 4}
    assert ds("get", key="k")["value"] == make(4)


def test_increments_keep_the_reads_made_meanwhile(ds, store, user_id, clock):
    scope = Scope(user_id, "default")
    ds("set", key="n", value=0)
    reads = read_before_each_write(store, DynamoDBStore(store.table), scope, "n", clock)
    for _ in range(3):
        ds("increment", key="n")
    record = ds("get", key="n", include_record=True, track_access=False)["record"]
    assert len(reads) == 3 and record["accessCount"] == 3
    assert record["value"] == 3 and record["version"] == 4


def test_a_write_changing_the_values_form_leaves_no_stale_attribute(ds, store, user_id):
    scope = Scope(user_id, "default")
    forms = {"v": "inline", "vb": "compressed", "vn": "chunked"}
    ds("set", key="k", value=VALUES["chunked"](1), ttl_seconds=100)
    for attribute, kind in [("v", "inline"), ("vb", "compressed"), ("vn", "chunked"), ("v", "inline")]:
        ds("set", key="k", value=VALUES[kind](2))
        item = stored(store, scope, "k")
        assert [name for name in forms if name in item] == [attribute]
        assert not {"exp", "ttl", "xu"} & set(item)  # this write asked for no expiry
        if attribute != "vn":
            assert not {"vg", "vz"} & set(item)
        assert ds("get", key="k")["value"] == VALUES[kind](2)


def test_a_key_recreated_over_its_expired_record_starts_at_zero_reads(ds, clock):
    ds("set", key="k", value=1, ttl_seconds=1)
    for _ in range(3):
        ds("get", key="k")
    clock.advance(2)
    assert ds("set", key="k", value=2) == {"version": 1, "created": True}
    record = ds("get", key="k", include_record=True, track_access=False)["record"]
    assert record["accessCount"] == 0 and record["expiresAt"] is None


def test_restore_writes_the_access_count_given(ds, store, user_id):
    ds("set", key="k", value=1)
    for _ in range(3):
        ds("get", key="k")
    (record,) = [r for r in store.scan(user_id) if r.key == "k"]
    assert record.access_count == 3
    store.restore(replace(record, access_count=7, version=9))
    restored = ds("get", key="k", include_record=True, track_access=False)["record"]
    assert restored["accessCount"] == 7 and restored["version"] == 9
