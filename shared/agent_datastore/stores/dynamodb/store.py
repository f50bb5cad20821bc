"""DynamoDB: the AWS deployment's backend (boto3, one table).

`DynamoDBStore` is the `Store` interface over modules of one job each:

- `dynamodb_client`: the lazily created boto3 client, errors translated;
- `dynamodb_codec`: item layout and value encoding (chunks of large values);
- `dynamodb_schema`: the table definition, read from template.yaml;
- `dynamodb_table`: requests to the table (paging, batches, transactions);
- `dynamodb_reads`: get, get_many, list_keys, a namespace's records;
- `dynamodb_writes`: set, increment, delete, restore and their transactions;
- `dynamodb_batch`: set_many and clear;
- `dynamodb_registry`: the namespace registry, the purge of expired records,
  and the accounting of records DynamoDB's TTL deleted (fed by `aws_ttl`).

Round trips per operation (asserted by tests/aws):

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

import logging
from collections.abc import Iterator
from typing import Any

from agent_datastore.core.records import NamespaceStats, Record, Scope, Write
from agent_datastore.core.settings import Settings
from agent_datastore.stores.base import ManyResult, Store
from agent_datastore.stores.dynamodb import batch, reads, registry, writes
from agent_datastore.stores.dynamodb.client import DynamoClient
from agent_datastore.stores.dynamodb.table import Table

logger = logging.getLogger("agent_datastore.dynamodb")


class DynamoDBStore(Store):
    name = "dynamodb"

    def __init__(self, table: str = "agent_data_store", *, client: Any = None, retry_mode: str = "standard") -> None:
        self.table = table
        self.dynamo = DynamoClient(client, retry_mode=retry_mode)
        self.db = Table(table, self.dynamo)

    @property
    def client(self) -> Any:
        """The boto3 client (created on first use)."""
        return self.dynamo.raw

    # -- admin -------------------------------------------------------------

    def create(self) -> None:
        """Create the table from template.yaml's definition (idempotent)."""
        from botocore.exceptions import ClientError

        from agent_datastore.stores.dynamodb.schema import table_definition

        request, ttl = table_definition(self.table)
        # The stream only feeds the SAM stack's TtlSweeperFunction, and the stack makes its own table:
        # a table made here would have no consumer (and moto, the test server, copies every stream
        # record on each transaction).
        request.pop("StreamSpecification", None)
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

    # -- reads -------------------------------------------------------------

    def get(self, scope: Scope, key: str, *, reader: str | None, now: int) -> Record | None:
        return reads.get(self.db, scope, key, reader=reader, now=now)

    def get_many(self, scope: Scope, keys: list[str], *, reader: str | None, now: int, max_bytes: int) -> ManyResult:
        return reads.get_many(self.db, scope, keys, reader=reader, now=now, max_bytes=max_bytes)

    def list_keys(self, scope: Scope, *, prefix: str, after: str | None, limit: int, now: int) -> list[str]:
        return reads.list_keys(self.db, scope, prefix=prefix, after=after, limit=limit, now=now)

    # -- writes ------------------------------------------------------------

    def put(self, scope: Scope, key: str, write: Write, now: int) -> tuple[Record, bool]:
        return writes.put(self.db, scope, key, write, now)

    def increment(
        self, scope: Scope, key: str, by: int | float, *, agent: str, expires_at: int | None, now: int
    ) -> Record:
        return writes.increment(self.db, scope, key, by, agent=agent, expires_at=expires_at, now=now)

    def delete(self, scope: Scope, key: str, *, if_version: int | None, now: int) -> bool:
        return writes.delete(self.db, scope, key, if_version=if_version, now=now)

    def put_many(self, scope: Scope, items: list[tuple[str, Write]], now: int) -> dict[str, int]:
        return batch.put_many(self.db, scope, items, now)

    def clear(self, scope: Scope, *, now: int, deadline: float) -> tuple[int, bool]:
        return batch.clear(self.db, scope, now=now, deadline=deadline)

    # -- registry ----------------------------------------------------------

    def list_namespaces(self, user_id: str, *, prefix: str, now: int) -> list[str]:
        return registry.list_namespaces(self.db, user_id, prefix=prefix, now=now)

    def stats(self, user_id: str, *, namespace: str | None, now: int) -> list[NamespaceStats]:
        return registry.stats(self.db, user_id, namespace=namespace, now=now)

    def purge_expired(self, now: int, user_id: str | None = None) -> int:
        return registry.purge_expired(self.db, now, user_id)

    def forget_ttl_removal(self, item: dict[str, Any], event_id: str, now: int) -> str:
        """Account for an item DynamoDB's TTL deleted (the table stream's consumer, `aws_ttl`)."""
        return registry.forget_ttl_removal(self.db, item, event_id, now)

    # -- operator interface --------------------------------------------------

    def users(self) -> Iterator[str]:
        return registry.users(self.db)

    def scan(self, user_id: str, namespace: str | None = None) -> Iterator[Record]:
        for entry in registry.entries(self.db, user_id, namespace=namespace):
            yield from reads.records(self.db, Scope(user_id, entry["sk"]["S"]))

    def restore(self, record: Record) -> None:
        writes.restore(self.db, record)


def from_settings(settings: Settings) -> DynamoDBStore:
    return DynamoDBStore(settings.dynamodb_table)
