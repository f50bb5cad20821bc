"""Multi-item work of `DynamoDBStore`: set_many, clear, purge of expired records.

Each batch is one TransactWriteItems of at most 99 record actions plus one
update of the namespace registry, so the registry stays exact whatever
fails or races. A batch that loses a race to another writer is read again
and retried; a failure after some batches were written reports them in
`details.written` (API.md: a retry of the same set_many is safe).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ..errors import BackendUnavailable, DataStoreError
from ..records import Record, Scope, Write, apply_write
from . import dynamodb_codec as codec
from .dynamodb_client import backoff

if TYPE_CHECKING:
    from .dynamodb import DynamoDBStore

# Per-item overhead counted against the transaction size limit (keys, fields).
ITEM_OVERHEAD = 4096


def _olds(store: DynamoDBStore, scope: Scope, keys: list[str]) -> dict[str, dict[str, Any]]:
    found = store._batch_get([codec.record_key(scope, key) for key in keys], codec.META_ATTRIBUTES)
    return {item["sk"]["S"]: item for item in found.values()}


def _plan(
    scope: Scope, items: list[tuple[str, Write]], olds: dict[str, dict[str, Any]], now: int
) -> list[tuple[dict[str, Any] | None, Record]]:
    """Every new record, computed (and so validated) before anything is written."""
    plan = []
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
        if batches[-1] and (len(batches[-1]) >= 99 or size + cost > 3_500_000):
            batches.append([])
            size = 0
        batches[-1].append((key, write))
        size += cost
    return batches


def _write_batch(
    store: DynamoDBStore, scope: Scope, plan: list[tuple[dict[str, Any] | None, Record]], now: int
) -> None:
    actions = []
    written_chunks: list[dict[str, Any]] = []
    keys, size, updated = 0, 0, now
    try:
        for old, record in plan:
            payload = codec.encode_value(record.value_json)
            chunks = codec.chunk_items(scope, record.key, payload, record.expires_at)
            if chunks:
                store._batch_write([{"PutRequest": {"Item": chunk}} for chunk in chunks])
                written_chunks.append(
                    {"sk": {"S": record.key}, "vn": {"N": str(len(chunks))}, "vg": {"S": payload.generation}}
                )
            actions.append(store._put_action(scope, old, record, payload))
            keys += 0 if old else 1
            size += record.size - codec.stored_size(old)
            updated = max(updated, record.updated_at)
        actions.append(store._registry_update(scope, keys, size, updated))
        store._transact(actions)
    except BaseException:
        for chunk_ref in written_chunks:
            store._delete_chunks(scope, chunk_ref)
        raise
    for old, _ in plan:
        store._delete_chunks(scope, old)


def put_many(store: DynamoDBStore, scope: Scope, items: list[tuple[str, Write]], now: int) -> dict[str, int]:
    from .dynamodb import MAX_RACES, _Raced

    olds = _olds(store, scope, [key for key, _ in items])
    plans = {record.key: (old, record) for old, record in _plan(scope, items, olds, now)}
    versions: dict[str, int] = {}
    for batch in _batches(items):
        plan = [plans[key] for key, _ in batch]
        try:
            for attempt in range(MAX_RACES):
                try:
                    _write_batch(store, scope, plan, now)
                    break
                except _Raced:
                    backoff(attempt)
                    plan = _plan(scope, batch, _olds(store, scope, [key for key, _ in batch]), now)
            else:
                raise BackendUnavailable("set_many kept racing with other writers")
        except DataStoreError as exc:
            if not versions:
                raise
            raise BackendUnavailable(
                f"set_many stopped after {len(versions)} of {len(items)} items: {exc.message}",
                {"written": list(versions)},
            ) from exc
        versions.update({record.key: record.version for _, record in plan})
    return versions


def _delete_batch(
    store: DynamoDBStore, scope: Scope, items: list[dict[str, Any]], now: int, *, only_expired: bool
) -> None:
    """Delete these stored items (as read) and take them out of the registry, atomically."""
    extra, values = "", None
    if only_expired:
        extra, values = " AND #exp <= :now", {":now": {"N": str(now)}}
    actions = [store._delete_action(scope, item, extra, values) for item in items]
    actions.append(store._registry_update(scope, -len(items), -sum(codec.stored_size(item) for item in items), now))
    store._transact(actions)
    for item in items:
        store._delete_chunks(scope, item)


def clear(store: DynamoDBStore, scope: Scope, *, now: int, deadline: float) -> tuple[int, bool]:
    from .dynamodb import _names, _Raced

    deleted = 0
    attempt = 0
    while True:
        page = store._call(
            "query",
            TableName=store.table,
            KeyConditionExpression="#pk = :pk",
            ProjectionExpression=", ".join(f"#{name}" for name in ("pk", "sk", "ver", "sz", "exp", "vn", "vg")),
            ExpressionAttributeNames=_names("pk", "sk", "ver", "sz", "exp", "vn", "vg"),
            ExpressionAttributeValues={":pk": {"S": codec.record_pk(scope)}},
            ConsistentRead=True,
            Limit=99,
        )
        items = page.get("Items", [])
        if not items:
            return deleted, True
        try:
            _delete_batch(store, scope, items, now, only_expired=False)
        except _Raced:
            attempt += 1
            if attempt > 60:
                raise BackendUnavailable("clear kept racing with other writers; retry") from None
            backoff(attempt)
            continue
        deleted += sum(1 for item in items if codec.is_live(item, now))
        if len(items) < 99 and not page.get("LastEvaluatedKey"):
            return deleted, True
        if time.monotonic() >= deadline:
            return deleted, False


def _expired_items(store: DynamoDBStore, now: int, user_id: str | None) -> list[dict[str, Any]]:
    from .dynamodb import EXPIRY_INDEX, _names

    names = _names("exp")
    values: dict[str, Any] = {":now": {"N": str(now)}}
    if user_id is not None:
        # The sparse expiry index holds only records with an expiry, per user.
        names.update(_names("xu"))
        values[":u"] = {"S": codec.registry_pk(user_id)}
        return list(
            store._query(
                IndexName=EXPIRY_INDEX,
                KeyConditionExpression="#xu = :u AND #exp <= :now",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        )
    names.update(_names("pk"))
    values[":r"] = {"S": codec.RECORD_PREFIX}
    params: dict[str, Any] = {
        "TableName": store.table,
        "FilterExpression": "begins_with(#pk, :r) AND #exp <= :now",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ConsistentRead": True,
    }
    found: list[dict[str, Any]] = []
    while True:
        page = store._call("scan", **params)
        found.extend(page.get("Items", []))
        if not page.get("LastEvaluatedKey"):
            return found
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def purge_expired(store: DynamoDBStore, now: int, user_id: str | None = None) -> int:
    """Delete records expired at `now` (the table's TTL may not have removed them yet)."""
    from .dynamodb import _Raced

    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in _expired_items(store, now, user_id):
        groups[item["pk"]["S"]].append(item)
    purged = 0
    for pk, items in groups.items():
        scope = codec.parse_scope(pk)
        for start in range(0, len(items), 99):
            batch = items[start : start + 99]
            try:
                _delete_batch(store, scope, batch, now, only_expired=True)
                purged += len(batch)
                continue
            except _Raced:
                pass
            # The index is eventually consistent: go one by one from fresh reads.
            for stale in batch:
                fresh = store._get_item(codec.record_key(scope, stale["sk"]["S"]), codec.META_ATTRIBUTES)
                if fresh is None or codec.is_live(fresh, now):
                    continue
                try:
                    _delete_batch(store, scope, [fresh], now, only_expired=True)
                    purged += 1
                except _Raced:
                    continue
    return purged
