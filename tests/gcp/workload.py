"""Many writers against the Firestore emulator, each its own client (as Cloud Function instances
are), with every acknowledged document write counted by path (tests/gcp/test_scale.py,
bench/scale_firestore.py).

The emulator does not enforce Firestore's sustained rate of about one write per second per
document, so the workload counts writes per document instead: a document that most writes of a
namespace touch is what the cloud would throttle.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agent_datastore.api.service import DataStoreService, parse_request
from agent_datastore.core.identity import Identity
from agent_datastore.core.settings import Settings
from agent_datastore.stores.firestore.store import FirestoreStore
from tests.contract.backends.firestore import counting_rpcs


@dataclass
class Outcome:
    """What `write_distinct_keys` saw."""

    acknowledged: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    writes: Counter[str] = field(default_factory=Counter)  # document path -> acknowledged writes
    collection: str = ""
    user_id: str = ""

    @property
    def throughput(self) -> float:
        return self.acknowledged / self.seconds if self.seconds else 0.0

    @property
    def other_writes(self) -> Counter[str]:
        """Writes of documents other than the records and their parts and markers."""
        return Counter({path: n for path, n in self.writes.items() if not is_record_side(path)})

    @property
    def hottest(self) -> tuple[str, int]:
        """The non-record document written most, and how often."""
        return max(self.other_writes.items(), key=lambda item: item[1], default=("", 0))


def is_record_side(path: str) -> bool:
    return "/records/" in path or "/expiring/" in path


def write_distinct_keys(
    *,
    writers: int = 16,
    keys: int = 15,
    namespace_each: bool = False,
    shards: int | None = None,
    collection: str | None = None,
) -> Outcome:
    """`writers` threads, each with its own FirestoreStore, each `set`ting `keys` distinct keys
    in one namespace (or one namespace each), all starting together. Every write is counted.
    `shards` None: the store's default."""
    outcome = Outcome(collection=collection or f"scale_{uuid.uuid4().hex[:8]}", user_id=f"u-{uuid.uuid4().hex[:6]}")
    identity = Identity(outcome.user_id, "writer")
    options: dict[str, Any] = {} if shards is None else {"shards": shards}
    with counting_rpcs() as counter:
        stores = [FirestoreStore(outcome.collection, **options) for _ in range(writers)]
        try:
            services = [DataStoreService(store, Settings(auth="none")) for store in stores]
            for service in services:  # each client opens its channel before the clock starts
                service.execute("get", parse_request("get", {"key": "warm-up", "track_access": False}), identity)
            lock = threading.Lock()
            start = threading.Barrier(writers + 1)

            def write(index: int) -> None:
                namespace = f"files:repo-{index}" if namespace_each else "files:repo"
                start.wait()
                for k in range(keys):
                    body = {"namespace": namespace, "key": f"w{index:02d}/k{k:02d}", "value": {"w": index, "k": k}}
                    try:
                        services[index].execute("set", parse_request("set", body), identity)
                    except Exception as exc:  # every failure is the workload's finding
                        with lock:
                            outcome.errors.append(f"{type(exc).__name__}: {exc}")
                    else:
                        with lock:
                            outcome.acknowledged += 1

            threads = [threading.Thread(target=write, args=(index,)) for index in range(writers)]
            for thread in threads:
                thread.start()
            before = counter.writes_snapshot()
            start.wait()
            started = time.perf_counter()
            for thread in threads:
                thread.join()
            outcome.seconds = time.perf_counter() - started
            outcome.writes = counter.writes_snapshot() - before
        finally:
            for store in stores:
                store.close()
    return outcome
