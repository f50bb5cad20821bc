"""Backends the contract suite runs on: one module per backend.

Each module defines `available() -> str | None` (None when it can run here,
else the reason it cannot) and `make_store() -> Iterator[Store]`, a generator
yielding a store connected to a real server (or file) and cleaning up after.
Adding a backend = adding a module here; the names come from the product's registry.

Backends named in the environment variable DATASTORE_REQUIRE_BACKENDS (set
by `make test`) must be available: a missing server fails the run instead of
skipping silently.
"""

from __future__ import annotations

from agent_datastore.stores import BACKENDS as REGISTRY

BACKENDS = list(REGISTRY)
