"""Count a store's backend round trips (requests to its server).

Returns a zero-argument function giving the running total, or None where a
backend makes no network calls (memory, SQLite). DynamoDB: botocore event
hooks; CouchDB: httpx request hooks; Firestore: the store's own RPC counter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def attach(store: Any) -> Callable[[], int] | None:
    count = [0]

    def bump(*_: Any, **__: Any) -> None:
        count[0] += 1

    name = getattr(store, "name", "")
    if name == "dynamodb":
        store.client.meta.events.register("before-call.dynamodb.*", bump)
        return lambda: count[0]
    if name == "couchdb":
        client = store.client
        client.event_hooks.setdefault("request", []).append(bump)
        return lambda: count[0]
    if name == "firestore":
        counter = store.rpcs  # counted by the store itself (wrapped gRPC stubs)
        return lambda: int(counter.total)
    return None
