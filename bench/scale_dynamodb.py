"""DynamoDB at scale, on the conflict-emulating test server (tests/servers/dynamodb.py): 16 writers x
15 distinct keys in one namespace versus one namespace each, with the registry in 160 shards (this
code) and in one item (`shards=1`: the layout before), side by side in one run; and 20 clients x 50
increments of one key.

    python -m bench.scale_dynamodb --append bench/results.md

The server is started here (it needs no other). It locks the items of each TransactWriteItems while
the transaction runs plus a 15 ms tail, refuses any write touching a locked item as DynamoDB does
(`TransactionConflict`), and counts the writes applied per item and the refusals. Throughput on a
local moto server is reported, not asserted: compare the layouts within one run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from agent_datastore.api.service import DataStoreService, parse_request
from agent_datastore.core.errors import DataStoreError
from agent_datastore.core.identity import Identity
from agent_datastore.core.settings import Settings
from agent_datastore.stores.dynamodb.store import DynamoDBStore
from agent_datastore.stores.dynamodb.writes import REGISTRY_SHARDS as SHARDS
from bench.backends import interleaved
from bench.sections import publish
from tests.aws import scale

HEADING = "## DynamoDB at scale: registry shards, transaction conflicts, increments"
WRITERS, KEYS = 16, 15
CLIENTS, EACH = 20, 50
TAIL_MS = 15.0


def writes(server: scale.ConflictServer, shards: int, *, one_namespace: bool) -> dict[str, Any]:
    store = server.store(shards=shards)
    server.counts(reset=True)
    outcome = scale.writers(store, writers=WRITERS, keys=KEYS, one_namespace=one_namespace)
    counts = server.counts()
    exact = scale.stats(store, outcome.user_id) == outcome.expected
    refused = counts["refused_transactions"] + counts["refused_single"]
    return {
        "acknowledged": outcome.acknowledged,
        "errors": len(outcome.errors),
        "exact": exact,
        "conflicts": refused / max(outcome.acknowledged, 1),
        "hottest": counts["hottest"]["writes"] / (WRITERS * KEYS),
        "throughput": outcome.acknowledged / outcome.seconds,
    }


def summary(shards: int, ones: list[dict[str, Any]], eaches: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "shards": shards,
        "acknowledged": min(row["acknowledged"] for row in ones + eaches),
        "errors": sum(row["errors"] for row in ones + eaches),
        "exact": all(row["exact"] for row in ones + eaches),
        "conflicts": statistics.median(row["conflicts"] for row in ones),
        "hottest": max(row["hottest"] for row in ones),
        "one": statistics.median(row["throughput"] for row in ones),
        "each": statistics.median(row["throughput"] for row in eaches),
        "ratio": statistics.median(o["throughput"] / e["throughput"] for o, e in zip(ones, eaches, strict=True)),
    }


def increments(server: scale.ConflictServer, *, separate: bool) -> dict[str, Any]:
    """CLIENTS threads each incrementing one shared key EACH times, every call timed; `separate`:
    each thread its own store and client (as separate function instances are), else one store
    for all (as the threads of one server)."""
    first = server.store()
    stores = [first]
    if separate:
        stores += [DynamoDBStore(first.table, client=scale.boto_client(server.endpoint)) for _ in range(CLIENTS - 1)]
    services = [DataStoreService(store, Settings(auth="none")) for store in stores]
    sent: Counter[str] = Counter()
    for store in stores:
        store.client.meta.events.register("before-send.dynamodb.*", lambda event_name, **_: sent.update([event_name]))
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        identity = Identity("bench-increments", f"client-{index}")
        service = services[index % len(services)]
        for _ in range(EACH):
            started = time.perf_counter()
            try:
                service.execute("increment", parse_request("increment", {"key": "hits"}), identity)
            except DataStoreError as exc:
                with lock:
                    errors.append(str(exc))
            with lock:
                latencies.append(time.perf_counter() - started)

    server.counts(reset=True)
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    counts = server.counts()
    record = services[0].execute(
        "get", parse_request("get", {"key": "hits", "track_access": False}), Identity("bench-increments", "reader")
    )
    latencies.sort()
    return {
        "separate": separate,
        "value": record["value"],
        "errors": len(errors),
        "seconds": seconds,
        "requests": sum(sent.values()) / (CLIENTS * EACH),
        "refused": (counts["refused_transactions"] + counts["refused_single"]) / (CLIENTS * EACH),
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "max": latencies[-1],
    }


def render(rows: list[dict[str, Any]], counted: list[dict[str, Any]], rounds: int) -> str:
    total = WRITERS * KEYS
    lines = [
        HEADING,
        "",
        f"Produced by `python -m bench.scale_dynamodb` (moto server in the conflict-emulating mode, {TAIL_MS:.0f} ms"
        f" tail, Python {platform.python_version()}, median of {rounds} rounds, both layouts in one run)."
        f" {WRITERS} writers, each `set`ting {KEYS} distinct new keys ({total} keys). Conflicts per write:"
        " writes and transactions the server refused as DynamoDB does (`TransactionConflict`), per"
        " acknowledged write; hottest item: the most-written item's share of the writes. docs/scale.md"
        " explains the shard count.",
        "",
        "| registry | writes acknowledged | errors | `stats` exact | conflicts per write"
        " | hottest item (share of writes) | writes/s, one namespace | writes/s, namespace each | one / each |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        name = "one item (before)" if row["shards"] == 1 else f"{row['shards']} shards"
        lines.append(
            f"| {name} | {row['acknowledged']}/{total} | {row['errors']} | {'yes' if row['exact'] else 'NO'} |"
            f" {row['conflicts']:.3f} | {row['hottest']:.1%} | {row['one']:.0f} | {row['each']:.0f} |"
            f" {row['ratio']:.2f} |"
        )
    lines += [
        "",
        f"{CLIENTS} clients x {EACH} increments of one key, on the same server (one round each): through one"
        " store (the threads of one server: their writes of one record queue in the process) and through"
        f" {CLIENTS} stores with a client each (as {CLIENTS} function instances: only the backoff of lost"
        " races keeps them apart). The uncontended increment is 2 requests (GetItem + TransactWriteItems).",
        "",
        "| clients | final value | errors | wall time | requests per increment | refusals per increment"
        " | latency p50 / p99 / max |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in counted:
        lines.append(
            f"| {'separate stores' if row['separate'] else 'one store'} | {row['value']:g} of {CLIENTS * EACH} |"
            f" {row['errors']} | {row['seconds']:.1f} s | {row['requests']:.2f} | {row['refused']:.2f} |"
            f" {row['p50']:.3f} / {row['p99']:.2f} / {row['max']:.2f} s |"
        )
    return "\n".join(lines) + "\n"


def run(rounds: int) -> str:
    """Both layouts' rounds interleaved (`interleaved`), then the increments."""
    server = scale.ConflictServer(tail_ms=TAIL_MS)
    try:
        layouts = (SHARDS, 1)
        outcomes = interleaved(layouts, rounds, lambda shards, each: writes(server, shards, one_namespace=not each))
        rows = [summary(shards, *outcomes[shards]) for shards in layouts]
        counted = [increments(server, separate=False), increments(server, separate=True)]
        return render(rows, counted, rounds)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--append", type=Path, help="write the section into this results file")
    args = parser.parse_args(argv)
    section = run(args.rounds)
    publish(section, args.append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
