"""The guarded transactions every write of `DynamoDBStore` is made of.

Every write is one TransactWriteItems of record actions, each conditioned
on the version read (or on the record still being absent), plus one update
of the namespace registry, so the registry stays exact whatever races: a
failed condition raises `Raced`. Chunks of a large value are written before
the transaction that names them, and those of the replaced version deleted
after it.
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


def registry_update(db: Table, scope: Scope, keys: int, size: int, updated_at: int | None) -> dict[str, Any]:
    """The transaction action that adds `keys` and `size` to the scope's registry entry;
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
            "Key": codec.registry_key(scope),
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


def write_records(db: Table, scope: Scope, plan: Plan, updated_at: int) -> None:
    """Write each record over its stored item (at most 99), with the registry, atomically;
    `updated_at` is the registry's last write time. The chunks of every new value go first, in
    the same BatchWriteItem requests."""
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
        actions.append(registry_update(db, scope, keys, size, updated_at))
        db.transact(actions)
    except BaseException:
        _delete_chunks(db, scope, written)
        raise
    replaced = zip(plan, generations, strict=True)
    _delete_chunks(db, scope, [old for (old, _), gen in replaced if old and old.get("vg") != {"S": gen}])


def delete_items(db: Table, scope: Scope, items: list[dict[str, Any]], now: int, *, only_expired: bool = False) -> None:
    """Delete these stored items (as read, at most 99) and take them out of the registry, atomically."""
    extra, values = "", None
    if only_expired:
        extra, values = " AND #exp <= :now", {":now": {"N": str(now)}}
    actions = [_delete_action(db, scope, item, extra, values) for item in items]
    # A delete is not a write of a value: the entry's last write time stays (docs/contract-notes.md).
    actions.append(registry_update(db, scope, -len(items), -sum(codec.stored_size(item) for item in items), None))
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
