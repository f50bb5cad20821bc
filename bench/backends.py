"""The backends a benchmark can run on: the contract suite's store fixtures, behind the service."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from agent_datastore.api.service import DataStoreService, parse_request
from agent_datastore.core.identity import Identity
from agent_datastore.core.settings import Settings
from agent_datastore.stores.base import Store

T = TypeVar("T")


def available(name: str) -> bool:
    """Whether backend `name` can run here (its server is up, its client installed)."""
    try:
        module = importlib.import_module(f"tests.contract.backends.{name}")
    except ModuleNotFoundError:
        return False
    return module.available() is None


def with_service(name: str, work: Callable[[Store, Callable[..., Any], Identity], T]) -> T:
    """`work(store, call, identity)` on a fresh store of backend `name` (the contract fixture's);
    `call(operation, **body)` runs one operation through the service as a fresh bench user."""
    stores = importlib.import_module(f"tests.contract.backends.{name}").make_store()
    store: Store = next(stores)
    try:
        service = DataStoreService(store, Settings(auth="none"))
        identity = Identity(f"bench-{uuid.uuid4().hex[:8]}", "bench")

        def call(operation: str, **body: Any) -> Any:
            return service.execute(operation, parse_request(operation, body), identity)

        return work(store, call, identity)
    finally:
        stores.close()


def interleaved(
    layouts: tuple[int, ...], rounds: int, workload: Callable[[int, bool], T]
) -> dict[int, tuple[list[T], list[T]]]:
    """`workload(layout, namespace_each)` in one namespace and in a namespace each, `rounds` times
    for every layout, the layouts' rounds interleaved so that the machine's load drifts over all
    alike: layout -> (one-namespace outcomes, namespace-each outcomes)."""
    outcomes: dict[int, tuple[list[T], list[T]]] = {layout: ([], []) for layout in layouts}
    for _ in range(rounds):
        for layout in layouts:
            ones, eaches = outcomes[layout]
            ones.append(workload(layout, False))
            eaches.append(workload(layout, True))
    return outcomes
