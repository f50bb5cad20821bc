"""What a user pays: the capacity each operation consumes, as the clouds bill it.

    python -m bench.capacity --append bench/results.md

(`make bench` runs it after bench.run.) Every operation goes through the
service, on the local DynamoDB-protocol server and the Firestore emulator;
the units are computed from the requests the store actually sends, by
tests/support/capacity.py (DynamoDB: item sizes read before and after each
request, write units per KB, read units per 4 KB, transactional actions
twice; Firestore: documents read and written). Next to each figure: the raw
single-call equivalent (one PutItem/GetItem of an item holding just the key
and the value, one document write/read). Values are random base64 text (what
compresses least among text). `--append` replaces (or adds) this script's
own section of the results file.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import random
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from agent_datastore.api.service import DataStoreService, parse_request
from agent_datastore.core.errors import DataStoreError
from agent_datastore.core.identity import Identity
from agent_datastore.core.settings import Settings
from bench.backends import available
from bench.sections import publish
from tests.support.capacity import Bill, dynamo_meter, firestore_meter, item_size, read_units, write_units

HEADING = "## What a user pays"
SIZES = {"1 KB": 1_000, "100 KB": 100_000, "300 KB": 300_000, "1 MB": 1_000_000}
# Batches hold what fits one request (the 6 MiB body limit): 100 x 1 KB, 50 x 100 KB, 16 x 300 KB, 5 x 1 MB.
BATCH_BYTES = 5_000_000


def text(size: int, seed: int) -> str:
    return base64.b64encode(random.Random(seed).randbytes(size))[:size].decode("ascii")


def batch_size(size: int) -> int:
    return min(100, BATCH_BYTES // size)


@dataclass
class Row:
    operation: str
    size: str
    requests: int
    read: float
    write: float
    raw: str


def units(value: float) -> str:
    return f"{value:g}"


def raw_put(size: int, count: int = 1) -> tuple[float, float]:
    """(read, write) units of `count` raw PutItems of the value under a short key."""
    item = {"pk": {"S": "user#namespace"}, "sk": {"S": "key"}, "v": {"S": "x" * (size + 2)}}
    return 0.0, count * write_units(item_size(item))


def raw_get(size: int, count: int = 1) -> tuple[float, float]:
    item = {"pk": {"S": "user#namespace"}, "sk": {"S": "key"}, "v": {"S": "x" * (size + 2)}}
    return count * read_units(item_size(item), consistent=True), 0.0


def raw_text(kind: str, size: int, count: int = 1) -> str:
    read, write = (raw_get if kind == "get" else raw_put)(size, count)
    over = " (over the 400 KB item limit: not one item)" if size + 2 > 400 * 1024 else ""
    if kind == "get":
        call = "GetItem" if count == 1 else f"{count} GetItem"
        return f"{call}: {units(read)} RU{over}"
    call = {"put": "PutItem", "delete": "DeleteItem"}[kind]
    call = call if count == 1 else f"{count} {call}"
    return f"{call}: {units(write)} WU{over}"


def service_call(store: Any) -> Callable[..., Any]:
    service = DataStoreService(store, Settings(auth="none"))
    identity = Identity(f"bench-{uuid.uuid4().hex[:8]}", "bench")

    def call(operation: str, **body: Any) -> Any:
        return service.execute(operation, parse_request(operation, body), identity)

    return call


def workload(call: Callable[..., Any], measured: Callable[..., Any]) -> Iterator[tuple[str, str, Any]]:
    """(operation, value size, what `measured(operation, **body)` gave for one call), for every operation."""
    for label, size in SIZES.items():
        tag = label.replace(" ", "")
        value, other = text(size, 1), text(size, 2)
        call("set", key=f"read-{tag}", value=value)
        yield "get (tracked)", label, measured("get", key=f"read-{tag}")
        yield "get (track_access false)", label, measured("get", key=f"read-{tag}", track_access=False)
        yield "set (new key)", label, measured("set", key=f"new-{tag}", value=value)
        yield "set (overwrite)", label, measured("set", key=f"new-{tag}", value=other)
        yield "delete", label, measured("delete", key=f"new-{tag}")
        count = batch_size(size)
        items = {f"many-{tag}-{i:03d}": text(size, 10 + i) for i in range(count)}
        yield f"set_many ({count} new keys)", label, measured("set_many", items=items)
        yield f"get_many ({count} keys, tracked)", label, measured("get_many", keys=list(items))
    call("set", key="counter", value=0)
    yield "increment", "number", measured("increment", key="counter")
    call("set_many", items={f"list-{i:03d}": i for i in range(100)})
    yield "list_keys (100 keys)", "-", measured("list_keys", prefix="list-", limit=100)
    yield "stats", "-", measured("stats")


def raw_of(operation: str, size_label: str) -> str:
    size = SIZES.get(size_label, 8)
    count = batch_size(size)
    if operation.startswith("get_many"):
        return raw_text("get", size, count)
    if operation.startswith("set_many"):
        return raw_text("put", size, count)
    if operation.startswith("get"):
        return raw_text("get", size)
    if operation.startswith("set"):
        return raw_text("put", size)
    if operation == "delete":
        return raw_text("delete", size)
    if operation == "increment":
        return "UpdateItem (ADD): 1 WU"
    if operation.startswith("list_keys"):
        return "Query of the keys: 1 RU"
    return "-"


def dynamodb_rows(inline_max: int | None = None) -> list[Row]:
    """The operations on DynamoDB; `inline_max` set: under that former inline threshold."""
    module = importlib.import_module("tests.contract.backends.dynamodb")
    stores = module.make_store()
    store = next(stores)
    rows = []
    try:
        with _inline_max(inline_max):
            meter = dynamo_meter(store)
            call = service_call(store)

            def measured(operation: str, **body: Any) -> Bill:
                meter.take()
                try:
                    call(operation, **body)
                except DataStoreError:  # e.g. moto refusing an update of an item near 400 KB
                    meter.take()
                    return Bill(requests=-1)
                return meter.take()

            for operation, size, bill in workload(call, measured):
                rows.append(Row(operation, size, bill.requests, bill.read, bill.write, raw_of(operation, size)))
    finally:
        stores.close()
    return rows


@contextmanager
def _inline_max(value: int | None) -> Iterator[None]:
    if value is None:
        yield
        return
    from agent_datastore.stores.dynamodb import codec

    with mock.patch.object(codec, "INLINE_MAX", value):
        yield


def firestore_rows() -> list[Row]:
    module = importlib.import_module("tests.contract.backends.firestore")
    rows = []
    with firestore_meter() as meter:
        stores = module.make_store()
        store = next(stores)
        try:
            call = service_call(store)

            def measured(operation: str, **body: Any) -> tuple[int, int, int]:
                meter.take()
                call(operation, **body)
                return meter.take()

            for operation, size, (reads, writes, rpcs) in workload(call, measured):
                count = batch_size(SIZES.get(size, 8))
                raw = "-"
                if operation.startswith(("get_many", "set_many")):
                    raw = f"{count} document {'reads' if operation.startswith('get') else 'writes'}"
                elif operation.startswith("get"):
                    raw = "1 document read"
                elif operation.startswith(("set", "delete", "increment")):
                    raw = "1 document write"
                elif operation.startswith("list_keys"):
                    raw = "100 document reads (a query of the records)"
                rows.append(Row(operation, size, rpcs, reads, writes, raw))
        finally:
            stores.close()
    return rows


def render(dynamodb: list[Row], former: list[Row], firestore: list[Row]) -> str:
    lines = [
        HEADING,
        "",
        "Produced by `python -m bench.capacity --append bench/results.md` (part of `make bench`): every operation"
        " once through the service, on the local DynamoDB-protocol server and the Firestore emulator. Capacity is"
        " computed from the requests the store sent (tests/support/capacity.py): DynamoDB write units (WU) per 1 KB"
        " of the larger of the item before and after, twice for a transactional action; read units (RU) per 4 KB of"
        " the whole item, strongly consistent (the store reads consistently); BatchGetItem per item; a Query page by"
        " the items it reached. The expiry index's writes (records with a TTL) are not counted; none here has one."
        " Values are random base64 text (zlib saves ~25% of it). Raw: the same value as one item under a short key,"
        " one PutItem / GetItem (strongly consistent).",
        "",
    ]
    if dynamodb:
        lines += [
            "### DynamoDB",
            "",
            "| operation | value | requests | read units | write units | raw single call |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.operation} | {r.size} | {r.requests} | {units(r.read)} | {units(r.write)} | {r.raw} |"
            for r in dynamodb
        ]
    if former:
        lines += [
            "",
            "### DynamoDB: the same operations with values up to 360 kB inline in the record item (the former layout)",
            "",
            "Same code, `codec.INLINE_MAX` set back to 360,000: what a record written before the change costs"
            " until it is next written (it is then stored in today's layout).",
            "",
            "| operation | value | requests | read units | write units |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.operation} | {r.size} | {r.requests} | {units(r.read)} | {units(r.write)} |"
            if r.requests >= 0
            else f"| {r.operation} | {r.size} | refused by the server | - | - |"
            for r in former
            if r.size in ("1 KB", "100 KB", "300 KB") and not r.operation.startswith(("set_many", "get_many"))
        ]
    if firestore:
        lines += [
            "",
            "### Firestore",
            "",
            "Billed document operations counted by a gRPC interceptor (a read per document asked for or returned,"
            " at least 1 per query; a write per document in a commit).",
            "",
            "| operation | value | RPCs | document reads | document writes | raw single call |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.operation} | {r.size} | {r.requests} | {units(r.read)} | {units(r.write)} | {r.raw} |"
            for r in firestore
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--append", type=Path, help="write the section into this results file")
    args = parser.parse_args(argv)
    dynamodb: list[Row] = []
    former: list[Row] = []
    firestore: list[Row] = []
    if available("dynamodb"):
        print("capacity: dynamodb ...", file=sys.stderr, flush=True)
        dynamodb = dynamodb_rows()
        former = dynamodb_rows(inline_max=360_000)
    else:
        print("capacity: skipping dynamodb (not available here)", file=sys.stderr)
    if available("firestore"):
        print("capacity: firestore ...", file=sys.stderr, flush=True)
        firestore = firestore_rows()
    else:
        print("capacity: skipping firestore (not available here)", file=sys.stderr)
    section = render(dynamodb, former, firestore)
    publish(section, args.append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
