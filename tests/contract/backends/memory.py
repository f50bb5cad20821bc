from __future__ import annotations

from collections.abc import Iterator

from agent_datastore.stores.base import Store
from agent_datastore.stores.memory import MemoryStore


def available() -> str | None:
    return None


def make_store() -> Iterator[Store]:
    yield MemoryStore()
