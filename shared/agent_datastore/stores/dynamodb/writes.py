"""The guarded transactions every write of `DynamoDBStore` is made of.

Every write is one TransactWriteItems of record actions, each conditioned
on the version read (or on the record still being absent), plus one update
of the namespace registry, so the registry stays exact whatever races: a
failed condition raises `Raced`. Chunks of a large value are written before
the transaction that names them, and those of the replaced version deleted
after it.

The registry entry of a namespace is split into up to `REGISTRY_SHARDS`
shard items, so that writers of distinct keys do not all meet on one item
(a transaction touching an item another transaction has in flight is
refused with `TransactionConflict`). A write adds its deltas to the shard
its key hashes to (a batch: that of its first key); readers sum the shards
(`registry.entries`). Shard 0's sort key is the bare namespace, today's
(unsharded) entry, so tables written before the shards need no conversion.
docs/scale.md has the arithmetic behind the shard count.
"""

from __future__ import annotations

import logging
from typing import Any

from agent_datastore.core.errors import DataStoreError
from agent_datastore.core.records import Record, Scope, Write
from agent_datastore.stores.dynamodb import codec
from agent_datastore.stores.dynamodb.table import MAX_TX_BYTES, MAX_TX_ITEMS, Table, names

logger = logging.getLogger("agent_datastore.dynamodb")

# (stored item or None, the record to write over it)
Plan = list[tuple[dict[str, Any] | None, Record]]
# Per-item overhead counted against the transaction size limit (keys, fields).
ITEM_OVERHEAD = 4096
# Shards of a namespace's registry entry: with 16 concurrent writers a write meets a shard another
# has in flight with probability about 1-(1-1/N)**15, 0.09 at 160 (docs/scale.md). Readers sum
# every shard they find, so changing this number needs no conversion of a table.
REGISTRY_SHARDS = 160
# Between a namespace and its shard number in a shard's sort key: a namespace never holds NUL
# (API.md section 3), and NUL sorts first, so a namespace's shards follow its bare name and
# precede every other namespace in the registry partition.
SHARD_MARK = "\x00"
# Sorts after every shard sort key of a namespace (shard numbers are decimal digits).
SHARDS_END = SHARD_MARK + "\x7f"


def shard_of(key: str, shards: int) -> int:
    """The registry shard a write of `key` goes to: from the key's hash, so that a namespace with
    k keys has at most k shard items, and a key's deletion meets the shard its creation added to."""
    return int(codec.key_digest(key)[:8], 16) % shards if shards > 1 else 0


def shard_sort_key(namespace: str, shard: int) -> str:
    return namespace if shard == 0 else f"{namespace}{SHARD_MARK}{shard}"


def namespace_of(sort_key: str) -> str:
    """The namespace of a registry item's sort key."""
    return sort_key.partition(SHARD_MARK)[0]


def registry_update(
    db: Table, scope: Scope, keys: int, size: int, updated_at: int | None, *, shard: int = 0
) -> dict[str, Any]:
    """The transaction action that adds `keys` and `size` to one shard of the scope's registry entry;
    `updated_at` (None: left as it is) becomes its last write time."""
    expression, attributes = "ADD #n :dn, #b :db", ["n", "b"]
    values = {":dn": {"N": str(keys)}, ":db": {"N": str(size)}}
    if updated_at is not None:
        expression += " SET #ua = :ua"
        attributes.append("ua")
        values[":ua"] = {"N": str(updated_at)}
    return {
        "Update": {
            "TableName": db.name,
            "Key": {"pk": {"S": codec.registry_pk(scope.user_id)}, "sk": {"S": shard_sort_key(scope.namespace, shard)}},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names(*attributes),
            "ExpressionAttributeValues": values,
        }
    }


def _guard(old: dict[str, Any] | None) -> dict[str, Any]:
    """Condition that the stored record is still `old` (or still absent)."""
    if old is None:
        return {"ConditionExpression": "attribute_not_exists(#pk)", "ExpressionAttributeNames": names("pk")}
    return {
        "ConditionExpression": "#ver = :ver",
        "ExpressionAttributeNames": names("ver"),
        "ExpressionAttributeValues": {":ver": old["ver"]},
    }


def _write_action(
    db: Table, scope: Scope, old: dict[str, Any] | None, record: Record, payload: codec.Payload
) -> dict[str, Any]:
    """An Update (not a Put) that writes `record` over `old`: it SETs every field a write owns,
    REMOVEs the optional ones the new record lacks, and moves `accessCount` by its difference from
    `old` (0 for an overwrite, which keeps it) with ADD, so a read's `ADD` landing between our read
    and this write is kept. Reads do not change the version, so the guard cannot see them."""
    item = codec.record_item(scope, record, payload)
    fields = [name for name in item if name not in ("pk", "sk", "ac")]
    removed = [name for name in codec.OPTIONAL_ATTRIBUTES if name not in item]
    expression = "SET " + ", ".join(f"#{name} = :new_{name}" for name in fields) + " ADD #ac :new_ac"
    if removed:
        expression += " REMOVE " + ", ".join(f"#{name}" for name in removed)
    guard = _guard(old)
    access_delta = record.access_count - (int(old["ac"]["N"]) if old is not None else 0)
    return {
        "Update": {
            "TableName": db.name,
            "Key": codec.record_key(scope, record.key),
            "UpdateExpression": expression,
            "ConditionExpression": guard["ConditionExpression"],
            "ExpressionAttributeNames": {**guard["ExpressionAttributeNames"], **names("ac", *fields, *removed)},
            "ExpressionAttributeValues": {
                **guard.get("ExpressionAttributeValues", {}),
                **{f":new_{name}": item[name] for name in fields},
                ":new_ac": {"N": str(access_delta)},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def _delete_action(
    db: Table, scope: Scope, old: dict[str, Any], extra: str, values: dict[str, Any] | None
) -> dict[str, Any]:
    guard = _guard(old)
    return {
        "Delete": {
            "TableName": db.name,
            "Key": codec.record_key(scope, old["sk"]["S"]),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            "ConditionExpression": guard["ConditionExpression"] + extra,
            "ExpressionAttributeNames": {**guard["ExpressionAttributeNames"], **({"#exp": "exp"} if extra else {})},
            "ExpressionAttributeValues": {**guard["ExpressionAttributeValues"], **(values or {})},
        }
    }


def _delete_chunks(db: Table, scope: Scope, items: list[dict[str, Any] | None]) -> None:
    """Delete the chunks these record items name, all in the same BatchWriteItem requests."""
    keys = [key for item in items if item is not None for key in codec.chunk_keys(scope, item["sk"]["S"], item)]
    if not keys:
        return
    try:
        db.batch_write([{"DeleteRequest": {"Key": key}} for key in keys])
    except DataStoreError as exc:  # the write itself succeeded; chunks of a dead version stay behind
        logger.warning("could not delete %d old chunks: %s", len(keys), exc.message)


def write_records(db: Table, scope: Scope, plan: Plan, updated_at: int, *, shards: int = REGISTRY_SHARDS) -> None:
    """Write each record over its stored item (at most 99), with the registry (one of its `shards`),
    atomically; `updated_at` is the registry's last write time. The chunks of every new value go
    first, in the same BatchWriteItem requests."""
    actions = []
    chunks: list[dict[str, Any]] = []
    written: list[dict[str, Any] | None] = []  # the new chunked items, to undo their chunks
    generations: list[str] = []  # of each new value ("" when inline)
    keys, size = 0, 0
    try:
        for old, record in plan:
            payload = codec.encode_value(record.value_json)
            generations.append(payload.generation)
            new_chunks = codec.chunk_items(scope, record.key, payload, record.expires_at)
            if new_chunks:
                chunks += new_chunks
                written.append(
                    {"sk": {"S": record.key}, "vn": {"N": str(len(new_chunks))}, "vg": {"S": payload.generation}}
                )
            actions.append(_write_action(db, scope, old, record, payload))
            keys += 0 if old else 1
            size += record.size - codec.stored_size(old)
        if chunks:
            db.batch_write([{"PutRequest": {"Item": chunk}} for chunk in chunks])
        shard = shard_of(plan[0][1].key, shards)
        actions.append(registry_update(db, scope, keys, size, updated_at, shard=shard))
        db.transact(actions)
    except BaseException:
        _delete_chunks(db, scope, written)
        raise
    replaced = zip(plan, generations, strict=True)
    _delete_chunks(db, scope, [old for (old, _), gen in replaced if old and old.get("vg") != {"S": gen}])


def delete_items(
    db: Table,
    scope: Scope,
    items: list[dict[str, Any]],
    now: int,
    *,
    shards: int = REGISTRY_SHARDS,
    only_expired: bool = False,
) -> None:
    """Delete these stored items (as read, at most 99) and take them out of the registry (one of its
    `shards`), atomically."""
    extra, values = "", None
    if only_expired:
        extra, values = " AND #exp <= :now", {":now": {"N": str(now)}}
    actions = [_delete_action(db, scope, item, extra, values) for item in items]
    # A delete is not a write of a value: the entry's last write time stays (docs/contract-notes.md).
    size = -sum(codec.stored_size(item) for item in items)
    shard = shard_of(items[0]["sk"]["S"], shards)
    actions.append(registry_update(db, scope, -len(items), size, None, shard=shard))
    db.transact(actions)
    _delete_chunks(db, scope, list(items))


def batches(items: list[tuple[str, Write]]) -> list[list[tuple[str, Write]]]:
    """`items` in runs that each fit one transaction (with the registry update)."""
    runs: list[list[tuple[str, Write]]] = [[]]
    size = 0
    for key, write in items:
        cost = min(len(write.value_json.encode("utf-8")), codec.INLINE_MAX) + ITEM_OVERHEAD + 16 * 1024
        if runs[-1] and (len(runs[-1]) >= MAX_TX_ITEMS or size + cost > MAX_TX_BYTES):
            runs.append([])
            size = 0
        runs[-1].append((key, write))
        size += cost
    return runs
