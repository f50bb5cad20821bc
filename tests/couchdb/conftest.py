"""Fixtures of the CouchDB tests: the test server's URL and a fresh database on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from agent_datastore.stores.couchdb.store import CouchDBStore


@pytest.fixture(scope="module")
def couchdb() -> str:
    url = os.environ.get("COUCHDB_URL")
    if not url:
        if "couchdb" in os.environ.get("DATASTORE_REQUIRE_BACKENDS", "").split(","):
            pytest.fail("couchdb is required here but COUCHDB_URL is not set")
        pytest.skip("COUCHDB TESTS NOT RUN: COUCHDB_URL is not set (use tests.servers.run --only couchdb)")
    return url


@pytest.fixture
def database(couchdb: str) -> Iterator[str]:
    name = f"faults_{uuid.uuid4().hex[:12]}"
    store = CouchDBStore(couchdb, name)
    store.create()
    yield name
    store.drop()
    store.close()
