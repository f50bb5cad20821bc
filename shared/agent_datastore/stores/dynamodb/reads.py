"""Reads of `DynamoDBStore`: get, get_many (counted reads), list_keys, a namespace's records.

A counted `get` is one conditional UpdateItem returning the new item; a
`get_many` is one BatchGetItem, then one UpdateItem per returned record
conditioned on the version read, run concurrently.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from agent_datastore.core.errors import BackendUnavailable
from agent_datastore.core.records import Record, Scope
from agent_datastore.stores.base import ManyResult, within_budget
from agent_datastore.stores.dynamodb import codec
from agent_datastore.stores.dynamodb.client import ConditionFailed
from agent_datastore.stores.dynamodb.table import LIVE, MAX_RACES, Table, ident_of, names


def read(db: Table, scope: Scope, key: str, now: int) -> Record | None:
    """Consistent read of the live record, untracked."""
    for _ in range(MAX_RACES):
        item = db.get_item(codec.record_key(scope, key))
        if item is None or not codec.is_live(item, now):
            return None
        record = db.record(scope, item)
        if record is not None:
            return record
    raise BackendUnavailable(f"key {key!r} is being rewritten too often to read; retry")


def assembled(db: Table, scope: Scope, item: dict[str, Any], now: int) -> Record | None:
    """The record of `item`; when its chunks are gone (overwritten meanwhile), the record read again."""
    return db.record(scope, item) or read(db, scope, item["sk"]["S"], now)


def _count_read(
    db: Table,
    scope: Scope,
    key: str,
    reader: str,
    *,
    condition: str,
    attributes: tuple[str, ...],
    values: dict[str, Any],
    returns: str,
) -> dict[str, Any]:
    """One UpdateItem counting a read of `key` by `reader`, if `condition` holds
    (on the record's `attributes` and the given `values`)."""
    return db.call(
        "update_item",
        TableName=db.name,
        Key=codec.record_key(scope, key),
        UpdateExpression="SET #ac = #ac + :one, #la = :reader",
        ConditionExpression=condition,
        ExpressionAttributeNames=names("ac", "la", *attributes),
        ExpressionAttributeValues={":one": {"N": "1"}, ":reader": {"S": reader}, **values},
        ReturnValues=returns,
    )


def get(db: Table, scope: Scope, key: str, *, reader: str | None, now: int) -> Record | None:
    if reader is None:
        return read(db, scope, key, now)
    try:
        result = _count_read(
            db,
            scope,
            key,
            reader,
            condition=f"attribute_exists(#pk) AND {LIVE}",
            attributes=("pk", "exp"),
            values={":now": {"N": str(now)}},
            returns="ALL_NEW",
        )
    except ConditionFailed:
        return None
    # Overwritten between the update and the chunk read: the newer version
    # keeps the count just made (overwrites keep accessCount).
    return assembled(db, scope, result["Attributes"], now)


class _Found(Mapping[str, Record]):
    """The live records a BatchGetItem answered, each assembled when first looked up.

    `within_budget` looks keys up in request order and stops at the first
    record that does not fit, so no chunks are read for records past it.
    """

    def __init__(self, db: Table, scope: Scope, keys: list[str], items: dict[str, dict[str, Any]], now: int) -> None:
        pk = codec.record_pk(scope)
        self._items = {
            key: item for key in keys if (item := items.get(ident_of(pk, key))) is not None and codec.is_live(item, now)
        }
        self._db, self._scope, self._now = db, scope, now
        self._records: dict[str, Record | None] = {}

    def __getitem__(self, key: str) -> Record:
        if key not in self._records:
            self._records[key] = assembled(self._db, self._scope, self._items[key], self._now)
        record = self._records[key]
        if record is None:
            raise KeyError(key)
        return record

    def __iter__(self) -> Iterator[str]:
        return (key for key in self._items if key in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def get_many(db: Table, scope: Scope, keys: list[str], *, reader: str | None, now: int, max_bytes: int) -> ManyResult:
    items = db.batch_get([codec.record_key(scope, key) for key in keys])
    result = within_budget(keys, _Found(db, scope, keys, items, now), max_bytes)
    if reader is not None and result.found:
        with ThreadPoolExecutor(max_workers=min(16, len(result.found))) as pool:
            tracked = list(pool.map(lambda rec: _track(db, scope, rec, reader, now), result.found.values()))
        for record_key, tracked_record in zip(list(result.found), tracked, strict=True):
            if tracked_record is None:
                del result.found[record_key]
            else:
                result.found[record_key] = tracked_record
    return result


def _track(db: Table, scope: Scope, record: Record, reader: str, now: int) -> Record | None:
    """Count one read of exactly the version that was read (else read again, counted)."""
    try:
        result = _count_read(
            db,
            scope,
            record.key,
            reader,
            condition="#ver = :ver",
            attributes=("ver",),
            values={":ver": {"N": str(record.version)}},
            returns="UPDATED_NEW",
        )
    except ConditionFailed:
        return get(db, scope, record.key, reader=reader, now=now)
    attributes = result["Attributes"]
    return replace(record, access_count=int(attributes["ac"]["N"]), last_accessed_by_agent=reader)


def list_keys(db: Table, scope: Scope, *, prefix: str, after: str | None, limit: int, now: int) -> list[str]:
    values: dict[str, Any] = {":pk": {"S": codec.record_pk(scope)}, ":now": {"N": str(now)}}
    condition = "#pk = :pk"
    if after is not None and after >= prefix:
        # DynamoDB refuses an ExclusiveStartKey outside the key condition,
        # so paging past `after` is a range condition; the prefix is then
        # checked here (keys come in order, so the first miss ends it).
        condition += " AND #sk > :after"
        values[":after"] = {"S": after}
    elif prefix:
        condition += " AND begins_with(#sk, :prefix)"
        values[":prefix"] = {"S": prefix}
    keys: list[str] = []
    for item in db.query(
        KeyConditionExpression=condition,
        FilterExpression=LIVE,
        ProjectionExpression="#sk",
        ExpressionAttributeNames=names("pk", "sk", "exp"),
        ExpressionAttributeValues=values,
        ConsistentRead=True,
        Limit=max(limit, 100),
    ):
        key = item["sk"]["S"]
        if not key.startswith(prefix):
            break
        keys.append(key)
        if len(keys) >= limit:
            break
    return keys


def records(db: Table, scope: Scope) -> Iterator[Record]:
    """Every stored record of one namespace, expired ones included, by key."""
    for item in db.query(
        KeyConditionExpression="#pk = :pk",
        ExpressionAttributeNames=names("pk"),
        ExpressionAttributeValues={":pk": {"S": codec.record_pk(scope)}},
        ConsistentRead=True,
    ):
        record = assembled(db, scope, item, 0)
        if record is not None:
            yield record
