"""The namespace registry of `DynamoDBStore`, and the purge of expired records that keeps it exact.

One entry per user and namespace (`U#<user>`, the namespace) holds the key
count, bytes and last write; writes update it in their own transaction.
`list_namespaces` and `stats` first purge the user's expired records
(`purge_expired`, through the sparse expiry index), then Query the user's
`entries`: never a table scan, whatever the number of keys.

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
from agent_datastore.stores.dynamodb import codec
from agent_datastore.stores.dynamodb.client import ConditionFailed
from agent_datastore.stores.dynamodb.table import EXPIRY_INDEX, MAX_RACES, MAX_TX_ITEMS, Raced, Table, names
from agent_datastore.stores.dynamodb.writes import delete_items, registry_update
from agent_datastore.stores.retry import backoff

# How long a TTL removal stays remembered: longer than a stream keeps its
# records (24 hours), so no redelivery can come after its marker is gone.
REMOVAL_MEMORY_SECONDS = 2 * 24 * 3600


def entries(db: Table, user_id: str, prefix: str = "", namespace: str | None = None) -> list[dict[str, Any]]:
    """The user's registry entries holding keys; emptied ones met on the way are removed."""
    values: dict[str, Any] = {":pk": {"S": codec.registry_pk(user_id)}}
    condition, attribute_names = "#pk = :pk", names("pk")
    if namespace is not None:
        condition += " AND #sk = :ns"
        values[":ns"] = {"S": namespace}
    elif prefix:
        condition += " AND begins_with(#sk, :prefix)"
        values[":prefix"] = {"S": prefix}
    if ":ns" in values or ":prefix" in values:
        attribute_names.update(names("sk"))
    items = list(
        db.query(
            KeyConditionExpression=condition,
            ExpressionAttributeNames=attribute_names,
            ExpressionAttributeValues=values,
            ConsistentRead=True,
        )
    )
    live = [item for item in items if int(item.get("n", {"N": "0"})["N"]) > 0]
    for item in items:
        if int(item.get("n", {"N": "0"})["N"]) <= 0:
            _drop_entry(db, item)
    return live


def _drop_entry(db: Table, item: dict[str, Any]) -> None:
    """Remove an emptied namespace entry, unless a write refilled it meanwhile."""
    with contextlib.suppress(ConditionFailed):
        db.call(
            "delete_item",
            TableName=db.name,
            Key={"pk": item["pk"], "sk": item["sk"]},
            ConditionExpression="attribute_not_exists(#n) OR #n <= :zero",
            ExpressionAttributeNames=names("n"),
            ExpressionAttributeValues={":zero": {"N": "0"}},
        )


def users(db: Table) -> Iterator[str]:
    """Every user holding a registry entry with keys, each once (a table scan: operators only)."""
    seen: set[str] = set()
    for item in db.scan(
        FilterExpression="begins_with(#pk, :u) AND #n > :zero",
        ProjectionExpression="#pk",
        ExpressionAttributeNames=names("pk", "n"),
        ExpressionAttributeValues={":u": {"S": codec.REGISTRY_PREFIX}, ":zero": {"N": "0"}},
        ConsistentRead=True,
    ):
        user = item["pk"]["S"][len(codec.REGISTRY_PREFIX) :]
        if user not in seen:
            seen.add(user)
            yield user


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


def purge_expired(db: Table, now: int, user_id: str | None = None) -> int:
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
                delete_items(db, scope, batch, now, only_expired=True)
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
                    delete_items(db, scope, [fresh], now, only_expired=True)
                    purged += 1
                except Raced:
                    continue
    return purged


def forget_ttl_removal(
    db: Table, item: dict[str, Any], event_id: str, now: int
) -> Literal["applied", "replayed", "not_a_record"]:
    """Take a record item that DynamoDB's TTL deleted out of its registry entry, once per stream event.

    `item` is the deleted item (the stream's old image), `event_id` the stream event's id, the same on
    every redelivery. One transaction creates the event's removal marker, conditioned on its absence, and
    decrements the entry: a redelivered event finds the marker and changes nothing. Chunk, registry and
    marker items are not records: their removals change no count. An emptied entry is then removed.
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
    decrement = registry_update(db, scope, -1, -codec.stored_size(item), None)
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
