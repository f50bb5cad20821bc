from __future__ import annotations

from collections.abc import Iterator

from agent_datastore.backends.memory import MemoryStore
from agent_datastore.store import Store


def available() -> str | None:
    return None


def make_store() -> Iterator[Store]:
    yield MemoryStore()
