"""Soak: mixed concurrent traffic against a real server, then check invariants.

Threads hammer one server process over HTTP for a bounded time (loopback
only): increments, reads, CAS updates, writes and deletes. Afterwards the
counter must equal the number of acknowledged increments, the read count the
number of acknowledged reads, and no request may have answered 500.
`make soak` runs it for 300 s; the test suite runs a few seconds of it.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections import Counter
from typing import Any

import httpx

from tests.support.server import running_server


def soak(url: str, seconds: float, threads: int = 8) -> dict[str, Any]:
    tally: Counter[str] = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    headers = {"X-User-Id": "soak", "X-Agent-Name": "soak"}

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            while time.monotonic() < stop:
                roll = rng.random()
                if roll < 0.3:
                    response = client.post("/v1/increment", json={"key": "counter"})
                    kind = "increment"
                elif roll < 0.6:
                    response = client.post("/v1/get", json={"key": "read-me"})
                    kind = "get"
                elif roll < 0.8:
                    key = f"k{rng.randrange(50)}"
                    response = client.post("/v1/set", json={"namespace": "churn", "key": key, "value": rng.random()})
                    kind = "set"
                else:
                    key = f"k{rng.randrange(50)}"
                    response = client.post("/v1/delete", json={"namespace": "churn", "key": key})
                    kind = "delete"
                with lock:
                    tally[f"{kind}:{response.status_code}"] += 1

    with httpx.Client(base_url=url, headers=headers) as client:
        client.post("/v1/set", json={"key": "read-me", "value": 1}).raise_for_status()
        pool = [threading.Thread(target=worker, args=(seed,)) for seed in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        counter = client.post("/v1/get", json={"key": "counter", "track_access": False}).json().get("value", 0)
        reads = client.post("/v1/get", json={"key": "read-me", "include_record": True, "track_access": False})
        access_count = reads.json()["record"]["accessCount"]
        listed = client.post("/v1/list_keys", json={"namespace": "churn"}).json()["keys"]
        stats = client.post("/v1/stats", json={"namespace": "churn"}).json()["namespaces"]
    report = {
        "requests": sum(tally.values()),
        "tally": dict(tally),
        "counter": counter,
        "acknowledged_increments": tally["increment:200"],
        "access_count": access_count,
        "acknowledged_reads": tally["get:200"],
        "errors_5xx": sum(n for name, n in tally.items() if name.endswith((":500", ":503"))),
        "registry_keys": stats[0]["keys"] if stats else 0,
        "listed_keys": len(listed),
    }
    report["ok"] = (
        report["counter"] == report["acknowledged_increments"]
        and report["access_count"] == report["acknowledged_reads"]
        and report["errors_5xx"] == 0
        and report["registry_keys"] == report["listed_keys"]
    )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    with running_server() as server:
        report = soak(server.url, args.seconds, args.threads)
    print(report)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
