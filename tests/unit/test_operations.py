"""The operation table: one row per operation, and the views of it the edges still read."""

from __future__ import annotations

import time
import typing

import pytest

from agent_datastore.api import requests, service
from agent_datastore.api.service import OPERATIONS, DataStoreService, parse_request
from agent_datastore.core import errors
from agent_datastore.core.identity import Identity
from agent_datastore.core.records import Scope
from agent_datastore.core.settings import Settings
from agent_datastore.stores.memory import MemoryStore


def test_each_row_is_consistent() -> None:
    for name, operation in OPERATIONS.items():
        assert operation.name == name
        hints = typing.get_type_hints(operation.handler, vars(service))
        assert hints["request"] is operation.request, name
        assert list(hints) == ["request", "identity", "deadline", "return"], name
        assert issubclass(operation.request, requests.Request)
        assert operation.summary


def test_parse_request_finds_the_model_in_the_table() -> None:
    assert isinstance(parse_request("get", {"key": "k"}), requests.GetRequest)
    with pytest.raises(errors.UnknownOperation, match="unknown operation 'nope'"):
        parse_request("nope", {})
    with pytest.raises(errors.InvalidRequest, match="request body must be a JSON object"):
        parse_request("get", [])


class DeadlineStore(MemoryStore):
    """Keeps the deadline `clear` was given."""

    deadlines: list[float]

    def clear(self, scope: Scope, *, now: int, deadline: float) -> tuple[int, bool]:
        self.deadlines.append(deadline)
        return super().clear(scope, now=now, deadline=deadline)


def test_execute_passes_the_deadline_or_the_request_budget() -> None:
    store = DeadlineStore()
    store.deadlines = []
    service = DataStoreService(store, Settings(auth="none", request_budget_seconds=7.0))
    request = parse_request("clear", {})
    assert service.execute("clear", request, Identity("u", "a"), 12.5) == {"deleted": 0}
    before = time.monotonic()
    service.execute("clear", request, Identity("u", "a"))
    after = time.monotonic()
    given, budget = store.deadlines
    assert given == 12.5 and before + 7.0 <= budget <= after + 7.0
