"""Fixtures for the Google Cloud tests: a FirestoreStore on Google's emulator, a Cloud Functions app.

Tests marked with the `firestore` fixture need FIRESTORE_EMULATOR_HOST (started by
`python -m tests.servers.run --only firestore -- ...`); without it they skip loudly,
unless firestore is in DATASTORE_REQUIRE_BACKENDS, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_datastore.api.service import DataStoreService
from agent_datastore.core.identity import Identity
from agent_datastore.core.settings import Settings
from agent_datastore.stores.firestore.store import FirestoreStore
from tests.contract.backends.firestore import RpcCounter, counting_rpcs
from tests.contract.conftest import Client, Clock

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "functions" / "gcp" / "main.py"


def need_emulator() -> None:
    if os.environ.get("FIRESTORE_EMULATOR_HOST"):
        return
    if "firestore" in os.environ.get("DATASTORE_REQUIRE_BACKENDS", "").split(","):
        pytest.fail("firestore is required here but FIRESTORE_EMULATOR_HOST is not set")
    pytest.skip("GCP TESTS NOT RUN: FIRESTORE_EMULATOR_HOST is not set (use tests.servers.run --only firestore)")


@pytest.fixture(scope="session")
def collection() -> Iterator[str]:
    need_emulator()
    yield f"gcp_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def fs(collection: str) -> Iterator[FirestoreStore]:
    store = FirestoreStore(collection)
    yield store
    store.close()


@pytest.fixture
def raw(fs: FirestoreStore) -> Any:
    """The Firestore client itself, to look at documents as stored."""
    return fs.client


class Rpcs:
    """The store's RPCs by method since the last `take()`."""

    def __init__(self, counter: RpcCounter) -> None:
        self.counter = counter
        self.base = counter.snapshot()

    def take(self) -> dict[str, int]:
        now = self.counter.snapshot()
        delta = {name: now[name] - self.base.get(name, 0) for name in now if now[name] != self.base.get(name, 0)}
        self.base = now
        return delta


@pytest.fixture
def rpcs(fs: FirestoreStore) -> Iterator[Rpcs]:
    """Counts `fs`'s RPCs: its client opens its channel on its first RPC, in the test."""
    with counting_rpcs() as counter:
        yield Rpcs(counter)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ds(fs: FirestoreStore, user_id: str, clock: Clock) -> Client:
    return Client(DataStoreService(fs, Settings(auth="none"), clock=clock), Identity(user_id, "agent-a"))


@pytest.fixture
def functions_app(collection: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """functions/gcp/main.py loaded by functions-framework, configured for the emulator."""
    import functions_framework

    monkeypatch.setenv("STORE_BACKEND", "firestore")
    monkeypatch.setenv("FIRESTORE_COLLECTION", collection)
    monkeypatch.setenv("DATASTORE_AUTH", "gateway")
    monkeypatch.setenv("DATASTORE_TOKEN_SECRET", "test-secret-of-at-least-thirty-two-bytes")
    monkeypatch.setenv("DATASTORE_DIRECT_CALLERS", "indexer@proj.iam.gserviceaccount.com")

    def make(target: str) -> Any:
        return functions_framework.create_app(target=target, source=str(MAIN)).test_client()

    return make
