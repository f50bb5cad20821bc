"""Records deleted by DynamoDB's TTL leave the namespace registry: the real ttl_sweeper handler, fed the
stream events AWS sends for TTL deletions, on the local DynamoDB server.

moto has no TTL process, so a test does what it does: delete the expired item directly (boto3, no
condition, no registry update) and hand the consumer the stream record of that deletion. Its shape is
the one AWS documents for Lambda's DynamoDB Streams events (eventID, eventName, eventVersion 1.1,
eventSource, awsRegion, dynamodb.{ApproximateCreationDateTime, Keys, OldImage, SequenceNumber, SizeBytes,
StreamViewType}, eventSourceARN) with the TTL deleter's identity, `userIdentity: {"type": "Service",
"principalId": "dynamodb.amazonaws.com"}` (DynamoDB developer guide, "DynamoDB Streams and Time to Live").
"""

from __future__ import annotations

import base64
import importlib.util
import itertools
import json
import time
import uuid
from typing import Any

import pytest

from agent_datastore.core.records import Scope
from agent_datastore.edges.aws import ttl as aws_ttl
from agent_datastore.stores.dynamodb import codec
from agent_datastore.stores.dynamodb import registry as dynamodb_registry
from agent_datastore.stores.dynamodb.table import Raced
from agent_datastore.stores.dynamodb.writes import delete_items

from .conftest import Calls
from .iam import ROOT, TTL_SWEEPER_NEEDS, iam_actions
from .test_round_trips import big_value

TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
_sequence = itertools.count(int(time.time()) * 10**9)


@pytest.fixture
def sweeper(table, monkeypatch):
    """functions/aws/ttl_sweeper/app.py, configured only through the environment, as in Lambda."""
    monkeypatch.setenv("STORE_BACKEND", "dynamodb")
    monkeypatch.setenv("DYNAMODB_TABLE", table)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    path = ROOT / "functions" / "aws" / "ttl_sweeper" / "app.py"
    spec = importlib.util.spec_from_file_location("aws_app_ttl_sweeper", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def _as_event_json(value: Any) -> Any:
    """An attribute value as a Lambda event carries it (JSON; binary as base64)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {name: _as_event_json(inner) for name, inner in value.items()}
    if isinstance(value, list):
        return [_as_event_json(inner) for inner in value]
    return value


def stream_record(table: str, item: dict[str, Any], *, identity: dict[str, str] | None = TTL_IDENTITY) -> dict:
    """The stream record of `item`'s deletion as Lambda delivers it (OLD_IMAGE stream)."""
    old_image = _as_event_json(item)
    record: dict[str, Any] = {
        "eventID": uuid.uuid4().hex,
        "eventName": "REMOVE",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "ApproximateCreationDateTime": int(time.time()),
            "Keys": {"pk": old_image["pk"], "sk": old_image["sk"]},
            "OldImage": old_image,
            "SequenceNumber": str(next(_sequence)),
            "SizeBytes": len(json.dumps(old_image)),
            "StreamViewType": "OLD_IMAGE",
        },
        "eventSourceARN": f"arn:aws:dynamodb:eu-west-1:123456789012:table/{table}/stream/2026-01-01T00:00:00.000",
    }
    if identity is not None:
        record["userIdentity"] = dict(identity)
    return record


def event(*records: dict) -> dict:
    return json.loads(json.dumps({"Records": list(records)}))  # exactly JSON, as Lambda hands it over


def ttl_delete(store, key: dict[str, Any], **kwargs: Any) -> dict:
    """Delete an item the way DynamoDB's TTL does (directly, nothing else) and return its stream record."""
    item = store.client.delete_item(TableName=store.table, Key=key, ReturnValues="ALL_OLD")["Attributes"]
    return stream_record(store.table, item, **kwargs)


def record_key(user_id: str, namespace: str, key: str) -> dict[str, Any]:
    return codec.record_key(Scope(user_id, namespace), key)


def stats(ds) -> dict[str, tuple[int, int, str]]:
    return {row["namespace"]: (row["keys"], row["bytes"], row["updatedAt"]) for row in ds("stats")["namespaces"]}


def registry_entry(store, user_id: str, namespace: str) -> dict[str, Any] | None:
    """The namespace's registry shard items as stored, summed (None: no item left)."""
    from agent_datastore.stores.dynamodb.writes import SHARDS_END

    items = list(
        store.db.query(
            KeyConditionExpression="#pk = :pk AND #sk BETWEEN :ns AND :end",
            ExpressionAttributeNames={"#pk": "pk", "#sk": "sk"},
            ExpressionAttributeValues={
                ":pk": {"S": codec.registry_pk(user_id)},
                ":ns": {"S": namespace},
                ":end": {"S": namespace + SHARDS_END},
            },
            ConsistentRead=True,
        )
    )
    if not items:
        return None
    return {name: {"N": str(sum(int(item.get(name, {"N": "0"})["N"]) for item in items))} for name in ("n", "b")}


def test_ttl_deleted_records_leave_counts_bytes_and_emptied_namespaces(ds, store, sweeper, user_id, clock):
    ds("set", namespace="gone", key="a", value={"n": 1}, ttl_seconds=5)
    ds("set", namespace="gone", key="b", value="bee", metadata={"m": 1}, ttl_seconds=5)
    ds("set", namespace="kept", key="x", value=[1, 2, 3], ttl_seconds=5)
    ds("set", namespace="kept", key="y", value="stays")
    ds("set", namespace="kept", key="z", value={"long": True}, ttl_seconds=500)
    before = stats(ds)
    assert before["gone"][0] == 2 and before["kept"][0] == 3
    only_y_z = before["kept"][1] - len("[1,2,3]") - len("{}")  # bytes: value + metadata, compact JSON

    # DynamoDB's TTL gets there first: three deletions of two namespaces, one stream batch.
    records = [ttl_delete(store, record_key(user_id, ns, key)) for ns, key in [("gone", "a"), ("kept", "x")]]
    records.append(ttl_delete(store, record_key(user_id, "gone", "b")))
    assert sweeper(event(*records), None) == {"batchItemFailures": []}

    # Taken out of the registry by the consumer alone (no listing has purged anything yet).
    assert registry_entry(store, user_id, "gone") is None  # emptied: removed
    entry = registry_entry(store, user_id, "kept")
    assert (int(entry["n"]["N"]), int(entry["b"]["N"])) == (2, only_y_z)

    clock.advance(6)  # what users see once the keys have expired
    assert ds("list_namespaces")["namespaces"] == ["kept"]
    # An expiry is not a write: updatedAt stays the namespace's last write.
    assert stats(ds) == {"kept": (2, only_y_z, before["kept"][2])}
    assert ds("stats", namespace="gone")["namespaces"] == []
    assert [record.key for record in store.scan(user_id)] == ["y", "z"]


def test_a_redelivered_event_is_applied_once(ds, store, sweeper, user_id):
    ds("set", namespace="n", key="a", value=1, ttl_seconds=5)
    ds("set", namespace="n", key="b", value=22, ttl_seconds=5)
    ds("set", namespace="n", key="c", value=333)
    record = ttl_delete(store, record_key(user_id, "n", "a"))
    assert sweeper(event(record), None) == {"batchItemFailures": []}
    after_once = stats(ds)
    assert after_once["n"][:2] == (2, 4 + 5)
    # Lambda retries a batch (a timeout, a crash after the write) or a bisected half: same records again.
    assert sweeper(event(record), None) == {"batchItemFailures": []}
    assert sweeper(event(record, record), None) == {"batchItemFailures": []}
    assert stats(ds) == after_once
    assert aws_ttl.sweep(sweeper.store(), record, int(time.time() * 1000)) == "replayed"
    # Another removal in the same namespace still counts (the marker is per stream event).
    other = ttl_delete(store, record_key(user_id, "n", "b"))
    assert sweeper(event(record, other, other), None) == {"batchItemFailures": []}
    assert stats(ds)["n"][:2] == (1, 5)


def test_removals_not_made_by_the_ttl_service_are_ignored(ds, store, sweeper, user_id, table):
    ds("set", namespace="n", key="a", value=1, ttl_seconds=5)
    ds("set", namespace="n", key="b", value=2)
    item = store.db.get_item(record_key(user_id, "n", "a"))
    before = stats(ds)
    # A user's delete (through the store: it already decremented in its own transaction).
    assert ds("delete", namespace="n", key="a") == {"deleted": True}
    after_delete = stats(ds)
    assert after_delete["n"][:2] == (1, before["n"][1] - 3)
    user_remove = stream_record(table, item, identity=None)
    other_service = stream_record(table, item, identity={"type": "Service", "principalId": "other.amazonaws.com"})
    not_a_service = stream_record(table, item, identity={"type": "User", "principalId": "dynamodb.amazonaws.com"})
    modify = {**stream_record(table, item), "eventName": "MODIFY"}
    assert sweeper(event(user_remove, other_service, not_a_service, modify), None) == {"batchItemFailures": []}
    assert stats(ds) == after_delete
    assert aws_ttl.sweep(sweeper.store(), user_remove, 0) == "ignored"


def test_chunks_carry_the_record_ttl_and_their_removals_are_ignored(ds, store, sweeper, user_id):
    scope = Scope(user_id, "big")
    ds("set", namespace="big", key="k", value=big_value(3), ttl_seconds=60)
    ds("set", namespace="big", key="small", value="s", ttl_seconds=60)
    record = store.db.get_item(codec.record_key(scope, "k"))
    chunk_keys = codec.chunk_keys(scope, "k", record)
    assert len(chunk_keys) >= 2
    # The chunks expire with their record: DynamoDB's TTL removes them too, nobody has to.
    for key in chunk_keys:
        assert store.db.get_item(key)["ttl"] == record["ttl"]
    before = stats(ds)
    chunk_events = [ttl_delete(store, key) for key in chunk_keys]
    assert sweeper(event(*chunk_events), None) == {"batchItemFailures": []}
    assert stats(ds) == before
    assert aws_ttl.sweep(sweeper.store(), chunk_events[0], 0) == "not_a_record"
    # The record itself takes its whole stored size with it.
    assert sweeper(event(ttl_delete(store, codec.record_key(scope, "k"))), None) == {"batchItemFailures": []}
    assert stats(ds)["big"][:2] == (1, before["big"][1] - int(record["sz"]["N"]))
    assert sweeper(event(ttl_delete(store, codec.record_key(scope, "small"))), None) == {"batchItemFailures": []}
    assert ds("list_namespaces")["namespaces"] == []


def test_the_purge_and_the_ttl_process_never_both_decrement(ds, store, sweeper, user_id, clock):
    ds("set", namespace="n", key="a", value=1, ttl_seconds=5)
    ds("set", namespace="n", key="b", value=2)
    scope = Scope(user_id, "n")
    stale = store.db.get_item(codec.record_key(scope, "a"), codec.META_ATTRIBUTES)
    assert sweeper(event(ttl_delete(store, codec.record_key(scope, "a"))), None) == {"batchItemFailures": []}
    after_ttl = stats(ds)
    assert after_ttl["n"][:2] == (1, 3)
    clock.advance(6)
    # The expiry index is eventually consistent: a purge may still list the TTL-deleted item. Its
    # delete is conditioned on the item as read, so it cannot pass, and the registry is untouched.
    with pytest.raises(Raced):
        delete_items(store.db, scope, [stale], clock(), only_expired=True)
    assert dynamodb_registry.purge_expired(store.db, clock(), user_id) == 0
    assert stats(ds) == after_ttl
    # The other order: the store's purge deletes first, in the transaction that decrements; DynamoDB's
    # TTL then finds no item and emits nothing; the purge's own REMOVE carries no TTL identity.
    ds("set", namespace="p", key="a", value=1, ttl_seconds=5)
    ds("set", namespace="p", key="b", value=2)
    purged_item = store.db.get_item(codec.record_key(Scope(user_id, "p"), "a"))
    clock.advance(6)
    assert stats(ds)["p"][:2] == (1, 3)
    assert store.db.get_item(codec.record_key(Scope(user_id, "p"), "a")) is None
    purge_remove = stream_record(store.table, purged_item, identity=None)
    assert sweeper(event(purge_remove), None) == {"batchItemFailures": []}
    assert stats(ds)["p"][:2] == (1, 3)


def test_a_record_that_cannot_be_applied_is_reported_and_the_batch_resumes_from_it(ds, store, sweeper, user_id):
    for key in "abc":
        ds("set", namespace="n", key=key, value=key, ttl_seconds=5)
    first, broken, last = (ttl_delete(store, record_key(user_id, "n", key)) for key in "abc")
    keys_only = json.loads(json.dumps(broken))
    del keys_only["dynamodb"]["OldImage"]  # a KEYS_ONLY stream: no size to take out
    keys_only["dynamodb"]["StreamViewType"] = "KEYS_ONLY"
    answer = sweeper(event(first, keys_only, last), None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": keys_only["dynamodb"]["SequenceNumber"]}]}
    assert stats(ds)["n"][:2] == (2, 10)  # only `first` applied; `last` comes again with the retry
    assert sweeper(event(broken, last), None) == {"batchItemFailures": []}
    assert ds("list_namespaces")["namespaces"] == []


def test_the_sweeper_calls_only_what_its_role_grants(ds, store, sweeper, user_id):
    ds("set", namespace="n", key="a", value=1, ttl_seconds=5)
    ds("set", namespace="n", key="b", value=1, ttl_seconds=5)
    calls = Calls(sweeper.store().client)
    record = ttl_delete(store, record_key(user_id, "n", "a"))
    sweeper(event(record, record, ttl_delete(store, record_key(user_id, "n", "b"))), None)
    used = set().union(*(iam_actions(name, params) for name, params in calls.log))
    assert used == TTL_SWEEPER_NEEDS
    # The markers that make redelivery harmless expire themselves (after the stream's 24 hours).
    markers = list(
        store.db.query(
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": "pk"},
            ExpressionAttributeValues={":pk": {"S": codec.REMOVAL_PREFIX + codec.scope_body(Scope(user_id, "n"))}},
            ConsistentRead=True,
        )
    )
    assert len(markers) == 2
    assert all(int(marker["ttl"]["N"]) > time.time() + 24 * 3600 for marker in markers)
