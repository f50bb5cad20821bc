"""Batches at the round-trip floor (issue 12): backend round trips of `set_many(100)` and
`get_many(100)` of small values on every available backend, and the memory a `get_many` of
100 x 1 MB values takes (tracemalloc around the store's call) against the answer it returns.

    python -m bench.batching                          # print the section
    python -m bench.batching --append bench/results.md

`make bench` runs it after `bench.run` (the test servers come from `tests.servers.run`); it
replaces only its own section of the results file.
"""

from __future__ import annotations

import argparse
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_datastore.api.service import value_budget
from agent_datastore.core.identity import Identity
from agent_datastore.core.records import Scope, now_ms
from agent_datastore.stores import BACKENDS
from agent_datastore.stores.base import Store, within_budget
from bench import roundtrips
from bench.backends import available, with_service
from bench.sections import publish

HEADING = "## Batches: round trips and memory"
ITEMS = 100
BIG = 1_000_000  # characters of each value of the memory measurement
MEMORY_BACKENDS = ("memory", "sqlite", "dynamodb", "firestore", "couchdb")
MIB = 1024 * 1024


def round_trips(name: str) -> dict[str, int | None]:
    """Backend requests of each batch call of 100 small values (None: in-process, not counted)."""

    def work(store: Store, call: Callable[..., Any], _: Identity) -> dict[str, int | None]:
        keys = [f"k{i:03d}" for i in range(ITEMS)]
        items = {key: {"i": i, "text": "x" * 200} for i, key in enumerate(keys)}
        rows: dict[str, int | None] = {}
        with roundtrips.counting(store) as counter:  # before the first call (Firestore's channel)
            for label, action in [
                ("set_many(100), new keys", lambda: call("set_many", items=items)),
                ("set_many(100), overwrites", lambda: call("set_many", items=items)),
                ("get_many(100), tracked", lambda: call("get_many", keys=keys)),
                ("get_many(100), track_access false", lambda: call("get_many", keys=keys, track_access=False)),
            ]:
                before = counter() if counter else 0
                action()
                rows[label] = counter() - before if counter else None
        return rows

    result: dict[str, int | None] = with_service(name, work)
    return result


def memory(name: str) -> dict[str, float]:
    """A tracked `get_many` of 100 x 1 MB values: MiB returned and peak MiB taken; on SQLite also
    the peak of reading every key first and cutting at the budget after (its shape before)."""

    def work(store: Store, call: Callable[..., Any], identity: Identity) -> dict[str, float]:
        keys = [f"big-{i:03d}" for i in range(ITEMS)]
        for key in keys:
            call("set", key=key, value="x" * BIG)
        scope, budget = Scope(identity.user_id, "default"), value_budget(keys)
        tracemalloc.start()
        try:
            result = store.get_many(scope, keys, reader="bench", now=now_ms(), max_bytes=budget)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        row = {
            "values returned": len(result.found),
            "answer MiB": sum(len(record.value_json) for record in result.found.values()) / MIB,
            "peak MiB": peak / MIB,
        }
        if name == "sqlite":
            tracemalloc.start()
            try:
                every = {key: record for key in keys if (record := store.get(scope, key, reader=None, now=now_ms()))}
                within_budget(keys, every, budget)
                _, peak = tracemalloc.get_traced_memory()
                del every
            finally:
                tracemalloc.stop()
            row["read all, then cut: peak MiB"] = peak / MIB
        return row

    result: dict[str, float] = with_service(name, work)
    return result


def render(trips: dict[str, dict[str, int | None]], peaks: dict[str, dict[str, float]]) -> str:
    names = list(trips)
    labels = list(next(iter(trips.values()))) if trips else []
    lines = [
        HEADING,
        "",
        "Produced by `python -m bench.batching` (run by `make bench`). Backend requests per call of"
        f" {ITEMS} small values (~220 bytes each), counted as `bench/roundtrips.py` counts them"
        " (in-process: SQLite and memory make no network call). Asserted by tests where a target"
        " exists (CouchDB: `tests/couchdb/test_batches.py`, at most 3 each).",
        "",
        "| call | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for label in labels:
        cells = ["in-process" if trips[name][label] is None else str(trips[name][label]) for name in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"A tracked `get_many` of {ITEMS} x 1 MB values (the answer stops at the 6 MiB response budget):"
        " peak memory the store's call takes in this process (tracemalloc), against what it returns."
        " The values are one repeated character: DynamoDB keeps them compressed inline, Firestore as"
        " compressed bytes (incompressible values in chunks: tests/aws/test_large_values.py; Firestore's"
        " own 24 x 1 MiB incompressible case is in its section). The last column reads every key first"
        " and cuts at the budget after, the shape SQLite's `get_many` had before it stopped reading at the budget.",
        "",
        "| backend | values returned | answer MiB | peak MiB | peak / answer | read all, then cut: peak MiB |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in peaks.items():
        before = row.get("read all, then cut: peak MiB")
        lines.append(
            f"| {name} | {row['values returned']:.0f} | {row['answer MiB']:.1f} | {row['peak MiB']:.1f}"
            f" | {row['peak MiB'] / row['answer MiB']:.2f} | {'-' if before is None else f'{before:.1f}'} |"
        )
    return "\n".join(lines) + "\n"


def measure(backends: list[str]) -> str:
    names = [name for name in backends if available(name)]
    trips = {}
    for name in names:
        print(f"batching: round trips on {name} ...", flush=True)
        trips[name] = round_trips(name)
    peaks = {}
    for name in names:
        if name in MEMORY_BACKENDS:
            print(f"batching: memory on {name} ...", flush=True)
            peaks[name] = memory(name)
    return render(trips, peaks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--append", type=Path, help="write the section into this results file")
    args = parser.parse_args(argv)
    section = measure(args.backends.split(","))
    publish(section, args.append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
