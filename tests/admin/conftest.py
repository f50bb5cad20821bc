"""Stores for the admin tests, from the contract suite's backend modules
(`tests/contract/backends/<name>.py`): SQLite as the source, and as targets
memory, SQLite and CouchDB (when COUCHDB_URL is set, i.e. under tests.servers.run)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator

import pytest

from agent_datastore.api.service import DataStoreService, parse_request
from agent_datastore.core.identity import Identity
from agent_datastore.core.records import now_ms
from agent_datastore.core.settings import Settings
from agent_datastore.stores.base import Store

TARGETS = ["memory", "sqlite", "couchdb"]


def make(name: str) -> Iterator[Store]:
    """A fresh store of backend `name`; skipped when it cannot run here, failed when it is required."""
    module = importlib.import_module(f"tests.contract.backends.{name}")
    reason = module.available()
    if reason is not None:
        required = {item.strip() for item in os.environ.get("DATASTORE_REQUIRE_BACKENDS", "").split(",")}
        if name in required:
            pytest.fail(f"backend {name} is required here but cannot run: {reason}")
        pytest.skip(f"BACKEND {name.upper()} NOT TESTED: {reason}")
    yield from module.make_store()


@pytest.fixture
def source() -> Iterator[Store]:
    yield from make("sqlite")


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> Iterator[Store]:
    yield from make(request.param)


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
