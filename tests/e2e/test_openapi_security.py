"""/openapi.json describes the security the server really applies: none with auth off (the identity
headers instead), a bearer token with capability tokens or a gateway."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from agent_datastore.api.service import OPERATIONS
from tests.sdk.conftest import SERVER_ENV, mint
from tests.support.server import RunningServer, running_server


@pytest.fixture(scope="module", params=["none", "token"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, RunningServer]]:
    env = {"DATASTORE_AUTH": "none"} if request.param == "none" else SERVER_ENV
    with running_server(env=env) as running:
        yield request.param, running


def spec_of(server: RunningServer) -> dict[str, Any]:
    spec: dict[str, Any] = httpx.get(f"{server.url}/openapi.json", timeout=10).json()
    validate(spec)
    return spec


def headers_of(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}


def test_the_spec_states_what_the_server_asks_for(served: tuple[str, RunningServer], user_id: str) -> None:
    mode, server = served
    spec = spec_of(server)
    for name in OPERATIONS:
        operation = spec["paths"][f"/v1/{name}"]["post"]
        if mode == "none":
            # No credential at all: a request without Authorization is answered, as the spec says.
            assert "security" not in spec and "security" not in operation
            assert "securitySchemes" not in spec["components"]
            headers = headers_of(operation)
            assert set(headers) == {"X-User-Id", "X-Agent-Name"}
            assert all(not header["required"] and header["schema"] == {"type": "string"} for header in headers.values())
        else:
            assert spec["security"] == [{"bearer": []}]
            assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
            assert "X-User-Id" not in headers_of(operation)
    if mode == "none":
        answer = httpx.post(f"{server.url}/v1/list_namespaces", json={}, headers={"X-User-Id": user_id}, timeout=10)
        assert answer.status_code == 200
    else:
        assert httpx.post(f"{server.url}/v1/list_namespaces", json={}, timeout=10).status_code == 401
        token = {"Authorization": f"Bearer {mint(user_id)}"}
        assert httpx.post(f"{server.url}/v1/list_namespaces", json={}, headers=token, timeout=10).status_code == 200
