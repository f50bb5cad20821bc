"""The namespace registry of `DynamoDBStore`, and the purge of expired records that keeps it exact.

The registry partition of a user (`U#<user>`) holds, per namespace, up to
`writes.REGISTRY_SHARDS` shard items of its key count, bytes and last
write (shard 0 under the bare namespace, shard i under namespace + NUL +
i); each write adds its deltas to one shard in its own transaction.
`list_namespaces` and `stats` first purge the user's expired records
(`purge_expired`, through the sparse expiry index), then Query the user's
registry partition and sum each namespace's shards (`entries`): never a
table scan, whatever the number of keys; at most `REGISTRY_SHARDS` items
per namespace.

Records that DynamoDB's own TTL deletes first never reach that purge: the
table's stream hands them to `forget_ttl_removal` (through `edges/aws/ttl.py`),
which takes each out of its entry exactly once (docs/aws.md, "Expiry and
the namespace registry").
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, Literal

from agent_datastore.core.errors import BackendUnavailable
from agent_datastore.core.records import NamespaceStats
from agent_datastore.stores.dynamodb import codec
from agent_datastore.stores.dynamodb.client import ConditionFailed
from agent_datastore.stores.dynamodb.table import EXPIRY_INDEX, MAX_RACES, MAX_TX_ITEMS, Raced, Table, names
from agent_datastore.stores.dynamodb.writes import (
    REGISTRY_SHARDS,
    SHARDS_END,
    delete_items,
    namespace_of,
    registry_update,
    shard_of,
)
from agent_datastore.stores.retry import backoff

# How long a TTL removal stays remembered: longer than a stream keeps its
# records (24 hours), so no redelivery can come after its marker is gone.
REMOVAL_MEMORY_SECONDS = 2 * 24 * 3600
# The counters of a registry item, each summed (n, b) or maximised (ua) over a namespace's shards.
COUNTERS = ("n", "b", "ua")
# Actions of one TransactWriteItems.
MAX_ACTIONS = MAX_TX_ITEMS + 1

Item = dict[str, Any]


def _number(item: Item, name: str) -> int:
    return int(item.get(name, {"N": "0"})["N"])


def entries(db: Table, user_id: str, prefix: str = "", namespace: str | None = None) -> list[NamespaceStats]:
    """The user's namespaces holding keys, in order, each the sum of its shard items (one Query of
    the registry partition); emptied namespaces met on the way are removed."""
    values: dict[str, Any] = {":pk": {"S": codec.registry_pk(user_id)}}
    condition, attribute_names = "#pk = :pk", names("pk")
    if namespace is not None:
        condition += " AND #sk BETWEEN :ns AND :end"
        values[":ns"] = {"S": namespace}
        values[":end"] = {"S": namespace + SHARDS_END}
    elif prefix:
        condition += " AND begins_with(#sk, :prefix)"
        values[":prefix"] = {"S": prefix}
    if ":ns" in values or ":prefix" in values:
        attribute_names.update(names("sk"))
    shards: dict[str, list[Item]] = defaultdict(list)
    for item in db.query(
        KeyConditionExpression=condition,
        ExpressionAttributeNames=attribute_names,
        ExpressionAttributeValues=values,
        ConsistentRead=True,
    ):
        shards[namespace_of(item["sk"]["S"])].append(item)
    live = []
    for name, items in shards.items():
        keys = sum(_number(item, "n") for item in items)
        if keys > 0:
            size = sum(_number(item, "b") for item in items)
            live.append(NamespaceStats(name, keys, size, max(_number(item, "ua") for item in items)))
        else:
            _drop_namespace(db, items)
    return live


def _unchanged(item: Item) -> dict[str, Any]:
    """The condition that a registry item still holds the counters it was read with."""
    parts, values = [], {}
    for name in COUNTERS:
        if name in item:
            parts.append(f"#{name} = :{name}")
            values[f":{name}"] = item[name]
        else:
            parts.append(f"attribute_not_exists(#{name})")
    condition: dict[str, Any] = {"ConditionExpression": " AND ".join(parts)}
    condition["ExpressionAttributeNames"] = names(*COUNTERS)
    if values:
        condition["ExpressionAttributeValues"] = values
    return condition


def _delete_unchanged(db: Table, item: Item) -> dict[str, Any]:
    return {"Delete": {"TableName": db.name, "Key": {"pk": item["pk"], "sk": item["sk"]}, **_unchanged(item)}}


def _drop_namespace(db: Table, items: list[Item]) -> None:
    """Remove the shard items of an emptied namespace (their counts sum to 0), unless a write changed
    one meanwhile. They go together, in one transaction, each conditioned on holding what was read:
    one shard may hold -1 and another +1, so removing only some would change the sum. A write to a
    shard not read (a new item) is not affected: what is removed sums to nothing. Past 100 items,
    the others are first folded into the first (deleted, their counts added to it), 99 at a time."""
    with contextlib.suppress(ConditionFailed, Raced):
        if len(items) == 1:
            action = _delete_unchanged(db, items[0])["Delete"]
            db.call("delete_item", **action)
            return
        target, rest = dict(items[0]), items[1:]
        while len(rest) >= MAX_ACTIONS:
            folded, rest = rest[:MAX_TX_ITEMS], rest[MAX_TX_ITEMS:]
            keys, size = sum(_number(item, "n") for item in folded), sum(_number(item, "b") for item in folded)
            fold = {
                "Update": {
                    "TableName": db.name,
                    "Key": {"pk": target["pk"], "sk": target["sk"]},
                    "UpdateExpression": "ADD #n :dn, #b :db",
                    "ExpressionAttributeNames": names("n", "b"),
                    "ExpressionAttributeValues": {":dn": {"N": str(keys)}, ":db": {"N": str(size)}},
                }
            }
            db.transact([fold, *(_delete_unchanged(db, item) for item in folded)])
            target["n"] = {"N": str(_number(target, "n") + keys)}
            target["b"] = {"N": str(_number(target, "b") + size)}
        db.transact([_delete_unchanged(db, item) for item in [target, *rest]])


def users(db: Table) -> Iterator[str]:
    """Every user holding a namespace with keys, each once (a table scan: operators only)."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for item in db.scan(
        FilterExpression="begins_with(#pk, :u)",
        ProjectionExpression="#pk, #sk, #n",
        ExpressionAttributeNames=names("pk", "sk", "n"),
        ExpressionAttributeValues={":u": {"S": codec.REGISTRY_PREFIX}},
        ConsistentRead=True,
    ):
        counts[(item["pk"]["S"][len(codec.REGISTRY_PREFIX) :], namespace_of(item["sk"]["S"]))] += _number(item, "n")
    yield from dict.fromkeys(user for (user, _), keys in counts.items() if keys > 0)


def _expired_items(db: Table, now: int, user_id: str | None) -> list[dict[str, Any]]:
    attribute_names = names("exp")
    values: dict[str, Any] = {":now": {"N": str(now)}}
    if user_id is not None:
        # The sparse expiry index holds only records with an expiry, per user.
        attribute_names.update(names("xu"))
        values[":u"] = {"S": codec.registry_pk(user_id)}
        return list(
            db.query(
                IndexName=EXPIRY_INDEX,
                KeyConditionExpression="#xu = :u AND #exp <= :now",
                ExpressionAttributeNames=attribute_names,
                ExpressionAttributeValues=values,
            )
        )
    attribute_names.update(names("pk"))
    values[":r"] = {"S": codec.RECORD_PREFIX}
    return list(
        db.scan(
            FilterExpression="begins_with(#pk, :r) AND #exp <= :now",
            ExpressionAttributeNames=attribute_names,
            ExpressionAttributeValues=values,
            ConsistentRead=True,
        )
    )


def purge_expired(db: Table, now: int, user_id: str | None = None, *, shards: int = REGISTRY_SHARDS) -> int:
    """Delete records expired at `now` (the table's TTL may not have removed them yet)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in _expired_items(db, now, user_id):
        groups[item["pk"]["S"]].append(item)
    purged = 0
    for pk, items in groups.items():
        scope = codec.parse_scope(pk)
        for start in range(0, len(items), MAX_TX_ITEMS):
            batch = items[start : start + MAX_TX_ITEMS]
            try:
                delete_items(db, scope, batch, now, shards=shards, only_expired=True)
                purged += len(batch)
                continue
            except Raced:
                pass
            # The index is eventually consistent: go one by one from fresh reads.
            for stale in batch:
                fresh = db.get_item(codec.record_key(scope, stale["sk"]["S"]), codec.META_ATTRIBUTES)
                if fresh is None or codec.is_live(fresh, now):
                    continue
                try:
                    delete_items(db, scope, [fresh], now, shards=shards, only_expired=True)
                    purged += 1
                except Raced:
                    continue
    return purged


def forget_ttl_removal(
    db: Table, item: dict[str, Any], event_id: str, now: int, *, shards: int = REGISTRY_SHARDS
) -> Literal["applied", "replayed", "not_a_record"]:
    """Take a record item that DynamoDB's TTL deleted out of its registry entry, once per stream event.

    `item` is the deleted item (the stream's old image), `event_id` the stream event's id, the same on
    every redelivery. One transaction creates the event's removal marker, conditioned on its absence, and
    decrements the entry (the shard of the record's key): a redelivered event finds the marker and
    changes nothing. Chunk, registry and marker items are not records: their removals change no count.
    An emptied entry is then removed.
    """
    pk = item["pk"]["S"]
    if not pk.startswith(codec.RECORD_PREFIX):
        return "not_a_record"
    scope = codec.parse_scope(pk)
    marker = {
        "Update": {
            "TableName": db.name,
            "Key": codec.removal_key(scope, event_id),
            "UpdateExpression": "SET #ttl = :ttl",
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": names("ttl", "pk"),
            "ExpressionAttributeValues": {":ttl": {"N": str(now // 1000 + REMOVAL_MEMORY_SECONDS)}},
        }
    }
    # An expiry is not a write: the entry's last write time stays as it is.
    shard = shard_of(item["sk"]["S"], shards)
    decrement = registry_update(db, scope, -1, -codec.stored_size(item), None, shard=shard)
    for attempt in range(MAX_RACES):
        try:
            db.transact([marker, decrement])
        except Raced as race:
            if not race.reread:  # exactly one failed condition, the marker's: applied before
                return "replayed"
            backoff(attempt)  # a concurrent write to the same entry: try again
            continue
        entries(db, scope.user_id, namespace=scope.namespace)  # removes the entry if that emptied it
        return "applied"
    raise BackendUnavailable("the namespace registry is being written too often; retry shortly")
