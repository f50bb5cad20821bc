"""The response models (and the OpenAPI document made from them) describe exactly what the service answers.

The service builds plain dicts and nothing checks them at run time, so a
scenario that brings out every shape of every operation's answer runs each
answer through its operation's model (strict, closed) and through the
document's schema.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from agent_datastore.api import openapi, responses
from agent_datastore.api.service import OPERATIONS, DataStoreService, parse_request
from agent_datastore.core.identity import Identity
from agent_datastore.core.limits import MAX_VALUE_BYTES
from agent_datastore.core.records import Record
from agent_datastore.core.settings import Settings
from agent_datastore.stores.base import Store
from agent_datastore.stores.memory import MemoryStore
from agent_datastore.stores.sqlite.store import SQLiteStore

ME = Identity("u1", "agent-a")


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "s.sqlite3")
    yield made
    made.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now


def scenario(service: DataStoreService, clock: Clock) -> Iterator[tuple[str, dict[str, Any]]]:
    """(operation, answer) for every shape an answer can take: optional members present and absent."""

    def call(operation: str, deadline: float | None = None, **body: Any) -> tuple[str, dict[str, Any]]:
        return operation, service.execute(operation, parse_request(operation, body), ME, deadline)

    yield call("get", key="k")
    yield call("set", key="k", value={"a": [1, 2.5, None]}, metadata={"m": 1})
    yield call("set", key="k", value="again", ttl_seconds=60, if_version=1)
    yield call("set", key="null", value=None)
    yield call("get", key="k")
    yield call("get", key="k", include_record=True)  # expiresAt set
    yield call("get", key="null", include_record=True, track_access=False)  # expiresAt null, value null
    yield call("get", key="k", include_record=True, refresh_ttl=True)  # expiresAt moved
    yield call("delete", key="null")
    yield call("delete", key="null")
    yield call("set_many", items={f"i{n}": n for n in range(5)}, metadata={"x": "y"}, ttl_seconds=10)
    yield call("set_many", items={})
    yield call("increment", key="n")
    yield call("increment", key="n", by=2.5)
    yield call("list_keys")
    yield call("list_keys", limit=2)
    yield call("list_keys", limit=2, include_values=True)
    yield call("list_keys", prefix="x" * 1025)
    yield call("list_keys", prefix="x" * 1025, include_values=True)
    yield call("list_keys", limit=2, include_records=True)
    yield call("list_keys", include_records=True, include_values=True, refresh_ttl=True)
    yield call("list_keys", prefix="x" * 1025, include_records=True)
    yield call("list_namespaces")
    yield call("list_namespaces", prefix="n" * 257)
    yield call("get_many", keys=["k", "nope", "k", "i1"])
    yield call("get_many", keys=["k", "i2"], refresh_ttl=True, track_access=False)
    for n in range(7):  # more than one response holds: get_many and list_keys leave some out
        yield call("set", namespace="big", key=f"b{n}", value="x" * (MAX_VALUE_BYTES - 10))
    yield call("get_many", namespace="big", keys=[f"b{n}" for n in range(7)], track_access=False)
    yield call("list_keys", namespace="big", include_values=True, track_access=False)
    yield call("list_keys", namespace="big", include_records=True)
    yield call("stats")
    yield call("stats", namespace="big")
    yield call("stats", namespace="empty")
    for batch in range(6):
        yield call("set_many", namespace="c", items={f"c{batch}-{n:03d}": n for n in range(100)})
    yield call("clear", namespace="c", deadline=time.monotonic() - 1)  # SQLite stops after one batch
    yield call("clear", namespace="c")
    yield call("clear", namespace="c")
    clock.now += 61_000
    yield call("get", key="k")


def shape(answer: dict[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(answer))


def test_every_answer_validates_against_its_response_model_and_the_document(store: Store) -> None:
    clock = Clock()
    service = DataStoreService(store, Settings(auth="none"), clock=clock)
    document = openapi.build()
    seen: dict[str, set[tuple[str, ...]]] = {name: set() for name in OPERATIONS}
    for operation, answer in scenario(service, clock):
        model = OPERATIONS[operation].response
        model.model_validate(answer)
        schema = {"$ref": f"#/components/schemas/{model.__name__}", "components": document["components"]}
        errors = [error.message for error in Draft202012Validator(schema).iter_errors(answer)]
        assert not errors, (operation, errors)
        seen[operation].add(shape(answer))
    # The scenario brought out every shape (else the models are only checked in part).
    assert seen["get"] == {("found",), ("found", "value"), ("found", "record", "value")}
    assert seen["list_keys"] == {
        ("keys", "next_cursor"),
        ("keys", "next_cursor", "values"),
        ("keys", "next_cursor", "records"),
    }
    if isinstance(store, SQLiteStore):
        assert seen["clear"] == {("deleted",), ("deleted", "done")}
    assert all(seen.values()), [name for name, shapes in seen.items() if not shapes]


@pytest.mark.parametrize(
    ("model", "answer"),
    [
        (responses.GetResponse, {"found": False, "value": 1}),
        (responses.GetResponse, {"found": True}),
        (responses.GetResponse, {"found": True, "value": 1, "record": None}),
        (responses.GetResponse, {"found": 1}),
        (responses.ListKeysResponse, {"keys": [], "next_cursor": None, "values": None}),
        (responses.ListKeysResponse, {"keys": [], "next_cursor": None, "records": None}),
        (responses.ListKeysResponse, {"keys": ["k"], "next_cursor": None, "records": {"k": {"value": 1}}}),
        (responses.ListKeysResponse, {"keys": []}),
        (responses.ClearResponse, {"deleted": 1, "done": True}),
        (responses.ClearResponse, {"deleted": 1, "done": None}),
        (responses.SetResponse, {"version": True, "created": True}),
        (responses.SetResponse, {"version": 1, "created": True, "extra": 1}),
        (responses.IncrementResponse, {"value": "1", "version": 1}),
        (responses.StatsResponse, {"namespaces": [{"namespace": "n", "keys": 1, "bytes": 2}]}),
        (responses.StatsResponse, {"namespaces": [{"namespace": "n", "keys": 1, "bytes": 2, "updatedAt": "today"}]}),
    ],
)
def test_the_models_refuse_what_the_service_does_not_answer(model: Any, answer: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(answer)


def test_a_record_needs_every_member_the_core_writes() -> None:
    record = Record("u", "n", "k", "null", created_at=1, updated_at=2).to_dict()
    responses.Record.model_validate(record)
    for member in record:
        with pytest.raises(ValidationError):
            responses.Record.model_validate({name: item for name, item in record.items() if name != member})
