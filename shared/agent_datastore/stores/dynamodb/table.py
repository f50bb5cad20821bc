"""The one table of `DynamoDBStore`: its requests, in the store's terms.

Every part of the backend reaches DynamoDB through `Table`: paged Query
and Scan, batch reads and writes with their unprocessed part retried,
TransactWriteItems whose failed condition becomes `Raced`, the UpdateItem
that counts a read (and refreshes a TTL), and records assembled from their
item and, for large values, their chunk items.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from agent_datastore.core.errors import BackendUnavailable
from agent_datastore.core.records import Record, Scope
from agent_datastore.stores.dynamodb import codec
from agent_datastore.stores.dynamodb.client import ConditionFailed, DynamoClient, ItemLocked, TransactionCancelled
from agent_datastore.stores.retry import backoff
from agent_datastore.stores.writeloop import LostRace

EXPIRY_INDEX = "expiry"
MAX_TX_ITEMS = 99  # + one registry update = DynamoDB's 100 actions per transaction
MAX_TX_BYTES = 3_500_000  # under the 4 MB transaction limit
MAX_RACES = 60
# Attempts of a read's UpdateItem refused because a transaction holds the item (~15 ms each).
MAX_LOCKED = 8
LIVE = "(attribute_not_exists(#exp) OR #exp > :now)"


class Raced(LostRace):
    """A condition of a TransactWriteItems failed: another writer changed a record between our
    read and our write. `stored` is the item the failed condition returned (None: no item), unless
    several failed (`reread`: read them again)."""

    def __init__(self, item: dict[str, Any] | None, reread: bool = False) -> None:
        super().__init__(item, reread=reread)


def names(*attributes: str) -> dict[str, str]:
    return {f"#{name}": name for name in attributes}


def projection(attributes: list[str]) -> tuple[str, dict[str, str]]:
    return ", ".join(f"#{name}" for name in attributes), names(*attributes)


def ident_of(pk: str, sk: str) -> str:
    return f"{len(pk)}:{pk}{sk}"


def ident(item: dict[str, Any]) -> str:
    return ident_of(item["pk"]["S"], item["sk"]["S"])


class Table:
    """Requests to the table `name` through one (lazily created) client."""

    def __init__(self, name: str, dynamo: DynamoClient) -> None:
        self.name = name
        self.dynamo = dynamo

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.dynamo.call(operation, **params)

    def get_item(self, key: dict[str, Any], attributes: list[str] | None = None) -> dict[str, Any] | None:
        params: dict[str, Any] = {"TableName": self.name, "Key": key, "ConsistentRead": True}
        if attributes:
            params["ProjectionExpression"], params["ExpressionAttributeNames"] = projection(attributes)
        item: dict[str, Any] | None = self.call("get_item", **params).get("Item")
        return item

    def _until_processed(self, operation: str, request: Any, unprocessed: str, what: str) -> list[dict[str, Any]]:
        """The answers to one batch request, its `unprocessed` part sent again with backoff."""
        pending: dict[str, Any] = {self.name: request}
        answers = []
        attempt = 0
        while pending:
            result = self.call(operation, RequestItems=pending)
            answers.append(result)
            pending = result.get(unprocessed) or {}
            if pending:
                attempt += 1
                if attempt > 8:
                    raise BackendUnavailable(f"DynamoDB kept {what} unprocessed; retry shortly")
                backoff(attempt, base=0.05)
        return answers

    def batch_get(self, keys: list[dict[str, Any]], attributes: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """Items by `ident` for up to any number of keys (UnprocessedKeys retried)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {"Keys": keys[start : start + 100], "ConsistentRead": True}
            if attributes:
                request["ProjectionExpression"], request["ExpressionAttributeNames"] = projection(attributes)
            for result in self._until_processed("batch_get_item", request, "UnprocessedKeys", "keys"):
                for item in result.get("Responses", {}).get(self.name, []):
                    found[ident(item)] = item
        return found

    def batch_write(self, requests: list[dict[str, Any]]) -> None:
        """BatchWriteItem in groups of 25, UnprocessedItems retried with backoff."""
        for start in range(0, len(requests), 25):
            self._until_processed("batch_write_item", requests[start : start + 25], "UnprocessedItems", "writes")

    def transact(self, actions: list[dict[str, Any]]) -> None:
        """One TransactWriteItems; a conflicting record write becomes `Raced`.

        The request token makes botocore's own retries of the same call
        idempotent: DynamoDB answers a resend whose first attempt was applied
        (its answer lost to a read timeout) with that attempt's success and
        applies nothing again.
        """
        try:
            self.call("transact_write_items", TransactItems=actions, ClientRequestToken=uuid.uuid4().hex)
        except TransactionCancelled as exc:
            failed = exc.failed_items()
            if failed:
                raise Raced(failed[0][1] if len(failed) == 1 else None, reread=len(failed) != 1) from exc
            if "TransactionConflict" in exc.codes():
                raise Raced(None, reread=True) from exc
            raise BackendUnavailable(f"DynamoDB cancelled the write: {', '.join(sorted(exc.codes()))}") from exc

    def _pages(self, operation: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Items of every page of a Query or Scan, read as they are consumed."""
        params = {"TableName": self.name, **params}
        while True:
            page = self.call(operation, **params)
            yield from page.get("Items", [])
            if not page.get("LastEvaluatedKey"):
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def query(self, **params: Any) -> Iterator[dict[str, Any]]:
        return self._pages("query", params)

    def scan(self, **params: Any) -> Iterator[dict[str, Any]]:
        return self._pages("scan", params)

    def record(self, scope: Scope, item: dict[str, Any]) -> Record | None:
        """The record of a record item, or None when its chunks are gone (overwritten meanwhile)."""
        return self.records(scope, [item])[item["sk"]["S"]]

    def records(self, scope: Scope, items: list[dict[str, Any]]) -> dict[str, Record | None]:
        """The records of these record items by key, the chunks of all of them read in one
        BatchGetItem (per 100 chunks); None for a record whose chunks are gone."""
        wanted = {item["sk"]["S"]: codec.chunk_keys(scope, item["sk"]["S"], item) for item in items}
        found = self.batch_get([key for keys in wanted.values() for key in keys])
        records: dict[str, Record | None] = {}
        for item in items:
            key = item["sk"]["S"]
            parts = [found.get(ident(chunk)) for chunk in wanted[key]]
            if "vn" not in item:
                records[key] = codec.to_record(scope, item)
            elif any(part is None for part in parts):
                records[key] = None
            else:
                data = [bytes(part["d"]["B"]) for part in parts if part]
                records[key] = codec.to_record(scope, item, codec.decode_chunks(data, bool(item["vz"]["BOOL"])))
        return records

    def read_record(self, scope: Scope, key: str, now: int) -> Record | None:
        """Consistent read of the live record, untracked."""
        for _ in range(MAX_RACES):
            item = self.get_item(codec.record_key(scope, key))
            if item is None or not codec.is_live(item, now):
                return None
            record = self.record(scope, item)
            if record is not None:
                return record
        raise BackendUnavailable(f"key {key!r} is being rewritten too often to read; retry")

    def assembled(self, scope: Scope, item: dict[str, Any], now: int) -> Record | None:
        """The record of `item`; when its chunks are gone (overwritten meanwhile), the record read again."""
        return self.record(scope, item) or self.read_record(scope, item["sk"]["S"], now)

    def read_action(
        self,
        scope: Scope,
        key: str,
        *,
        reader: str | None,
        expiry: tuple[str, str, dict[str, Any]] | None = None,
        condition: str,
        attributes: tuple[str, ...],
        values: dict[str, Any],
    ) -> dict[str, Any]:
        """What a read of `key` changes, if `condition` holds (on the record's `attributes` and
        the given `values`), as the parameters of an update: the count of a read by `reader`
        (None: not counted) and, with `expiry` (`exp` and `ttl` expressions and their values),
        the moved expiry. The count is an `ADD`, which no concurrent write can lose."""
        sets: list[str] = []
        names_used = list(attributes)
        values = dict(values)
        if reader is not None:
            sets += ["#la = :reader"]
            names_used += ["ac", "la"]
            values.update({":one": {"N": "1"}, ":reader": {"S": reader}})
        if expiry is not None:
            exp, ttl, expiry_values = expiry
            sets += [f"#exp = {exp}", f"#ttl = {ttl}"]
            names_used += ["exp", "ttl"]
            values.update(expiry_values)
        expression = "SET " + ", ".join(sets)
        if reader is not None:
            expression += " ADD #ac :one"
        return {
            "TableName": self.name,
            "Key": codec.record_key(scope, key),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names(*dict.fromkeys(names_used)),
            "ExpressionAttributeValues": values,
        }

    def read_update(
        self,
        scope: Scope,
        key: str,
        *,
        reader: str | None,
        expiry: tuple[str, str, dict[str, Any]] | None = None,
        condition: str,
        attributes: tuple[str, ...],
        values: dict[str, Any],
        returns: str,
        old_on_failure: bool = False,
    ) -> dict[str, Any]:
        """One UpdateItem of `read_action`; `old_on_failure`: a failed condition's
        `ConditionFailed` carries the stored item."""
        params = self.read_action(
            scope, key, reader=reader, expiry=expiry, condition=condition, attributes=attributes, values=values
        )
        params["ReturnValues"] = returns
        if old_on_failure:
            params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        attempt = 0
        while True:
            try:
                return self.call("update_item", **params)
            except ItemLocked:  # a transaction (a write, a get_many's counts) holds it: nothing applied
                attempt += 1
                if attempt >= MAX_LOCKED:
                    raise
                backoff(attempt, base=0.01)

    def track(self, updates: list[dict[str, Any]]) -> list[int]:
        """Apply these `read_action` updates (at most 100) in one TransactWriteItems: all or
        none. Returns the indexes of the updates whose condition failed (their record was
        changed or deleted meanwhile; none was applied: send the others again); raises `Raced`
        when another transaction held one of the records (send them all again).

        The request token makes botocore's resend of a transaction whose answer was lost
        idempotent (DynamoDB applies it once): a read is counted once."""
        try:
            self.call(
                "transact_write_items",
                TransactItems=[{"Update": update} for update in updates],
                ClientRequestToken=uuid.uuid4().hex,
            )
        except TransactionCancelled as exc:
            codes = exc.codes()
            if "TransactionConflict" in codes:
                raise Raced(None, reread=True) from exc
            if codes == {"ConditionalCheckFailed"}:
                return [index for index, _ in exc.failed_items()]
            raise BackendUnavailable(f"DynamoDB cancelled the read: {', '.join(sorted(codes))}") from exc
        return []

    def extend_chunks(self, scope: Scope, item: dict[str, Any], expires_at: int) -> bool:
        """Move the TTL of the chunks `item` names to `expires_at`; False when one is gone
        (the record was overwritten meanwhile), and no chunk is ever created."""
        ttl = {"N": str(codec.ttl_seconds(expires_at))}
        for key in codec.chunk_keys(scope, item["sk"]["S"], item):
            try:
                self.call(
                    "update_item",
                    TableName=self.name,
                    Key=key,
                    UpdateExpression="SET #ttl = :ttl",
                    ConditionExpression="attribute_exists(#pk)",
                    ExpressionAttributeNames=names("ttl", "pk"),
                    ExpressionAttributeValues={":ttl": ttl},
                )
            except ConditionFailed:
                return False
        return True
