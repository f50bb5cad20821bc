"""Atomicity under concurrency: nothing lost, nothing counted twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from agent_datastore.core import errors

WORKERS = 8
N = 40


def run(n, fn):
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(fn, range(n)))


def test_concurrent_increments_on_a_missing_key(ds):
    run(N, lambda _: ds("increment", key="counter"))
    assert ds("get", key="counter")["value"] == N
    assert ds("get", key="counter", include_record=True)["record"]["version"] == N


def test_concurrent_reads_add_exactly_n(ds):
    ds("set", key="r", value=1)
    run(N, lambda i: ds("get", key="r") if i % 2 else ds("get_many", keys=["r"]))
    assert ds("get", key="r", include_record=True, track_access=False)["record"]["accessCount"] == N


def test_concurrent_creates_with_if_version_zero_have_one_winner(ds):
    def attempt(i):
        try:
            ds("set", key="lock", value=i, if_version=0)
            return True
        except errors.VersionConflict:
            return False

    assert sum(run(N, attempt)) == 1


def test_concurrent_metadata_merges_lose_nothing(ds):
    ds("set", key="m", value=0, metadata={})
    run(N, lambda i: ds("set", key="m", value=i, metadata={f"m{i}": i}))
    record = ds("get", key="m", include_record=True)["record"]
    assert record["metadata"] == {f"m{i}": i for i in range(N)} or sorted(record["metadata"]) == sorted(
        f"m{i}" for i in range(N)
    )
    assert record["version"] == N + 1


def test_concurrent_writes_and_deletes_keep_the_registry_exact(ds):
    def churn(i):
        key = f"k{i % 5}"
        ds("set", namespace="churn", key=key, value=i)
        ds("delete", namespace="churn", key=key)

    run(N, churn)
    assert ds("list_keys", namespace="churn")["keys"] == []
    assert ds("list_namespaces")["namespaces"] == []
    ds("set", namespace="churn", key="last", value=1)
    assert ds("stats", namespace="churn")["namespaces"][0]["keys"] == 1


@pytest.mark.parametrize("namespace", ["default"])
def test_concurrent_cas_counter(ds, namespace):
    ds("set", namespace=namespace, key="c", value=0)

    def bump(_):
        while True:
            got = ds("get", namespace=namespace, key="c", include_record=True, track_access=False)["record"]
            try:
                ds("set", namespace=namespace, key="c", value=got["value"] + 1, if_version=got["version"])
                return
            except errors.VersionConflict:
                continue

    run(20, bump)
    assert ds("get", namespace=namespace, key="c")["value"] == 20


@pytest.mark.parametrize("writer", ["set", "increment"])
def test_concurrent_reads_and_writes_lose_no_read(ds, writer):
    ds("set", key="r", value=0, metadata={"m": 1})

    def work(i):
        if i % 2:
            return ds("get", key="r")
        if writer == "set":
            return ds("set", key="r", value=i)
        return ds("increment", key="r")

    run(N, work)
    record = ds("get", key="r", include_record=True, track_access=False)["record"]
    assert record["accessCount"] == N // 2
    assert record["version"] == 1 + N // 2
    assert record["metadata"] == {"m": 1}
