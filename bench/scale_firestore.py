"""Firestore at scale: 16 writers x 15 distinct keys in one namespace versus one namespace each,
with the registry in 64 shards (this code) and in one document (`shards=1`: the layout before),
side by side in one run; and the batch reads' round trips and memory.

    python -m tests.servers.run --only firestore -- python -m bench.scale_firestore --append bench/results.md

`make bench` runs it after `bench.run` (its own section of bench/results.md). Every document
write is counted from the Commit requests by the RPC interceptor of the tests (the emulator does
not enforce the cloud's sustained rate of about one write per second per document). Throughput
on the emulator is reported, not asserted: compare the two layouts within one run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

from agent_datastore.core.limits import MAX_BODY_BYTES
from agent_datastore.core.records import Scope, Write, now_ms
from agent_datastore.stores.firestore.layout import SHARDS
from agent_datastore.stores.firestore.store import FirestoreStore
from bench.backends import interleaved
from bench.sections import publish
from tests.contract.backends.firestore import counting_rpcs
from tests.gcp.test_values import incompressible
from tests.gcp.workload import Outcome, write_distinct_keys

HEADING = "## Firestore at scale: registry shards, batch reads"
WRITERS, KEYS = 16, 15


def summary(shards: int, ones: list[Outcome], eaches: list[Outcome]) -> dict[str, Any]:
    """Median figures of the rounds of the one-namespace and the namespace-each workloads."""
    total = WRITERS * KEYS
    return {
        "shards": shards,
        "errors": sum(len(o.errors) for o in ones + eaches),
        "acknowledged": min(o.acknowledged for o in ones + eaches),
        "hottest": max(o.hottest[1] for o in ones) / total,
        "per_second": statistics.median(o.hottest[1] / o.seconds for o in ones),
        "registry_documents": max(len(o.other_writes) for o in ones),
        "one": statistics.median(o.throughput for o in ones),
        "each": statistics.median(o.throughput for o in eaches),
        "ratio": statistics.median(one.throughput / each.throughput for one, each in zip(ones, eaches, strict=True)),
    }


def batch_reads() -> dict[str, Any]:
    """RPCs of a tracked and an untracked get_many(100), and the memory of a get_many of
    24 values of 1 MiB under the 6 MiB response budget."""
    with counting_rpcs() as counter:
        store = FirestoreStore(f"scale_{uuid.uuid4().hex[:8]}")
        try:
            scope, now = Scope("bench", "reads"), now_ms()
            keys = [f"k{i:03d}" for i in range(100)]
            store.put_many(scope, [(key, Write('"v"', "a")) for key in keys], now)
            before = counter.total
            store.get_many(scope, keys, reader="r", now=now, max_bytes=MAX_BODY_BYTES)
            tracked = counter.total - before
            before = counter.total
            store.get_many(scope, keys, reader=None, now=now, max_bytes=MAX_BODY_BYTES)
            untracked = counter.total - before
            big = Scope("bench", "big")
            value = '"' + incompressible(1024 * 1024 - 2) + '"'
            big_keys = [f"b{i:02d}" for i in range(24)]
            for key in big_keys:
                store.put(big, key, Write(value, "a"), now)
            tracemalloc.start()
            result = store.get_many(big, big_keys, reader=None, now=now, max_bytes=MAX_BODY_BYTES)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        finally:
            store.close()
    returned = sum(len(record.value_json) for record in result.found.values())
    return {"tracked": tracked, "untracked": untracked, "peak": peak, "returned": returned}


def render(rows: list[dict[str, Any]], reads: dict[str, Any], rounds: int) -> str:
    mib = 2**20
    lines = [
        HEADING,
        "",
        f"Produced by `python -m bench.scale_firestore` (Firestore emulator, Python {platform.python_version()},"
        f" median of {rounds} rounds, both layouts in one run). {WRITERS} writers, each its own client,"
        f" each `set`ting {KEYS} distinct keys ({WRITERS * KEYS} keys); writes counted per document from the"
        " Commit requests. Hottest document: the most-written document other than the records and their"
        " expiry markers, as a share of the writes; writes/s per document: its writes over the run's"
        " seconds (Firestore sustains about 1 per document). docs/scale.md explains the shard count.",
        "",
        "| registry | writes acknowledged | errors | hottest document (share of writes) | writes/s on it |"
        " registry documents written | writes/s, one namespace | writes/s, namespace each | one / each |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        name = "one document (before)" if row["shards"] == 1 else f"{row['shards']} shards"
        lines.append(
            f"| {name} | {row['acknowledged']}/{WRITERS * KEYS} | {row['errors']} | {row['hottest']:.1%} |"
            f" {row['per_second']:.0f} | {row['registry_documents']} | {row['one']:.0f} | {row['each']:.0f} |"
            f" {row['ratio']:.2f} |"
        )
    lines += [
        "",
        "| batch read | RPCs | |",
        "|---|---|---|",
        f"| get_many(100), tracked | {reads['tracked']} | BeginTransaction, BatchGetDocuments, Commit |",
        f"| get_many(100), track_access false | {reads['untracked']} | BatchGetDocuments |",
        f"| get_many of 24 values of 1 MiB (6 MiB budget) | 1 | peak Python memory"
        f" {reads['peak'] / mib:.1f} MiB to return {reads['returned'] / mib:.1f} MiB"
        " (the batch stops streaming once the head of the request exceeds the budget) |",
    ]
    return "\n".join(lines) + "\n"


def run(rounds: int) -> str:
    """Both layouts' rounds interleaved (`interleaved`), then the batch reads."""
    layouts = (SHARDS, 1)
    outcomes = interleaved(
        layouts,
        rounds,
        lambda shards, each: write_distinct_keys(writers=WRITERS, keys=KEYS, shards=shards, namespace_each=each),
    )
    rows = [summary(shards, *outcomes[shards]) for shards in layouts]
    return render(rows, batch_reads(), rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--append", type=Path, help="write the section into this results file")
    args = parser.parse_args(argv)
    section = run(args.rounds)
    publish(section, args.append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
