"""DynamoDB: the AWS deployment's backend (boto3, one table).

`DynamoDBStore` runs the operations on its parts:

- `client.DynamoClient`: the lazily created boto3 client, errors translated;
- `codec`: item layout and value encoding (chunks of large values);
- `table.Table`: requests to the table (paging, batches, transactions, counted reads);
- `writes`: the guarded transactions every write is made of;
- `registry`: the namespace registry, the purge of expired records, and the
  accounting of records DynamoDB's TTL deleted (fed by `edges/aws/ttl`);
- `schema`: the table definition, read from template.yaml (admin only);
- `writeloop.OptimisticStore`: set, increment, delete and restore as
  read, build, guarded write, retry on a lost race.

Round trips per operation (asserted by tests/aws):

- `get`: one UpdateItem (tracking, `ReturnValues=ALL_NEW`, conditioned on the
  record existing and not being expired; an `ADD` of the count); without
  tracking one GetItem. A value above `codec.INLINE_MAX` (4 KiB) lives in
  chunk items: one BatchGetItem more. The UpdateItem bills the record item,
  which holds no large value: a tracked get of 300 KB costs 1 write unit.
  Refused because a transaction holds the item: sent again, with backoff.
  With `refresh_ttl`: one UpdateItem that also moves `exp`/`ttl` by the TTL
  the item keeps (`ts`/`tm`), tracked or not; a record that keeps no TTL
  costs one more UpdateItem when tracked (the failed condition returns it),
  and a value in chunks one UpdateItem per chunk (their TTL first).
- `set` / `increment` / `delete`: one GetItem (the stored record is needed to
  merge metadata, keep creation fields, compute the registry's byte delta)
  plus one TransactWriteItems that writes the record conditioned on the
  version read and updates the namespace registry in the same transaction.
  A lost race is answered by `ReturnValuesOnConditionCheckFailure`, so a
  retry needs no extra read.
- `get_many`: BatchGetItem of the records (UnprocessedKeys retried), one
  BatchGetItem of the chunks of those that fit the response, and the counts
  of all of them in one TransactWriteItems per 100 records (each an `ADD`
  conditioned on the record's creation time and version, so an overwrite
  meanwhile keeps the count): 100 keys in at most 3 round trips. A record
  deleted meanwhile cancels the transaction, which is sent again without it
  (that key read on its own); one another transaction holds, sent again.
  `refresh_ttl` rides on the same transaction (untracked: the records that
  keep a TTL), after one UpdateItem per chunk of the chunked ones.
- `set_many`: BatchGetItem plus one TransactWriteItems per 99 items (the
  100th action is the registry update); all items are validated first.
- `list_keys`: Query pages; `list_namespaces` / `stats`: a Query of the
  user's expiry index (to purge what has expired) plus a Query of the
  user's registry entries, never a table scan; `clear`: Query + one
  TransactWriteItems per 99 keys, resumable at the deadline.

Values of more than 4 KiB (after zlib) are kept in chunk items written
before the record that names them, so the record item stays small; see `codec`.
A write of such values adds one BatchWriteItem per 25 chunks before its
transaction, and an overwrite one deleting the replaced chunks after it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

from agent_datastore.core.errors import BackendUnavailable, DataStoreError
from agent_datastore.core.jsonutil import utf8_len
from agent_datastore.core.records import NamespaceStats, Record, Scope, Write, apply_read, apply_write
from agent_datastore.core.settings import Settings
from agent_datastore.stores.base import Cost, ManyResult, partial_write, response_cost, within_budget
from agent_datastore.stores.dynamodb import codec, registry
from agent_datastore.stores.dynamodb.client import ConditionFailed, DynamoClient
from agent_datastore.stores.dynamodb.table import (
    LIVE,
    MAX_RACES,
    MAX_TX_ITEMS,
    Raced,
    Table,
    ident_of,
    names,
    projection,
)
from agent_datastore.stores.dynamodb.writes import REGISTRY_SHARDS, Plan, batches, delete_items, write_records
from agent_datastore.stores.retry import backoff
from agent_datastore.stores.writeloop import Contention, LostRace, OptimisticStore

Item = dict[str, Any]
# A record whose value is inline (no chunk items).
INLINE = "attribute_not_exists(#vn)"
# Record attributes `clear` reads: what its guarded deletes and the registry need.
CLEAR_ATTRIBUTES = ["pk", "sk", "ver", "sz", "exp", "vn", "vg"]


class DynamoDBStore(OptimisticStore[Item]):
    name = "dynamodb"
    # A lost race is retried at once on what the failed condition returned, then after a backoff
    # from a fresh read, for 15 seconds (the request budget is 20) and at least 10 attempts.
    # The window grows to 2 s: 20 separate writers of one key need a window of about 20 round trips
    # to stop colliding; with a 0.25 s cap they kept colliding, and 20 x 50 increments took 85 s
    # on the moto server where a 2 s cap took 40 s (docs/scale.md). With that window a floor of
    # MAX_RACES (60) attempts would outlast the budget (a request measured at 28 s); 10 backoffs
    # sum to 11 s at most, so the 15 s bound decides: a loser's 503 comes by about 17 s.
    contention = Contention(attempts=10, base=0.025, cap=2.0, seconds=15.0)

    def __init__(
        self,
        table: str = "agent_data_store",
        *,
        client: Any = None,
        retry_mode: str = "standard",
        registry_shards: int = REGISTRY_SHARDS,
    ) -> None:
        super().__init__()
        self.table = table
        # Where writes add their registry deltas (readers sum whatever shards exist: docs/scale.md).
        self.registry_shards = registry_shards
        self.dynamo = DynamoClient(client, retry_mode=retry_mode)
        self.db = Table(table, self.dynamo)

    @property
    def client(self) -> Any:
        """The boto3 client (created on first use)."""
        return self.dynamo.raw

    def create(self) -> None:
        """Create the table from template.yaml's definition (idempotent)."""
        from agent_datastore.stores.dynamodb.schema import create_table

        create_table(self.client, self.table)

    def drop(self) -> None:
        """Delete the table (tests and operators only)."""
        from agent_datastore.stores.dynamodb.schema import drop_table

        drop_table(self.client, self.table)

    # -- the storage calls of the write loop ---------------------------------

    def read_stored(self, scope: Scope, key: str, *, with_value: bool) -> Item | None:
        return self.db.get_item(codec.record_key(scope, key), None if with_value else codec.META_ATTRIBUTES)

    def live_record(self, scope: Scope, stored: Item | None, now: int, *, with_value: bool) -> Record | None:
        if stored is None or not codec.is_live(stored, now):
            return None
        if not with_value:
            return codec.to_record(scope, stored)
        record = self.db.record(scope, stored)
        if record is None:  # its chunks were replaced meanwhile: read the record again
            raise LostRace()
        return record

    def write_stored(self, scope: Scope, stored: Item | None, record: Record) -> None:
        write_records(self.db, scope, [(stored, record)], record.updated_at, shards=self.registry_shards)

    def remove_stored(self, scope: Scope, stored: Item, now: int) -> None:
        delete_items(self.db, scope, [stored], now, shards=self.registry_shards)

    def blind_put(self, write: Write) -> bool:
        # Without `if_version` (whose check needs the stored version) and with a value that stays
        # inline: a value in chunks would have its chunks written twice when the key exists.
        return write.if_version is None and utf8_len(write.value_json) <= codec.INLINE_MAX

    def too_busy(self, operation: str, key: str) -> BackendUnavailable:
        return BackendUnavailable(f"key {key!r} is being written too often; retry shortly")

    # -- reads -----------------------------------------------------------------

    def get(self, scope: Scope, key: str, *, reader: str | None, now: int, refresh_ttl: bool = False) -> Record | None:
        if refresh_ttl:
            return self._get_refreshed(scope, key, reader, now)
        if reader is None:
            return self.db.read_record(scope, key, now)
        try:
            result = self.db.read_update(
                scope,
                key,
                reader=reader,
                condition=f"attribute_exists(#pk) AND {LIVE}",
                attributes=("pk", "exp"),
                values={":now": {"N": str(now)}},
                returns="ALL_NEW",
            )
        except ConditionFailed:
            return None
        # Overwritten between the update and the chunk read: the newer version
        # keeps the count just made (overwrites keep accessCount).
        return self.db.assembled(scope, result["Attributes"], now)

    def _get_refreshed(self, scope: Scope, key: str, reader: str | None, now: int) -> Record | None:
        """A read with refresh_ttl. A live record that keeps its TTL, with its value inline, takes
        one UpdateItem: the count and the expiry moved by the TTL it holds, atomically. Otherwise
        the failed condition returns the item: absent or expired, nothing; no TTL kept, a read as
        without refresh_ttl; a value in chunks, the chunks' TTL first, then the record's."""
        for _ in range(MAX_RACES):
            try:
                result = self.db.read_update(
                    scope,
                    key,
                    reader=reader,
                    expiry=("#tm + :now", "#ts + :now_s", {":now_s": {"N": str(codec.ttl_seconds(now))}}),
                    condition=f"attribute_exists(#pk) AND {LIVE} AND attribute_exists(#tm) AND {INLINE}",
                    attributes=("pk", "exp", "tm", "ts", "vn"),
                    values={":now": {"N": str(now)}},
                    returns="ALL_NEW",
                    old_on_failure=True,
                )
            except ConditionFailed as failed:
                item = failed.item
                if item is None or not codec.is_live(item, now):
                    return None
                if "tm" not in item:  # no TTL kept: nothing to refresh
                    if reader is None:
                        return self.db.assembled(scope, item, now)
                    return self.get(scope, key, reader=reader, now=now)
                record = self.db.record(scope, item)
                if record is not None:
                    try:
                        return self._track(scope, record, item, reader, now, refresh_ttl=True)
                    except LostRace:
                        pass
                continue  # overwritten meanwhile: read it again
            return self.db.assembled(scope, result["Attributes"], now)
        raise self.too_busy("get", key)

    def get_many(
        self,
        scope: Scope,
        keys: list[str],
        *,
        reader: str | None,
        now: int,
        max_bytes: int,
        refresh_ttl: bool = False,
        cost: Cost = response_cost,
    ) -> ManyResult:
        items = self.db.batch_get([codec.record_key(scope, key) for key in keys])
        found = _Found(self.db, scope, keys, items, now)
        found.read_chunks(max_bytes)
        result = within_budget(keys, found, max_bytes, cost)
        if (reader is not None or refresh_ttl) and result.found:
            self._track_many(scope, result.found, found, reader, now, refresh_ttl=refresh_ttl)
        return result

    def _track_many(
        self,
        scope: Scope,
        records: dict[str, Record],
        found: _Found,
        reader: str | None,
        now: int,
        *,
        refresh_ttl: bool,
    ) -> None:
        """Count the reads of `records` (and, with refresh_ttl, move their expiry) in one
        TransactWriteItems per 100 records, replacing each by what the read made of it.

        A count is conditioned on the record's life (its creation time, and a version at least
        the one read): an overwrite meanwhile keeps the count (overwrites keep accessCount),
        while a record deleted (or deleted and created again) meanwhile is read again on its
        own, as is one whose refresh lost a race (a refresh is conditioned on the version and
        the TTL read). A transaction another one held is sent again, with backoff."""
        updates: dict[str, dict[str, Any]] = {}
        alone: list[str] = []  # to read again on their own (counted, refreshed)
        refresh_at = now if refresh_ttl else None
        reads = {key: (record, apply_read(record, reader, refresh_at)) for key, record in records.items()}
        reads = {key: (record, after) for key, (record, after) in reads.items() if after is not record}

        def action(key: str) -> dict[str, Any] | LostRace | None:
            record, after = reads[key]
            try:
                return self._read_action(scope, record, found.item(key), after, reader)
            except LostRace as lost:
                return lost

        # A refresh moves the TTL of each chunk first (an UpdateItem per chunk item): run concurrently.
        moving = refresh_ttl and any("vn" in found.item(key) for key in reads)
        with ThreadPoolExecutor(max_workers=16) if moving else nullcontext() as pool:
            actions = list(pool.map(action, reads) if pool else map(action, reads))
        for key, update in zip(reads, actions, strict=True):
            if isinstance(update, LostRace):
                alone.append(key)
                continue
            records[key] = reads[key][1]
            if update is not None:
                updates[key] = update
        pending = list(updates)
        for start in range(0, len(pending), 100):
            batch = pending[start : start + 100]
            for attempt in range(1, MAX_RACES + 1):
                try:
                    failed = self.db.track([updates[key] for key in batch])
                except Raced:
                    backoff(attempt, base=0.01)
                    continue
                lost = [batch[index] for index in failed]
                alone += lost
                batch = [key for key in batch if key not in lost]
                if not lost or not batch:
                    break
            else:
                raise BackendUnavailable("get_many kept meeting other writers; retry shortly")
        for key in alone:
            again = self.get(scope, key, reader=reader, now=now, refresh_ttl=refresh_ttl)
            if again is None:
                del records[key]
            else:
                records[key] = again

    def _moved_expiry(
        self, scope: Scope, record: Record, item: Item, after: Record
    ) -> tuple[str, str, dict[str, Any]] | None:
        """The `exp`/`ttl` expressions moving `record`'s expiry to `after`'s, its chunks' TTL moved
        first (LostRace when they are gone); None when the expiry does not move."""
        if after.expires_at == record.expires_at or after.expires_at is None or not record.ttl_seconds:
            return None
        if "vn" in item and not self.db.extend_chunks(scope, item, after.expires_at):
            raise LostRace()
        moved = {
            ":exp": {"N": str(after.expires_at)},
            ":ttl": {"N": str(codec.ttl_seconds(after.expires_at))},
            ":tm": {"N": str(record.ttl_seconds * 1000)},  # for the caller's condition on the TTL read
        }
        return (":exp", ":ttl", moved)

    def _read_action(
        self, scope: Scope, record: Record, item: Item, after: Record, reader: str | None
    ) -> dict[str, Any] | None:
        """The update counting one read of `record` and moving its expiry to `after`'s (its
        chunks' TTL first: LostRace when they are gone); None when it writes nothing."""
        values: dict[str, Any] = {":ca": {"N": str(record.created_at)}, ":ver": {"N": str(record.version)}}
        condition, attributes = "#ca = :ca AND #ver >= :ver", ["ca", "ver"]
        expiry = self._moved_expiry(scope, record, item, after)
        if expiry is not None:
            condition, attributes = "#ver = :ver AND #tm = :tm", ["ver", "tm"]
            values = {":ver": values[":ver"]}  # `:tm` comes with the expiry's values
        if reader is None and expiry is None:
            return None  # a refresh to the expiry it already has (read in the write's millisecond)
        return self.db.read_action(
            scope,
            record.key,
            reader=reader,
            expiry=expiry,
            condition=condition,
            attributes=tuple(attributes),
            values=values,
        )

    def _track(
        self, scope: Scope, record: Record, item: Item, reader: str | None, now: int, *, refresh_ttl: bool
    ) -> Record:
        """Count one read of exactly the version that was read and, with refresh_ttl, move its expiry
        (its chunks' TTL first, so that no chunk can expire before its record); LostRace when that
        version is gone. A refresh is also conditioned on the TTL read, so that a record deleted and
        written again at the same version never gets another record's expiry."""
        after = apply_read(record, reader, now if refresh_ttl else None)
        if after is record:
            return record
        condition, attributes = "#ver = :ver", ["ver"]
        values: dict[str, Any] = {":ver": {"N": str(record.version)}}
        expiry = self._moved_expiry(scope, record, item, after)
        if expiry is not None:
            condition, attributes = condition + " AND #tm = :tm", ["ver", "tm"]  # `:tm`: the expiry's
        if reader is None and expiry is None:
            return after  # a refresh to the expiry it already has (read in the write's millisecond)
        try:
            result = self.db.read_update(
                scope,
                record.key,
                reader=reader,
                expiry=expiry,
                condition=condition,
                attributes=tuple(attributes),
                values=values,
                returns="UPDATED_NEW",
            )
        except ConditionFailed:
            raise LostRace() from None
        if reader is None:
            return after
        return replace(after, access_count=int(result["Attributes"]["ac"]["N"]))

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
        for item in self.db.query(
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

    # -- multi-item writes -------------------------------------------------------
    # Each batch is one TransactWriteItems of at most 99 record actions plus the
    # registry update, so the registry stays exact whatever fails or races; a
    # failure after some batches were written reports them in `details.written`
    # (API.md: a retry of the same set_many is safe).

    def _plan(self, scope: Scope, items: list[tuple[str, Write]], now: int) -> Plan:
        """Every new record over its stored item, read now: computed (and so validated) before
        anything is written."""
        found = self.db.batch_get([codec.record_key(scope, key) for key, _ in items], codec.META_ATTRIBUTES)
        olds = {item["sk"]["S"]: item for item in found.values()}
        plan: Plan = []
        for key, write in items:
            old = olds.get(key)
            plan.append((old, apply_write(scope, key, self.live_record(scope, old, now, with_value=False), write, now)))
        return plan

    def _write_batch(self, scope: Scope, batch: list[tuple[str, Write]], plan: Plan, now: int) -> Plan:
        """Write one batch as planned; after a lost race, plan it again from a fresh read."""

        def write(plan: Plan) -> Plan:
            updated_at = max([now, *(record.updated_at for _, record in plan)])
            write_records(self.db, scope, plan, updated_at, shards=self.registry_shards)
            return plan

        return self.contention.retry(
            write,
            plan,
            lambda _: self._plan(scope, batch, now),
            lambda: BackendUnavailable("set_many kept racing with other writers"),
        )

    def put_many(self, scope: Scope, items: list[tuple[str, Write]], now: int) -> dict[str, int]:
        planned = {record.key: (old, record) for old, record in self._plan(scope, items, now)}
        versions: dict[str, int] = {}
        for batch in batches(items):
            try:
                plan = self._write_batch(scope, batch, [planned[key] for key, _ in batch], now)
            except DataStoreError as exc:
                if not versions:
                    raise
                raise partial_write(list(versions), len(items), exc) from exc
            versions.update({record.key: record.version for _, record in plan})
        return versions

    def clear(self, scope: Scope, *, now: int, deadline: float) -> tuple[int, bool]:
        expression, attribute_names = projection(CLEAR_ATTRIBUTES)
        deleted, batches_done, attempt = 0, 0, 0
        while True:
            # Each call deletes at least one batch (so a repeated clear progresses); after that no
            # batch is started past the deadline, not even the retry of one that lost a race.
            if batches_done and time.monotonic() >= deadline:
                return deleted, False
            page = self.db.call(
                "query",
                TableName=self.db.name,
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
                delete_items(self.db, scope, items, now, shards=self.registry_shards)
            except Raced:
                attempt += 1
                if attempt > MAX_RACES:
                    raise BackendUnavailable("clear kept racing with other writers; retry") from None
                backoff(attempt)
                continue
            batches_done += 1
            deleted += sum(1 for item in items if codec.is_live(item, now))
            if len(items) < MAX_TX_ITEMS and not page.get("LastEvaluatedKey"):
                return deleted, True

    # -- the namespace registry ----------------------------------------------------

    def list_namespaces(self, user_id: str, *, prefix: str, now: int) -> list[str]:
        self.purge_expired(now, user_id)
        return [entry.namespace for entry in registry.entries(self.db, user_id, prefix)]

    def stats(self, user_id: str, *, namespace: str | None, now: int) -> list[NamespaceStats]:
        self.purge_expired(now, user_id)
        return registry.entries(self.db, user_id, namespace=namespace)

    def purge_expired(self, now: int, user_id: str | None = None) -> int:
        return registry.purge_expired(self.db, now, user_id, shards=self.registry_shards)

    def forget_ttl_removal(self, item: Item, event_id: str, now: int) -> str:
        """Account for an item DynamoDB's TTL deleted (the table stream's consumer, `edges/aws/ttl`)."""
        return registry.forget_ttl_removal(self.db, item, event_id, now, shards=self.registry_shards)

    # -- operator interface ----------------------------------------------------------

    def users(self) -> Iterator[str]:
        return registry.users(self.db)

    def scan(self, user_id: str, namespace: str | None = None) -> Iterator[Record]:
        for entry in registry.entries(self.db, user_id, namespace=namespace):
            scope = Scope(user_id, entry.namespace)
            for item in self.db.query(
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames=names("pk"),
                ExpressionAttributeValues={":pk": {"S": codec.record_pk(scope)}},
                ConsistentRead=True,
            ):
                record = self.db.assembled(scope, item, 0)
                if record is not None:
                    yield record


class _Found(Mapping[str, Record]):
    """The live records a BatchGetItem answered, each assembled when first looked up.

    `read_chunks` reads the chunks of the records that can fit a response in one
    BatchGetItem; `within_budget` looks keys up in request order and stops at the
    first record that does not fit.
    """

    def __init__(self, db: Table, scope: Scope, keys: list[str], items: dict[str, Item], now: int) -> None:
        pk = codec.record_pk(scope)
        self._items = {
            key: item for key in keys if (item := items.get(ident_of(pk, key))) is not None and codec.is_live(item, now)
        }
        self._db, self._scope, self._now = db, scope, now
        self._records: dict[str, Record | None] = {}

    def read_chunks(self, max_bytes: int) -> None:
        """Assemble, reading all their chunks at once, the records in request order until their
        values (what each costs a response at least) pass `max_bytes`: no chunk is read for a
        record past the first that cannot fit."""
        budget, items = max_bytes, []
        for item in self._items.values():
            if budget < 0:
                break
            budget -= int(item["sz"]["N"]) - utf8_len(item["m"]["S"])
            items.append(item)
        for key, record in self._db.records(self._scope, items).items():
            # Chunks gone (overwritten meanwhile): read again when looked up.
            if record is not None:
                self._records[key] = record

    def item(self, key: str) -> Item:
        """The item the record of `key` was read from."""
        return self._items[key]

    def __getitem__(self, key: str) -> Record:
        if key not in self._records:
            self._records[key] = self._db.assembled(self._scope, self._items[key], self._now)
        record = self._records[key]
        if record is None:
            raise KeyError(key)
        return record

    def __iter__(self) -> Iterator[str]:
        return (key for key in self._items if key in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def from_settings(settings: Settings) -> DynamoDBStore:
    return DynamoDBStore(settings.dynamodb_table)
