from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

from agent_datastore.stores.base import Store
from agent_datastore.stores.couchdb.store import CouchDBStore


def available() -> str | None:
    if not os.environ.get("COUCHDB_URL"):
        return "COUCHDB_URL is not set (run through `python -m tests.servers.run --only couchdb -- ...`)"
    return None


def make_store() -> Iterator[Store]:
    store = CouchDBStore(os.environ["COUCHDB_URL"], f"contract_{uuid.uuid4().hex[:12]}")
    store.create()
    try:
        yield store
    finally:
        store.drop()
        store.close()
