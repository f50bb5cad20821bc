"""Benchmarks: latency per operation on every available backend, and backend
round trips per operation.

Machines here are noisy, so every figure is also given as a ratio to the
in-memory backend measured in the same run. Results go to bench/results.md
(linked from the README). Run with `make bench` (starts the test servers) or
`python -m bench.run --quick` for a smoke run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_datastore.core.identity import Identity
from agent_datastore.stores import BACKENDS as REGISTRY
from agent_datastore.stores.base import Store
from bench import batching, capacity, roundtrips
from bench.backends import available, with_service
from bench.sections import replace_section

BACKENDS = list(REGISTRY)


def operations(call: Callable[..., Any]) -> dict[str, Callable[[int], Any]]:
    """name -> one call of the operation (the argument makes keys distinct)."""
    return {
        "set (create)": lambda i: call("set", key=f"new-{i}", value={"i": i, "text": "x" * 200}),
        "set (overwrite)": lambda i: call("set", key="hot", value={"i": i}, metadata={"m": i}),
        "set if_version": lambda i: call("set", key="cas", value=i, if_version=i),
        "get (tracked)": lambda i: call("get", key="hot"),
        "get (track_access false)": lambda i: call("get", key="hot", track_access=False),
        "get (missing)": lambda i: call("get", key="missing"),
        "increment": lambda i: call("increment", key="counter"),
        "delete": lambda i: call("delete", key=f"new-{i}"),
        "get_many (20 keys)": lambda i: call("get_many", keys=[f"seed-{k}" for k in range(20)]),
        "set_many (20 items)": lambda i: call("set_many", items={f"batch-{k}": k for k in range(20)}),
        "list_keys (100)": lambda i: call("list_keys", prefix="seed-", limit=100),
        "list_namespaces": lambda i: call("list_namespaces"),
        "stats": lambda i: call("stats"),
    }


def bench_backend(name: str, rounds: int) -> dict[str, dict[str, float]]:
    def work(store: Store, call: Callable[..., Any], _: Identity) -> dict[str, dict[str, float]]:
        with roundtrips.counting(store) as counter:
            return measure(call, counter, rounds)

    return with_service(name, work)


def measure(call: Callable[..., Any], counter: Callable[[], int] | None, rounds: int) -> dict[str, dict[str, float]]:
    """Median latency and round trips per call of every operation."""
    call("set", key="hot", value=0)
    call("set_many", items={f"seed-{k}": {"k": k} for k in range(100)})
    results: dict[str, dict[str, float]] = {}
    for label, run in operations(call).items():
        if label == "set if_version":
            call("delete", key="cas")
        samples = []
        before = counter() if counter else 0
        for i in range(rounds):
            started = time.perf_counter()
            run(i)
            samples.append((time.perf_counter() - started) * 1000)
        trips = (counter() - before) / rounds if counter else float("nan")
        results[label] = {"median_ms": statistics.median(samples), "round_trips": trips}
    return results


def render(results: dict[str, dict[str, dict[str, float]]], rounds: int) -> str:
    names = list(results)
    labels = list(next(iter(results.values())))
    lines = [
        "# Benchmark results",
        "",
        f"Produced by `python -m bench.run` ({rounds} calls per operation, through the service,"
        f" on {platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}).",
        "Each cell: median latency in ms, (ratio to the in-memory backend in the same run),"
        " [backend round trips per call, where counted].",
        "Local protocol servers (moto, pouchdb-server, the Firestore emulator) are not the cloud:",
        "compare ratios and round trips, not absolute latencies.",
        "",
        "| operation | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for label in labels:
        base = results["memory"][label]["median_ms"] if "memory" in results else None
        cells = []
        for name in names:
            row = results[name][label]
            cell = f"{row['median_ms']:.3f}"
            if base:
                cell += f" ({row['median_ms'] / base:.0f}x)"
            if row["round_trips"] == row["round_trips"]:  # not NaN
                cell += f" [{row['round_trips']:g}]"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="smoke run: few calls, no file written")
    parser.add_argument("--out", type=Path, default=Path("bench/results.md"))
    parser.add_argument("--backends", default=",".join(BACKENDS))
    args = parser.parse_args(argv)
    rounds = 5 if args.quick else args.rounds
    results = {}
    for name in args.backends.split(","):
        if not available(name):
            print(f"skipping {name}: not available here")
            continue
        print(f"benchmarking {name} ...", flush=True)
        results[name] = bench_backend(name, rounds)
    text = render(results, rounds)
    print(text)
    if not args.quick:
        # The sections of other benchmarks (`## ...`, e.g. bench/crowd.py's) stay as they were.
        previous = args.out.read_text() if args.out.exists() else ""
        others = previous[previous.index("\n## ") :] if "\n## " in previous else ""
        args.out.write_text(text + others)
        print(f"wrote {args.out}")
        if "firestore" in results:  # its own section, after the table above
            from bench import scale_firestore

            print("benchmarking firestore at scale ...", flush=True)
            replace_section(args.out, scale_firestore.run(rounds=5))
        if "dynamodb" in results:  # its own section; it starts its own conflict-emulating server
            from bench import scale_dynamodb

            print("benchmarking dynamodb at scale ...", flush=True)
            replace_section(args.out, scale_dynamodb.run(rounds=3))
        replace_section(args.out, batching.measure(args.backends.split(",")))
        print(f"wrote the batching section to {args.out}")
        capacity.main(["--append", str(args.out)])  # its own section: what a user pays
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
