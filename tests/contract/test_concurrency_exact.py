"""Exactness under concurrency (issue 12, "Done means"): after writers that set, overwrite,
delete, `set_many`, increment, `clear` another namespace and write short TTLs that expire
meanwhile, with a reader running throughout, `stats` and `list_namespaces` are the truth that
`list_keys` shows; and 20 clients x 50 increments of one key end at exactly 1,000, with no error."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agent_datastore.core.jsonutil import dumps, utf8_len

WRITERS = 6
ROUNDS = 12
KEYS = 8
NAMESPACES = ["exact-a", "exact-b", "exact-c"]  # the last one is cleared while it is written


def write(ds: Any, writer: int, step: int) -> None:
    """One write of `writer`: which one, where and how big follow from `step`."""
    namespace = NAMESPACES[(writer + step) % 2]
    key = f"k{(writer * 3 + step) % KEYS}"
    kind = step % 6
    if kind == 0:
        ds("set", namespace=namespace, key=key, value="v" * (writer + step), metadata={"w": writer})
    elif kind == 1:  # an overwrite of another size that expires a second later
        ds("set", namespace=namespace, key=key, value={"step": step, "pad": "p" * step}, ttl_seconds=1)
    elif kind == 2:
        ds("delete", namespace=namespace, key=key)
    elif kind == 3:
        items = {f"m{(writer + n) % KEYS}": [writer, step, n] for n in range(4)}
        ds("set_many", namespace=namespace, items=items, ttl_seconds=1 if writer % 2 else None)
    elif kind == 4:
        ds("increment", namespace=namespace, key=f"n{writer % 3}")
    elif writer % 2:
        ds("clear", namespace=NAMESPACES[2])
    else:
        ds("set_many", namespace=NAMESPACES[2], items={f"c{writer}-{n}": n for n in range(3)})


def truth(ds: Any) -> list[tuple[str, int, int]]:
    """(namespace, keys, bytes) of every namespace holding a live key, from its records as listed."""
    rows = []
    for namespace in NAMESPACES:
        records = ds("list_keys", namespace=namespace, include_records=True, track_access=False)["records"]
        size = sum(utf8_len(dumps(r["value"])) + utf8_len(dumps(r["metadata"])) for r in records.values())
        if records:
            rows.append((namespace, len(records), size))
    return rows


def registry(ds: Any) -> list[tuple[str, int, int]]:
    return [(row["namespace"], row["keys"], row["bytes"]) for row in ds("stats")["namespaces"]]


def test_stats_and_namespaces_are_exact_after_concurrent_writers_deletes_clear_and_expiry(ds, clock):
    failures: list[BaseException] = []
    done = threading.Event()

    def writer(number: int) -> None:
        for step in range(ROUNDS):
            try:
                write(ds, number, step)
            except Exception as exc:  # every write must be acknowledged
                failures.append(exc)

    def reader() -> None:
        # Reads throughout, moving the clock on so that the 1-second TTLs expire mid-run.
        while not done.is_set():
            try:
                for row in ds("stats")["namespaces"]:
                    assert row["keys"] > 0 and row["bytes"] > 0, row
                ds("list_namespaces")
                ds("get_many", namespace=NAMESPACES[0], keys=[f"k{n}" for n in range(KEYS)])
            except Exception as exc:
                failures.append(exc)
            clock.advance(0.4)

    watcher = threading.Thread(target=reader)
    watcher.start()
    try:
        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(writer, range(WRITERS)))
    finally:
        done.set()
        watcher.join()
    assert failures == []
    expected = truth(ds)
    assert expected, "the writers left something"
    assert registry(ds) == expected
    assert ds("list_namespaces")["namespaces"] == [namespace for namespace, _, _ in expected]
    clock.advance(1)  # every TTL written has run out now
    expected = truth(ds)
    assert registry(ds) == expected
    assert ds("list_namespaces")["namespaces"] == [namespace for namespace, _, _ in expected]


def test_20_clients_x_50_increments_of_one_key_end_at_exactly_1000(ds):
    failures: list[BaseException] = []

    def client(number: int) -> None:
        agent = ds.as_agent(f"client-{number}")
        for _ in range(50):
            try:
                agent("increment", key="hits")
            except Exception as exc:  # an error is a failure here, retryable or not
                failures.append(exc)

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(client, range(20)))
    assert failures == []
    record = ds("get", key="hits", include_record=True, track_access=False)["record"]
    assert (record["value"], record["version"]) == (1000, 1000)
