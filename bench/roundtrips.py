"""Count a store's backend round trips (requests to its server).

`counting(store)` is a block inside which a zero-argument function gives the
running total, or None where a backend makes no network calls (memory,
SQLite). DynamoDB: botocore event hooks; CouchDB: httpx request hooks;
Firestore: a gRPC interceptor on the channel its client opens on first use
(so the block must start before the store's first call).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class Tally:
    """A hook that counts its calls."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_: Any, **__: Any) -> None:
        self.count += 1


@contextmanager
def counting(store: Any) -> Iterator[Callable[[], int] | None]:
    name = getattr(store, "name", "")
    tally = Tally()
    if name == "dynamodb":
        store.client.meta.events.register("before-call.dynamodb.*", tally)
    elif name == "couchdb":
        store.client.event_hooks.setdefault("request", []).append(tally)
    elif name == "firestore":
        from tests.contract.backends.firestore import counting_rpcs

        with counting_rpcs() as rpcs:
            yield lambda: rpcs.total
        return
    else:
        yield None
        return
    yield lambda: tally.count
