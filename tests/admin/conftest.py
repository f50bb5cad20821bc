"""Stores for the admin tests: SQLite always, CouchDB when COUCHDB_URL is set (tests.servers.run)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_datastore.backends.memory import MemoryStore
from agent_datastore.backends.sqlite import SQLiteStore
from agent_datastore.identity import Identity
from agent_datastore.models import parse_request
from agent_datastore.records import now_ms
from agent_datastore.service import DataStoreService
from agent_datastore.settings import Settings
from agent_datastore.store import Store

TARGETS = ["memory", "sqlite", "couchdb"]


def make(name: str, folder: Path) -> Iterator[Store]:
    if name == "memory":
        yield MemoryStore()
    elif name == "sqlite":
        store = SQLiteStore(folder / f"{uuid.uuid4().hex}.sqlite3")
        store.create()
        yield store
        store.close()
    else:
        if not os.environ.get("COUCHDB_URL"):
            if "couchdb" in os.environ.get("DATASTORE_REQUIRE_BACKENDS", ""):
                pytest.fail("COUCHDB is required here but COUCHDB_URL is not set")
            pytest.skip("COUCHDB NOT TESTED: COUCHDB_URL is not set (run through tests.servers.run)")
        from agent_datastore.backends.couchdb import CouchDBStore

        store = CouchDBStore(os.environ["COUCHDB_URL"], f"admin_{uuid.uuid4().hex[:12]}")
        store.create()
        try:
            yield store
        finally:
            store.drop()
            store.close()


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Store]:
    yield from make("sqlite", tmp_path)


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from make(request.param, tmp_path)


def call(store: Store, user: str, agent: str, operation: str, **body: object) -> dict[str, object]:
    service = DataStoreService(store, Settings(auth="none"))
    return service.execute(operation, parse_request(operation, body), Identity(user, agent))


def populate(store: Store, users: list[str]) -> None:
    """Realistic data: several agents, reads, overwrites, metadata, TTLs, awkward names."""
    for user in users:
        call(store, user, "writer", "set", namespace="files:my-org/my-repo", key="src/a.py", value={"lines": 10})
        call(
            store,
            user,
            "writer",
            "set",
            namespace="files:my-org/my-repo",
            key="src/a.py",
            value={"lines": 11},
            metadata={"lang": "python", "n": 1.5},
        )
        call(store, user, "reader", "get", namespace="files:my-org/my-repo", key="src/a.py")
        call(
            store,
            user,
            "writer",
            "set_many",
            namespace="cache:github",
            items={"a:b/c": [1, 2.5, None], "é😀": "x", "%20 #": {"z": 1, "a": 2}},
        )
        call(store, user, "writer", "set", key="expiring", value=1, ttl_seconds=3600)
        call(store, user, "counter", "increment", namespace="stats", key="runs", by=3)


def snapshot(store: Store, users: list[str]) -> list[object]:
    return [record for user in users for record in store.scan(user)]


@pytest.fixture
def now() -> int:
    return now_ms()
