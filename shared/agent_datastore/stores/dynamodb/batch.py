"""Multi-item work of `DynamoDBStore`: set_many and clear.

Each batch is one TransactWriteItems of at most 99 record actions plus one
update of the namespace registry (`dynamodb_writes`), so the registry stays
exact whatever fails or races. A batch that loses a race to another writer
is read again and retried; a failure after some batches were written
reports them in `details.written` (API.md: a retry of the same set_many is
safe).
"""

from __future__ import annotations

import time
from typing import Any

from agent_datastore.core.errors import BackendUnavailable, DataStoreError
from agent_datastore.core.records import Scope, Write, apply_write
from agent_datastore.stores.base import partial_write
from agent_datastore.stores.dynamodb import codec
from agent_datastore.stores.dynamodb.table import MAX_RACES, MAX_TX_BYTES, MAX_TX_ITEMS, Raced, Table, projection
from agent_datastore.stores.dynamodb.writes import Plan, delete_items, write_records
from agent_datastore.stores.retry import backoff

# Per-item overhead counted against the transaction size limit (keys, fields).
ITEM_OVERHEAD = 4096
# Record attributes `clear` reads: what its guarded deletes and the registry need.
CLEAR_ATTRIBUTES = ["pk", "sk", "ver", "sz", "exp", "vn", "vg"]


def _olds(db: Table, scope: Scope, keys: list[str]) -> dict[str, dict[str, Any]]:
    found = db.batch_get([codec.record_key(scope, key) for key in keys], codec.META_ATTRIBUTES)
    return {item["sk"]["S"]: item for item in found.values()}


def _plan(scope: Scope, items: list[tuple[str, Write]], olds: dict[str, dict[str, Any]], now: int) -> Plan:
    """Every new record, computed (and so validated) before anything is written."""
    plan: Plan = []
    for key, write in items:
        old = olds.get(key)
        existing = codec.to_record(scope, old) if old is not None and codec.is_live(old, now) else None
        plan.append((old, apply_write(scope, key, existing, write, now)))
    return plan


def _batches(items: list[tuple[str, Write]]) -> list[list[tuple[str, Write]]]:
    batches: list[list[tuple[str, Write]]] = [[]]
    size = 0
    for key, write in items:
        cost = min(len(write.value_json.encode("utf-8")), codec.INLINE_MAX) + ITEM_OVERHEAD + 16 * 1024
        if batches[-1] and (len(batches[-1]) >= MAX_TX_ITEMS or size + cost > MAX_TX_BYTES):
            batches.append([])
            size = 0
        batches[-1].append((key, write))
        size += cost
    return batches


def put_many(db: Table, scope: Scope, items: list[tuple[str, Write]], now: int) -> dict[str, int]:
    olds = _olds(db, scope, [key for key, _ in items])
    plans = {record.key: (old, record) for old, record in _plan(scope, items, olds, now)}
    versions: dict[str, int] = {}
    for batch in _batches(items):
        plan = [plans[key] for key, _ in batch]
        try:
            for attempt in range(MAX_RACES):
                try:
                    write_records(db, scope, plan, max([now, *(record.updated_at for _, record in plan)]))
                    break
                except Raced:
                    backoff(attempt)
                    plan = _plan(scope, batch, _olds(db, scope, [key for key, _ in batch]), now)
            else:
                raise BackendUnavailable("set_many kept racing with other writers")
        except DataStoreError as exc:
            if not versions:
                raise
            raise partial_write(list(versions), len(items), exc) from exc
        versions.update({record.key: record.version for _, record in plan})
    return versions


def clear(db: Table, scope: Scope, *, now: int, deadline: float) -> tuple[int, bool]:
    expression, attribute_names = projection(CLEAR_ATTRIBUTES)
    deleted, batches, attempt = 0, 0, 0
    while True:
        # Each call deletes at least one batch (so a repeated clear progresses); after that no
        # batch is started past the deadline, not even the retry of one that lost a race.
        if batches and time.monotonic() >= deadline:
            return deleted, False
        page = db.call(
            "query",
            TableName=db.name,
            KeyConditionExpression="#pk = :pk",
            ProjectionExpression=expression,
            ExpressionAttributeNames=attribute_names,
            ExpressionAttributeValues={":pk": {"S": codec.record_pk(scope)}},
            ConsistentRead=True,
            Limit=MAX_TX_ITEMS,
        )
        items = page.get("Items", [])
        if not items:
            return deleted, True
        try:
            delete_items(db, scope, items, now)
        except Raced:
            attempt += 1
            if attempt > MAX_RACES:
                raise BackendUnavailable("clear kept racing with other writers; retry") from None
            backoff(attempt)
            continue
        batches += 1
        deleted += sum(1 for item in items if codec.is_live(item, now))
        if len(items) < MAX_TX_ITEMS and not page.get("LastEvaluatedKey"):
            return deleted, True
