from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

from agent_datastore.stores.base import Store
from agent_datastore.stores.sqlite.store import SQLiteStore


def available() -> str | None:
    return None


def make_store() -> Iterator[Store]:
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "contract.sqlite3")
        store.create()
        yield store
        store.close()
