"""Firestore against Google's emulator (started by `python -m tests.servers.run`)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

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
