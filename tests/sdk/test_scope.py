"""`ns_prefix` and `read_only` are enforced on every operation (403 forbidden).

Over HTTP with capability tokens against the real server, and over direct
invocation (`identity.nsPrefix` / `identity.readOnly`) through the real handlers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agent_datastore.api.app import Api
from agent_datastore.api.service import OPERATIONS
from agent_datastore.edges.aws.handler import make_handler
from agent_datastore.stores.memory import MemoryStore
from tests.sdk.conftest import mint

# One request per operation, all aimed at `namespace` (stats and list_namespaces take none).
BODIES: dict[str, dict[str, Any]] = {
    "get": {"key": "k"},
    "set": {"key": "k", "value": "changed"},
    "delete": {"key": "k"},
    "list_keys": {"include_values": True},
    "clear": {},
    "get_many": {"keys": ["k"]},
    "set_many": {"items": {"k": "changed", "new": 1}},
    "increment": {"key": "n"},
    "stats": {},
}
NAMESPACED = [op for op in BODIES if op != "stats"]
WRITES = sorted(name for name, operation in OPERATIONS.items() if operation.writes)
READS = sorted(name for name, operation in OPERATIONS.items() if not operation.writes)


def test_every_operation_is_covered() -> None:
    assert set(BODIES) | {"list_namespaces"} == set(OPERATIONS)


Call = Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]]]


def http_caller(server: Any, token: str) -> Call:
    def call(operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = httpx.post(
            f"{server.url}/v1/{operation}",
            content=json.dumps(body),
            headers={"authorization": f"Bearer {token}"},
            timeout=10,
        )
        return response.status_code, response.json()

    return call


def direct_caller(api: Api, identity: dict[str, Any]) -> Call:
    def call(operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        result = make_handler(operation, api)({"identity": identity, **body}, None)
        return result["statusCode"], result["body"]

    return call


@pytest.fixture(params=["http", "direct"])
def callers(request: pytest.FixtureRequest, server: Any, user_id: str) -> Callable[..., Call]:
    """callers(ns_prefix=..., read_only=...) -> a caller for this test's user over one transport."""
    api = Api(store=MemoryStore())

    def make(ns_prefix: str | None = None, read_only: bool = False) -> Call:
        if request.param == "http":
            return http_caller(server, mint(user_id, "scoped", ns_prefix=ns_prefix, read_only=read_only))
        identity: dict[str, Any] = {"userId": user_id, "agentName": "scoped", "readOnly": read_only}
        if ns_prefix is not None:
            identity["nsPrefix"] = ns_prefix
        return direct_caller(api, identity)

    return make


def seed(call: Call) -> None:
    for namespace in ["other", "team:x", "default"]:
        assert call("set", {"namespace": namespace, "key": "k", "value": f"secret-{namespace}"})[0] == 200


def forbidden(result: tuple[int, dict[str, Any]]) -> bool:
    status, body = result
    return status == 403 and body["error"]["code"] == "forbidden"


@pytest.mark.parametrize("operation", NAMESPACED)
def test_ns_prefix_confines_every_namespaced_operation(callers: Callable[..., Call], operation: str) -> None:
    owner, scoped = callers(), callers(ns_prefix="team:")
    seed(owner)
    body = BODIES[operation]
    for namespace in ["other", "team", "Team:x", "default"]:
        assert forbidden(scoped(operation, {**body, "namespace": namespace})), (operation, namespace)
    assert forbidden(scoped(operation, body))  # no namespace: "default", outside the prefix
    status, _ = scoped(operation, {**body, "namespace": "team:x"})
    assert status == 200
    # Nothing outside the prefix was read or changed.
    assert owner("get", {"namespace": "other", "key": "k"})[1] == {"found": True, "value": "secret-other"}
    assert owner("list_keys", {"namespace": "other"})[1]["keys"] == ["k"]


def test_ns_prefix_filters_list_namespaces_and_stats(callers: Callable[..., Call]) -> None:
    owner, scoped = callers(), callers(ns_prefix="team:")
    seed(owner)
    assert owner("set", {"namespace": "team:y", "key": "k", "value": 1})[0] == 200
    assert scoped("list_namespaces", {})[1] == {"namespaces": ["team:x", "team:y"]}
    assert scoped("list_namespaces", {"prefix": "oth"})[1] == {"namespaces": []}
    assert scoped("list_namespaces", {"prefix": "team:y"})[1] == {"namespaces": ["team:y"]}
    rows = scoped("stats", {})[1]["namespaces"]
    assert [row["namespace"] for row in rows] == ["team:x", "team:y"]
    assert forbidden(scoped("stats", {"namespace": "other"}))
    assert [row["namespace"] for row in scoped("stats", {"namespace": "team:x"})[1]["namespaces"]] == ["team:x"]


@pytest.mark.parametrize("operation", WRITES)
def test_read_only_refuses_every_write(callers: Callable[..., Call], operation: str) -> None:
    owner, reader = callers(), callers(read_only=True)
    seed(owner)
    assert owner("set", {"namespace": "other", "key": "n", "value": 5})[0] == 200
    assert forbidden(reader(operation, {**BODIES[operation], "namespace": "other"}))
    values = owner("list_keys", {"namespace": "other", "include_values": True})[1]["values"]
    assert values == {"k": "secret-other", "n": 5}  # unchanged


@pytest.mark.parametrize("operation", READS)
def test_read_only_may_read(callers: Callable[..., Call], operation: str) -> None:
    owner, reader = callers(), callers(read_only=True, ns_prefix="team:")
    seed(owner)
    body = {**BODIES.get(operation, {}), "namespace": "team:x"} if operation != "list_namespaces" else {}
    status, answer = reader(operation, body)
    assert status == 200, answer
    if operation == "get":
        assert answer == {"found": True, "value": "secret-team:x"}
