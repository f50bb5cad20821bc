"""The contract suite runs once per backend; tests never name a backend."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from agent_datastore.api.service import DataStoreService, parse_request
from agent_datastore.core.identity import Identity
from agent_datastore.core.records import now_ms
from agent_datastore.core.settings import Settings
from agent_datastore.stores.base import Store

from .backends import BACKENDS


def _required() -> set[str]:
    return {name.strip() for name in os.environ.get("DATASTORE_REQUIRE_BACKENDS", "").split(",") if name.strip()}


@pytest.fixture(scope="session", params=BACKENDS)
def backend_store(request: pytest.FixtureRequest) -> Iterator[Store]:
    name = request.param
    try:
        module = importlib.import_module(f"tests.contract.backends.{name}")
    except ModuleNotFoundError:
        reason = f"no contract fixture for backend {name!r} yet"
    else:
        reason = module.available()
    if reason is not None:
        if name in _required():
            pytest.fail(f"backend {name} is required here but cannot run: {reason}")
        pytest.skip(f"BACKEND {name.upper()} NOT TESTED: {reason}")
    yield from module.make_store()


class Client:
    """Calls the service the way every transport does: validate, then execute."""

    def __init__(self, service: DataStoreService, identity: Identity) -> None:
        self.service = service
        self.identity = identity

    def __call__(self, operation: str, **body: Any) -> dict[str, Any]:
        request = parse_request(operation, body)
        return self.service.execute(operation, request, self.identity)

    def as_agent(self, agent: str, user: str | None = None) -> Client:
        return Client(self.service, Identity(user or self.identity.user_id, agent))


@pytest.fixture
def store(backend_store: Store) -> Store:
    return backend_store


class Clock:
    """The service's clock in tests: it starts at the real time and then stands still until a test
    moves it with `advance`, so expiry depends on what a test does, never on how fast the machine
    runs it (a TTL test cannot race a slow backend or a busy CPU). Backends only see `now` from it."""

    def __init__(self) -> None:
        self.now = now_ms()

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * 1000)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(store: Store, clock: Clock) -> DataStoreService:
    return DataStoreService(store, Settings(auth="none"), clock=clock)


@pytest.fixture
def ds(service: DataStoreService, user_id: str) -> Client:
    return Client(service, Identity(user_id, "agent-a"))
