"""Firestore against Google's emulator (started by `python -m tests.servers.run`), and its RPCs counted.

`counting_rpcs()` counts the RPCs a store sends (tests/gcp/test_round_trips.py,
bench/roundtrips.py) with a gRPC client interceptor on the channel, so the
store itself carries no counter. The same interceptor counts the document
writes of every acknowledged Commit by document path (tests/gcp/test_scale.py,
bench/scale_firestore.py): the emulator does not enforce Firestore's sustained
rate of about one write per second per document, so the suite counts instead.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import grpc
import httpx

from agent_datastore.stores.base import Store
from agent_datastore.stores.firestore.store import FirestoreStore


def available() -> str | None:
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        return "FIRESTORE_EMULATOR_HOST is not set (run through `python -m tests.servers.run --only firestore`)"
    return None


def reset_emulator() -> None:
    """Delete every document of the emulator's database (the emulator's own endpoint)."""
    host = os.environ["FIRESTORE_EMULATOR_HOST"]
    project = os.environ.get("GOOGLE_CLOUD_PROJECT", "agent-datastore-test")
    httpx.delete(
        f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents", timeout=30
    ).raise_for_status()


def make_store() -> Iterator[Store]:
    store = FirestoreStore(f"contract_{uuid.uuid4().hex[:8]}")
    yield store
    store.close()
    reset_emulator()


class RpcCounter(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Counts the RPCs sent on a channel by method, named as the SDK's GAPIC client names them
    (`/google.firestore.v1.Firestore/BatchGetDocuments` -> `batch_get_documents`), and the
    document writes of the Commits that succeeded, by path relative to the database
    (`DocumentReference.path`: `root/u.../namespaces/n...`)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, details: grpc.ClientCallDetails) -> str:
        method = re.sub(r"(?<!^)(?=[A-Z])", "_", str(details.method).rsplit("/", 1)[-1]).lower()
        with self._lock:
            self.calls[method] += 1
        return method

    def _intercept(self, continuation: Callable[..., Any], details: Any, request_or_iterator: Any) -> Any:
        method = self._count(details)
        response = continuation(details, request_or_iterator)
        if method == "commit" and response.exception() is None:
            paths = [written_path(write) for write in request_or_iterator.writes]
            with self._lock:
                self.writes.update(paths)
        return response

    intercept_unary_unary = intercept_unary_stream = intercept_stream_unary = intercept_stream_stream = _intercept

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.calls)

    def writes_snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.writes)


def written_path(write: Any) -> str:
    """The document a `google.firestore.v1.Write` (a proto-plus message) writes, relative to the database."""
    pb = type(write).pb(write)
    operation = pb.WhichOneof("operation")
    name = pb.update.name if operation == "update" else pb.delete if operation == "delete" else pb.transform.document
    return str(name).split("/documents/", 1)[1]


@contextmanager
def counting_rpcs() -> Iterator[RpcCounter]:
    """Count the RPCs of every Firestore client that opens its channel inside this block.

    On the emulator the SDK opens an insecure channel (`grpc.insecure_channel`), lazily, on a
    client's first RPC; inside the block that channel is wrapped by the counter, and it stays
    counted for the client's life.
    """
    counter = RpcCounter()
    insecure_channel = grpc.insecure_channel

    def counted_channel(*args: Any, **kwargs: Any) -> grpc.Channel:
        return grpc.intercept_channel(insecure_channel(*args, **kwargs), counter)

    with mock.patch.object(grpc, "insecure_channel", counted_channel):
        yield counter
