"""What a store's requests cost, the way the clouds bill them (bench/capacity.py, tests/aws).

DynamoDB (on-demand or provisioned, the units are the same): `DynamoMeter`
hooks a store's boto3 client and, for every request the store sends, reads
the items it touches through a second, unhooked client, before and after the
request, and bills them by DynamoDB's rules:

- item size: attribute names plus values (strings and binaries by their
  bytes, numbers 1 byte + 1 per 2 significant digits, booleans and nulls 1,
  lists and maps 3 + 1 per element + the elements);
- writes: 1 unit per KB (rounded up, at least 1) of the larger of the item
  before and after (`PutItem`, `UpdateItem`, `DeleteItem`, each item of a
  `BatchWriteItem`; a failed condition still bills the item); an action of
  `TransactWriteItems` costs twice that (a cancelled transaction is billed
  the same, for the items as they stood);
- reads: 1 unit per 4 KB of the whole item (a projection does not reduce
  it), rounded up, at least 1, halved when eventually consistent;
  `BatchGetItem` bills each key as a `GetItem` (a missing one at the
  minimum); a `Query` page bills the sum of the items its key condition
  reached (a filter does not reduce it), rounded up once.

Writes to the `expiry` index (records with an expiry) are not billed here.

Firestore: `FirestoreMeter` is a gRPC interceptor counting billed document
operations: a read per document a `BatchGetDocuments` asks for (found or
not), per document a `RunQuery` returns (at least 1 per query), per
document `GetDocument` returns; a write per entry of a `Commit` (a delete
included).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import grpc

KB = 1024
READ_UNIT = 4 * KB


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one DynamoDB attribute value (typed JSON, as boto3's client sends it)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "B":
        return len(bytes(data))
    if kind == "N":
        digits = Decimal(data).normalize().as_tuple().digits
        return 1 + math.ceil(len(digits) / 2)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(item.encode("utf-8")) for item in data)
    if kind == "BS":
        return sum(len(bytes(item)) for item in data)
    if kind == "NS":
        return sum(value_size({"N": item}) for item in data)
    if kind == "L":
        return 3 + sum(1 + value_size(item) for item in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + value_size(item) for name, item in data.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    """Bytes of an item by DynamoDB's rules: attribute names and values (0: no item)."""
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(*sizes: int) -> int:
    """Write units of one item write: the largest of the sizes, per KB rounded up, at least 1."""
    return max(1, math.ceil(max(sizes, default=0) / KB))


def read_units(size: int, *, consistent: bool) -> float:
    """Read units of reading `size` bytes: per 4 KB rounded up, at least 1, halved if eventual."""
    units = max(1, math.ceil(size / READ_UNIT))
    return units if consistent else units / 2


@dataclass
class Bill:
    """Capacity units and requests of a span of calls."""

    requests: int = 0
    write: float = 0
    read: float = 0
    operations: Counter[str] = field(default_factory=Counter)

    def __add__(self, other: Bill) -> Bill:
        return Bill(
            self.requests + other.requests,
            self.write + other.write,
            self.read + other.read,
            self.operations + other.operations,
        )


class DynamoMeter:
    """Bills every request sent through `client` (see the module's rules); `probe` is a client of
    the same server without hooks, used to read the items before and after each request."""

    def __init__(self, client: Any, probe: Any) -> None:
        self.probe = probe
        self.bill = Bill()
        self._lock = threading.Lock()
        client.meta.events.register("before-parameter-build.dynamodb.*", self._before)
        client.meta.events.register("after-call.dynamodb.*", self._after)

    def take(self) -> Bill:
        with self._lock:
            bill, self.bill = self.bill, Bill()
        return bill

    @contextmanager
    def measuring(self) -> Iterator[Callable[[], Bill]]:
        """A block whose bill the yielded function gives (after the block)."""
        self.take()
        result: list[Bill] = []
        yield lambda: result[0]
        result.append(self.take())

    # -- hooks -------------------------------------------------------------------------------

    def _get(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.probe.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return item

    def _writes(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], int]]:
        """(table, key, multiplier) of every item a write request touches."""
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            key = params.get("Key") or self._key_of(params["TableName"], params["Item"])
            return [(params["TableName"], key, 1)]
        if operation == "BatchWriteItem":
            touched = []
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        touched.append((table, self._key_of(table, request["PutRequest"]["Item"]), 1))
                    else:
                        touched.append((table, request["DeleteRequest"]["Key"], 1))
            return touched
        if operation == "TransactWriteItems":
            touched = []
            for action in params["TransactItems"]:
                ((_, body),) = action.items()
                key = body.get("Key") or self._key_of(body["TableName"], body["Item"])
                touched.append((body["TableName"], key, 2))
            return touched
        return []

    def _key_of(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        schema = self.probe.describe_table(TableName=table)["Table"]["KeySchema"]
        return {part["AttributeName"]: item[part["AttributeName"]] for part in schema}

    def _before(self, params: dict[str, Any], context: dict[str, Any], event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        touched = self._writes(operation, params)
        before = [item_size(self._get(table, key)) for table, key, _ in touched]
        context["capacity"] = (operation, touched, before, self._reads(operation, params))

    def _after(self, context: dict[str, Any], **_: Any) -> None:
        operation, touched, before, read = context.pop("capacity", ("", [], [], 0.0))
        write = 0.0
        for (table, key, times), size in zip(touched, before, strict=True):
            write += times * write_units(size, item_size(self._get(table, key)))
        with self._lock:
            self.bill = self.bill + Bill(1, write, read, Counter({operation: 1}))

    def _reads(self, operation: str, params: dict[str, Any]) -> float:
        if operation == "GetItem":
            size = item_size(self._get(params["TableName"], params["Key"]))
            return read_units(size, consistent=bool(params.get("ConsistentRead")))
        if operation == "BatchGetItem":
            units = 0.0
            for table, request in params["RequestItems"].items():
                for key in request["Keys"]:
                    size = item_size(self._get(table, key))
                    units += read_units(size, consistent=bool(request.get("ConsistentRead")))
            return units
        if operation in ("Query", "Scan"):
            return read_units(self._reached(operation, params), consistent=bool(params.get("ConsistentRead")))
        return 0.0

    def _reached(self, operation: str, params: dict[str, Any]) -> int:
        """Bytes of the items a Query/Scan page reaches before its filter and projection."""
        dropped = ("ProjectionExpression", "FilterExpression")
        probe = {name: value for name, value in params.items() if name not in dropped}
        used = set(re.findall(r"[#:][A-Za-z0-9_]+", str(params.get("KeyConditionExpression", ""))))
        for name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            kept = {token: value for token, value in params.get(name, {}).items() if token in used}
            if kept:
                probe[name] = kept
            else:
                probe.pop(name, None)
        page = getattr(self.probe, "query" if operation == "Query" else "scan")(**probe)
        return sum(item_size(item) for item in page.get("Items", []))


def dynamo_meter(store: Any) -> DynamoMeter:
    """A meter on a `DynamoDBStore`'s client, probing through a new client of the same server."""
    import boto3

    probe = boto3.session.Session().client("dynamodb", endpoint_url=store.client.meta.endpoint_url)
    return DynamoMeter(store.client, probe)


# -- Firestore -----------------------------------------------------------------------------------


class FirestoreMeter(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Billed Firestore document reads and writes of the RPCs sent on a channel; the RPCs
    themselves are counted by the suite's `RpcCounter` (tests/contract/backends/firestore.py)."""

    def __init__(self, rpcs: Callable[[], int]) -> None:
        self.reads = 0
        self.writes = 0
        self._rpcs = rpcs
        self._rpcs_taken = 0
        self._lock = threading.Lock()

    def _add(self, reads: int = 0, writes: int = 0) -> None:
        with self._lock:
            self.reads += reads
            self.writes += writes

    def take(self) -> tuple[int, int, int]:
        """(document reads, document writes, RPCs) since the last take."""
        rpcs = self._rpcs()
        with self._lock:
            taken = (self.reads, self.writes, rpcs - self._rpcs_taken)
            self.reads = self.writes = 0
            self._rpcs_taken = rpcs
        return taken

    def _intercept(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        method = str(details.method).rsplit("/", 1)[-1]
        if method in ("Commit", "BatchWrite"):
            self._add(writes=len(request.writes))
        elif method == "RunAggregationQuery":
            self._add(reads=1)  # one per up to 1,000 index entries counted
        elif method == "BatchGetDocuments":
            self._add(reads=len(request.documents))
        response = continuation(details, request)
        if method == "RunQuery":
            return self._counted_query(response)
        if method == "GetDocument":
            self._add(reads=1)
        return response

    def _counted_query(self, responses: Any) -> Any:
        meter = self

        class Counted:
            """The response stream, counting the documents it carries (at least 1 per query)."""

            def __init__(self) -> None:
                self.seen = 0
                self.done = False

            def __iter__(self) -> Counted:
                return self

            def __next__(self) -> Any:
                try:
                    response = next(responses)
                except StopIteration:
                    if not self.seen and not self.done:
                        meter._add(reads=1)  # a query that returns nothing bills one read
                    self.done = True
                    raise
                if response.document.name:
                    self.seen += 1
                    meter._add(reads=1)
                return response

            def __getattr__(self, name: str) -> Any:
                return getattr(responses, name)

        return Counted()

    intercept_unary_unary = intercept_unary_stream = intercept_stream_unary = intercept_stream_stream = _intercept


@contextmanager
def firestore_meter() -> Iterator[FirestoreMeter]:
    """Meter every Firestore client that opens its (emulator) channel inside this block."""
    from unittest import mock

    from tests.contract.backends.firestore import counting_rpcs

    with counting_rpcs() as counter:
        meter = FirestoreMeter(lambda: counter.total)
        counted_channel = grpc.insecure_channel

        def metered_channel(*args: Any, **kwargs: Any) -> grpc.Channel:
            return grpc.intercept_channel(counted_channel(*args, **kwargs), meter)

        with mock.patch.object(grpc, "insecure_channel", metered_channel):
            yield meter
