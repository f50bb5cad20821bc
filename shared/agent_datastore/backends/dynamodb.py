"""DynamoDB: the AWS deployment's backend (boto3, one table).

Layout and value encoding are in `dynamodb_codec`; the table definition is
read from template.yaml by `dynamodb_schema`; errors are translated in
`dynamodb_client`. Round trips per operation (asserted by tests/aws):

- `get`: one UpdateItem (tracking, `ReturnValues=ALL_NEW`, conditioned on the
  record existing and not being expired); without tracking one GetItem.
- `set` / `increment` / `delete`: one GetItem (the stored record is needed to
  merge metadata, keep creation fields, compute the registry's byte delta)
  plus one TransactWriteItems that writes the record conditioned on the
  version read and updates the namespace registry in the same transaction.
  A lost race is answered by `ReturnValuesOnConditionCheckFailure`, so a
  retry needs no extra read.
- `get_many`: BatchGetItem (UnprocessedKeys retried) plus one conditional
  tracking UpdateItem per returned record, run concurrently.
- `set_many`: BatchGetItem plus one TransactWriteItems per 99 items (the
  100th action is the registry update); all items are validated first.
- `list_keys`: Query pages; `list_namespaces` / `stats`: a Query of the
  user's expiry index (to purge what has expired) plus a Query of the
  user's registry entries, never a table scan; `clear`: Query + one
  TransactWriteItems per 99 keys, resumable at the deadline.

Values of more than 360 kB (after zlib) are split into chunk items written
before the record that names them; see dynamodb_codec.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from ..errors import BackendUnavailable, DataStoreError
from ..records import NamespaceStats, Record, Scope, Write, apply_write, check_version, increment_value
from ..settings import Settings
from ..store import ManyResult, Store, response_cost
from . import dynamodb_codec as codec
from .dynamodb_client import ConditionFailed, DynamoClient, TransactionCancelled, backoff

logger = logging.getLogger("agent_datastore.dynamodb")

EXPIRY_INDEX = "expiry"
MAX_TX_ITEMS = 99  # + one registry update = DynamoDB's 100 actions per transaction
MAX_TX_BYTES = 3_500_000  # under the 4 MB transaction limit
MAX_RACES = 60
LIVE = "(attribute_not_exists(#exp) OR #exp > :now)"


class _Raced(Exception):
    """Another writer changed the record between our read and our write."""

    def __init__(self, item: dict[str, Any] | None, reread: bool = False) -> None:
        super().__init__("raced")
        self.item = item
        self.reread = reread


def _names(*attributes: str) -> dict[str, str]:
    return {f"#{name}": name for name in attributes}


def _projection(attributes: list[str]) -> tuple[str, dict[str, str]]:
    return ", ".join(f"#{name}" for name in attributes), _names(*attributes)


class DynamoDBStore(Store):
    name = "dynamodb"

    def __init__(self, table: str = "agent_data_store", *, client: Any = None, retry_mode: str = "standard") -> None:
        self.table = table
        self.dynamo = DynamoClient(client, retry_mode=retry_mode)

    @property
    def client(self) -> Any:
        """The boto3 client (created on first use)."""
        return self.dynamo.raw

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.dynamo.call(operation, **params)

    # -- admin -------------------------------------------------------------

    def create(self) -> None:
        """Create the table from template.yaml's definition (idempotent)."""
        from botocore.exceptions import ClientError

        from .dynamodb_schema import table_definition

        request, ttl = table_definition(self.table)
        try:
            self.client.create_table(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
        self.client.get_waiter("table_exists").wait(TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        if ttl and ttl.get("Enabled"):
            current = self.client.describe_time_to_live(TableName=self.table).get("TimeToLiveDescription", {})
            if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                self.client.update_time_to_live(
                    TableName=self.table,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
        try:
            self.client.update_continuous_backups(
                TableName=self.table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        except ClientError as exc:  # local servers may not implement backups
            logger.info("point-in-time recovery not enabled: %s", exc)

    def drop(self) -> None:
        """Delete the table (tests and operators only)."""
        self.client.delete_table(TableName=self.table)
        self.client.get_waiter("table_not_exists").wait(TableName=self.table, WaiterConfig={"Delay": 1})

    # -- low-level helpers -------------------------------------------------

    def _get_item(self, key: dict[str, Any], attributes: list[str] | None = None) -> dict[str, Any] | None:
        params: dict[str, Any] = {"TableName": self.table, "Key": key, "ConsistentRead": True}
        if attributes:
            params["ProjectionExpression"], params["ExpressionAttributeNames"] = _projection(attributes)
        item: dict[str, Any] | None = self._call("get_item", **params).get("Item")
        return item

    def _batch_get(self, keys: list[dict[str, Any]], attributes: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """Items by (pk, sk) for up to any number of keys (UnprocessedKeys retried)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {"Keys": keys[start : start + 100], "ConsistentRead": True}
            if attributes:
                request["ProjectionExpression"], request["ExpressionAttributeNames"] = _projection(attributes)
            pending: dict[str, Any] = {self.table: request}
            attempt = 0
            while pending:
                result = self._call("batch_get_item", RequestItems=pending)
                for item in result.get("Responses", {}).get(self.table, []):
                    found[_ident(item)] = item
                pending = result.get("UnprocessedKeys") or {}
                if pending:
                    attempt += 1
                    if attempt > 8:
                        raise BackendUnavailable("DynamoDB kept keys unprocessed; retry shortly")
                    backoff(attempt, base=0.05)
        return found

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        """BatchWriteItem in groups of 25, UnprocessedItems retried with backoff."""
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self.table: requests[start : start + 25]}
            attempt = 0
            while pending:
                result = self._call("batch_write_item", RequestItems=pending)
                pending = result.get("UnprocessedItems") or {}
                if pending:
                    attempt += 1
                    if attempt > 8:
                        raise BackendUnavailable("DynamoDB kept writes unprocessed; retry shortly")
                    backoff(attempt, base=0.05)

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        """One TransactWriteItems; a conflicting record write becomes `_Raced`.

        The request token makes botocore's own retries of the same call
        idempotent (an applied transaction is not applied twice).
        """
        try:
            self._call("transact_write_items", TransactItems=actions, ClientRequestToken=uuid.uuid4().hex)
        except TransactionCancelled as exc:
            failed = exc.failed_items()
            if failed:
                raise _Raced(failed[0][1] if len(failed) == 1 else None, reread=len(failed) != 1) from exc
            if "TransactionConflict" in exc.codes():
                raise _Raced(None, reread=True) from exc
            raise BackendUnavailable(f"DynamoDB cancelled the write: {', '.join(sorted(exc.codes()))}") from exc

    def _registry_update(self, scope: Scope, keys: int, size: int, updated_at: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": codec.registry_key(scope),
                "UpdateExpression": "ADD #n :dn, #b :db SET #ua = :ua",
                "ExpressionAttributeNames": _names("n", "b", "ua"),
                "ExpressionAttributeValues": {
                    ":dn": {"N": str(keys)},
                    ":db": {"N": str(size)},
                    ":ua": {"N": str(updated_at)},
                },
            }
        }

    def _guard(self, old: dict[str, Any] | None) -> dict[str, Any]:
        """Condition that the stored record is still `old` (or still absent)."""
        if old is None:
            return {"ConditionExpression": "attribute_not_exists(#pk)", "ExpressionAttributeNames": _names("pk")}
        return {
            "ConditionExpression": "#ver = :ver",
            "ExpressionAttributeNames": _names("ver"),
            "ExpressionAttributeValues": {":ver": old["ver"]},
        }

    def _chunks(self, scope: Scope, item: dict[str, Any]) -> str | None:
        """The value of a chunked record, or None when a chunk is gone (overwritten meanwhile)."""
        keys = codec.chunk_keys(scope, item["sk"]["S"], item)
        found = self._batch_get(keys)
        parts = [found.get(_ident(key)) for key in keys]
        if any(part is None for part in parts):
            return None
        return codec.decode_chunks([bytes(part["d"]["B"]) for part in parts if part], bool(item["vz"]["BOOL"]))

    def _record(self, scope: Scope, item: dict[str, Any]) -> Record | None:
        if "vn" not in item:
            return codec.to_record(scope, item)
        value_json = self._chunks(scope, item)
        return None if value_json is None else codec.to_record(scope, item, value_json)

    def _delete_chunks(self, scope: Scope, item: dict[str, Any] | None) -> None:
        if item is None or "vn" not in item:
            return
        keys = codec.chunk_keys(scope, item["sk"]["S"], item)
        try:
            self._batch_write([{"DeleteRequest": {"Key": key}} for key in keys])
        except DataStoreError as exc:  # the write itself succeeded; chunks of a dead version stay behind
            logger.warning("could not delete %d old chunks: %s", len(keys), exc.message)

    # -- reads -------------------------------------------------------------

    def _read(self, scope: Scope, key: str, now: int) -> Record | None:
        """Consistent read of the live record, untracked."""
        for _ in range(MAX_RACES):
            item = self._get_item(codec.record_key(scope, key))
            if item is None or not codec.is_live(item, now):
                return None
            record = self._record(scope, item)
            if record is not None:
                return record
        raise BackendUnavailable(f"key {key!r} is being rewritten too often to read; retry")

    def get(self, scope: Scope, key: str, *, reader: str | None, now: int) -> Record | None:
        if reader is None:
            return self._read(scope, key, now)
        try:
            result = self._call(
                "update_item",
                TableName=self.table,
                Key=codec.record_key(scope, key),
                UpdateExpression="SET #ac = #ac + :one, #la = :reader",
                ConditionExpression=f"attribute_exists(#pk) AND {LIVE}",
                ExpressionAttributeNames=_names("ac", "la", "pk", "exp"),
                ExpressionAttributeValues={":one": {"N": "1"}, ":reader": {"S": reader}, ":now": {"N": str(now)}},
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            return None
        item = result["Attributes"]
        record = self._record(scope, item)
        if record is None:
            # Overwritten between the update and the chunk read: the newer version
            # keeps the count just made (overwrites keep accessCount).
            return self._read(scope, key, now)
        return record

    def get_many(self, scope: Scope, keys: list[str], *, reader: str | None, now: int, max_bytes: int) -> ManyResult:
        items = self._batch_get([codec.record_key(scope, key) for key in keys])
        result = ManyResult()
        budget = max_bytes
        pk = codec.record_pk(scope)
        for index, key in enumerate(keys):
            item = items.get(_ident_of(pk, key))
            if item is None or not codec.is_live(item, now):
                continue
            record = self._record(scope, item) or self._read(scope, key, now)
            if record is None:
                continue
            cost = response_cost(key, record)
            if cost > budget:
                result.unprocessed.extend(keys[index:])
                break
            result.found[key] = record
            budget -= cost
        if reader is not None and result.found:
            with ThreadPoolExecutor(max_workers=min(16, len(result.found))) as pool:
                tracked = list(pool.map(lambda rec: self._track(scope, rec, reader, now), result.found.values()))
            for record_key, tracked_record in zip(list(result.found), tracked, strict=True):
                if tracked_record is None:
                    del result.found[record_key]
                else:
                    result.found[record_key] = tracked_record
        return result

    def _track(self, scope: Scope, record: Record, reader: str, now: int) -> Record | None:
        """Count one read of exactly the version that was read (else read again, counted)."""
        try:
            result = self._call(
                "update_item",
                TableName=self.table,
                Key=codec.record_key(scope, record.key),
                UpdateExpression="SET #ac = #ac + :one, #la = :reader",
                ConditionExpression="#ver = :ver",
                ExpressionAttributeNames=_names("ac", "la", "ver"),
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":reader": {"S": reader},
                    ":ver": {"N": str(record.version)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ConditionFailed:
            return self.get(scope, record.key, reader=reader, now=now)
        attributes = result["Attributes"]
        return replace(record, access_count=int(attributes["ac"]["N"]), last_accessed_by_agent=reader)

    # -- writes ------------------------------------------------------------

    def _put_action(
        self, scope: Scope, old: dict[str, Any] | None, record: Record, payload: codec.Payload
    ) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": codec.record_item(scope, record, payload),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                **self._guard(old),
            }
        }

    def _store(self, scope: Scope, old: dict[str, Any] | None, record: Record) -> None:
        """Write `record` over `old` (the stored item or None) with the registry, atomically."""
        payload = codec.encode_value(record.value_json)
        chunks = codec.chunk_items(scope, record.key, payload, record.expires_at)
        if chunks:
            self._batch_write([{"PutRequest": {"Item": chunk}} for chunk in chunks])
        new_item = {"sk": {"S": record.key}, "vn": {"N": str(len(chunks))}, "vg": {"S": payload.generation}}
        try:
            self._transact(
                [
                    self._put_action(scope, old, record, payload),
                    self._registry_update(
                        scope, 0 if old else 1, record.size - codec.stored_size(old), record.updated_at
                    ),
                ]
            )
        except BaseException:
            if chunks:
                self._delete_chunks(scope, new_item)
            raise
        if old is not None and old.get("vg") != new_item["vg"]:
            self._delete_chunks(scope, old)

    def _write_loop(
        self, scope: Scope, key: str, make: Callable[[Record | None], Record], now: int, full: bool
    ) -> tuple[Record, bool]:
        """Read, build the new record with `make(existing)`, write guarded; retry lost races.

        `full`: the stored value is needed (increment), not only the record's fields.
        """
        old = self._get_item(codec.record_key(scope, key), None if full else codec.META_ATTRIBUTES)
        for attempt in range(MAX_RACES):
            existing = None
            if old is not None and codec.is_live(old, now):
                existing = self._record(scope, old) if full else codec.to_record(scope, old)
                if existing is None:  # chunks replaced meanwhile
                    old = self._get_item(codec.record_key(scope, key))
                    continue
            record = make(existing)
            try:
                self._store(scope, old, record)
                return record, existing is None
            except _Raced as race:
                backoff(attempt)
                old = self._get_item(codec.record_key(scope, key)) if race.reread else race.item
        raise BackendUnavailable(f"key {key!r} is being written too often; retry shortly")

    def put(self, scope: Scope, key: str, write: Write, now: int) -> tuple[Record, bool]:
        return self._write_loop(scope, key, lambda existing: apply_write(scope, key, existing, write, now), now, False)

    def increment(
        self, scope: Scope, key: str, by: int | float, *, agent: str, expires_at: int | None, now: int
    ) -> Record:
        def make(existing: Record | None) -> Record:
            write = Write(increment_value(key, existing, by), agent, None, expires_at)
            return apply_write(scope, key, existing, write, now)

        return self._write_loop(scope, key, make, now, True)[0]

    def delete(self, scope: Scope, key: str, *, if_version: int | None, now: int) -> bool:
        old = self._get_item(codec.record_key(scope, key), codec.META_ATTRIBUTES)
        for attempt in range(MAX_RACES):
            existing = codec.to_record(scope, old) if old is not None and codec.is_live(old, now) else None
            check_version(key, existing, if_version)
            if old is None:
                return False
            try:
                self._transact(
                    [self._delete_action(scope, old), self._registry_update(scope, -1, -codec.stored_size(old), now)]
                )
            except _Raced as race:
                backoff(attempt)
                old = self._get_item(codec.record_key(scope, key), codec.META_ATTRIBUTES) if race.reread else race.item
                continue
            self._delete_chunks(scope, old)
            return existing is not None
        raise BackendUnavailable(f"key {key!r} is being written too often; retry shortly")

    def _delete_action(
        self, scope: Scope, old: dict[str, Any], extra: str = "", values: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        guard = self._guard(old)
        return {
            "Delete": {
                "TableName": self.table,
                "Key": codec.record_key(scope, old["sk"]["S"]),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                "ConditionExpression": guard["ConditionExpression"] + extra,
                "ExpressionAttributeNames": {**guard["ExpressionAttributeNames"], **({"#exp": "exp"} if extra else {})},
                "ExpressionAttributeValues": {**guard["ExpressionAttributeValues"], **(values or {})},
            }
        }

    def put_many(self, scope: Scope, items: list[tuple[str, Write]], now: int) -> dict[str, int]:
        from .dynamodb_batch import put_many

        return put_many(self, scope, items, now)

    # -- listings ----------------------------------------------------------

    def _query(self, **params: Any) -> Iterator[dict[str, Any]]:
        params = {"TableName": self.table, **params}
        while True:
            page = self._call("query", **params)
            yield from page.get("Items", [])
            if not page.get("LastEvaluatedKey"):
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def list_keys(self, scope: Scope, *, prefix: str, after: str | None, limit: int, now: int) -> list[str]:
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
        for item in self._query(
            KeyConditionExpression=condition,
            FilterExpression=LIVE,
            ProjectionExpression="#sk",
            ExpressionAttributeNames=_names("pk", "sk", "exp"),
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

    def _registry(self, user_id: str, prefix: str = "", namespace: str | None = None) -> list[dict[str, Any]]:
        values: dict[str, Any] = {":pk": {"S": codec.registry_pk(user_id)}}
        condition, names = "#pk = :pk", _names("pk")
        if namespace is not None:
            condition += " AND #sk = :ns"
            values[":ns"] = {"S": namespace}
        elif prefix:
            condition += " AND begins_with(#sk, :prefix)"
            values[":prefix"] = {"S": prefix}
        if ":ns" in values or ":prefix" in values:
            names.update(_names("sk"))
        items = list(
            self._query(
                KeyConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ConsistentRead=True,
            )
        )
        live = [item for item in items if int(item.get("n", {"N": "0"})["N"]) > 0]
        for item in items:
            if int(item.get("n", {"N": "0"})["N"]) <= 0:
                self._drop_registry(item)
        return live

    def _drop_registry(self, item: dict[str, Any]) -> None:
        """Remove an emptied namespace entry, unless a write refilled it meanwhile."""
        with contextlib.suppress(ConditionFailed):
            self._call(
                "delete_item",
                TableName=self.table,
                Key={"pk": item["pk"], "sk": item["sk"]},
                ConditionExpression="attribute_not_exists(#n) OR #n <= :zero",
                ExpressionAttributeNames=_names("n"),
                ExpressionAttributeValues={":zero": {"N": "0"}},
            )

    def list_namespaces(self, user_id: str, *, prefix: str, now: int) -> list[str]:
        self.purge_expired(now, user_id)
        return [item["sk"]["S"] for item in self._registry(user_id, prefix)]

    def stats(self, user_id: str, *, namespace: str | None, now: int) -> list[NamespaceStats]:
        self.purge_expired(now, user_id)
        return [
            NamespaceStats(item["sk"]["S"], int(item["n"]["N"]), int(item["b"]["N"]), int(item["ua"]["N"]))
            for item in self._registry(user_id, namespace=namespace)
        ]

    def clear(self, scope: Scope, *, now: int, deadline: float) -> tuple[int, bool]:
        from .dynamodb_batch import clear

        return clear(self, scope, now=now, deadline=deadline)

    def purge_expired(self, now: int, user_id: str | None = None) -> int:
        from .dynamodb_batch import purge_expired

        return purge_expired(self, now, user_id)

    # -- operator interface --------------------------------------------------

    def users(self) -> Iterator[str]:
        seen: set[str] = set()
        params: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "begins_with(#pk, :u) AND #n > :zero",
            "ProjectionExpression": "#pk",
            "ExpressionAttributeNames": _names("pk", "n"),
            "ExpressionAttributeValues": {":u": {"S": codec.REGISTRY_PREFIX}, ":zero": {"N": "0"}},
            "ConsistentRead": True,
        }
        while True:
            page = self._call("scan", **params)
            for item in page.get("Items", []):
                user = item["pk"]["S"][len(codec.REGISTRY_PREFIX) :]
                if user not in seen:
                    seen.add(user)
                    yield user
            if not page.get("LastEvaluatedKey"):
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def scan(self, user_id: str, namespace: str | None = None) -> Iterator[Record]:
        for entry in self._registry(user_id, namespace=namespace):
            scope = Scope(user_id, entry["sk"]["S"])
            for item in self._query(
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames=_names("pk"),
                ExpressionAttributeValues={":pk": {"S": codec.record_pk(scope)}},
                ConsistentRead=True,
            ):
                record = self._record(scope, item) or self._read(scope, item["sk"]["S"], 0)
                if record is not None:
                    yield record

    def restore(self, record: Record) -> None:
        scope = Scope(record.user_id, record.namespace)
        old = self._get_item(codec.record_key(scope, record.key), codec.META_ATTRIBUTES)
        for attempt in range(MAX_RACES):
            try:
                self._store(scope, old, record)
                return
            except _Raced as race:
                backoff(attempt)
                old = (
                    self._get_item(codec.record_key(scope, record.key), codec.META_ATTRIBUTES)
                    if race.reread
                    else race.item
                )
        raise BackendUnavailable(f"key {record.key!r} is being written too often; retry shortly")


def _ident_of(pk: str, sk: str) -> str:
    return f"{len(pk)}:{pk}{sk}"


def _ident(item: dict[str, Any]) -> str:
    return _ident_of(item["pk"]["S"], item["sk"]["S"])


def from_settings(settings: Settings) -> DynamoDBStore:
    return DynamoDBStore(settings.dynamodb_table)
