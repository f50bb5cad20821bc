"""Black-box acceptance suite: HTTP only, written from /work/shared/API.md (and docs/contract-notes.md).

Every module gets one real `agent-datastore serve` process per backend (auth off, identity from the
X-User-Id / X-Agent-Name headers). Every test uses a fresh random user, so tests never see each other.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.servers import START_TIMEOUT
from tests.support.server import ROOT, RunningServer, running_server

MIB = 1024 * 1024
KIB = 1024
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ERROR_CODES = {
    400: {
        "invalid_request",
        "invalid_json",
        "invalid_key",
        "invalid_namespace",
        "invalid_value",
        "invalid_cursor",
        "too_many_keys",
    },
    401: {"unauthorized"},
    403: {"forbidden"},
    404: {"unknown_operation"},
    405: {"method_not_allowed"},
    409: {"version_conflict", "not_a_number"},
    413: {"value_too_large", "payload_too_large"},
    429: {"throttled"},
    503: {"backend_unavailable"},
}

# backend -> (environment variable that says its test server runs, per-server name variable)
BACKENDS: dict[str, tuple[str | None, str | None]] = {
    "sqlite": (None, None),
    "dynamodb": ("AWS_ENDPOINT_URL_DYNAMODB", "DYNAMODB_TABLE"),
    "firestore": ("FIRESTORE_EMULATOR_HOST", "FIRESTORE_COLLECTION"),
    "couchdb": ("COUCHDB_URL", "COUCHDB_DB"),
}


def compact(value: Any) -> bytes:
    """The contract's measure: compact UTF-8 JSON."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def parse_time(text: str) -> datetime:
    assert TIMESTAMP.match(text), f"not RFC 3339 UTC with milliseconds: {text!r}"
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def check_error_shape(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, f"expected {status} {code}, got {response.status_code}: {response.text}"
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error.get("code") == code, body
    assert isinstance(error.get("message"), str) and error["message"], body
    assert isinstance(error.get("request_id"), str) and error["request_id"], body
    assert set(error) <= {"code", "message", "details", "request_id"}, body
    if "details" in error:
        assert isinstance(error["details"], dict), body
    return error


class Api:
    """One caller (user + agent) of the HTTP server."""

    def __init__(self, url: str, user: str | None, agent: str | None = "acceptance") -> None:
        headers = {}
        if user is not None:
            headers["X-User-Id"] = user
        if agent is not None:
            headers["X-Agent-Name"] = agent
        self.user = user
        self.agent = agent
        self.client = httpx.Client(base_url=url, headers=headers, timeout=120)

    def close(self) -> None:
        self.client.close()

    def call(self, operation: str, body: Any = None, *, raw: bytes | str | None = None) -> httpx.Response:
        content = raw if raw is not None else json.dumps({} if body is None else body)
        response = self.client.post(f"/v1/{operation}", content=content, headers={"Content-Type": "application/json"})
        assert response.status_code < 500 or response.status_code == 503, (
            f"{operation} answered {response.status_code}: {response.text[:2000]}"
        )
        if response.status_code != 200:
            assert response.status_code in ERROR_CODES, response.text[:2000]
            code = response.json()["error"]["code"]
            assert code in ERROR_CODES[response.status_code], response.text[:2000]
        return response

    def ok(self, operation: str, body: Any = None, *, raw: bytes | str | None = None) -> Any:
        response = self.call(operation, body, raw=raw)
        assert response.status_code == 200, f"{operation} {str(body)[:300]} -> {response.status_code} {response.text}"
        assert response.headers.get("content-type", "").startswith("application/json")
        return response.json()

    def err(
        self, operation: str, body: Any, status: int, code: str, *, raw: bytes | str | None = None
    ) -> dict[str, Any]:
        return check_error_shape(self.call(operation, body, raw=raw), status, code)

    def record(self, key: str, namespace: str | None = None) -> dict[str, Any]:
        """The full record without counting a read."""
        body: dict[str, Any] = {"key": key, "include_record": True, "track_access": False}
        if namespace is not None:
            body["namespace"] = namespace
        answer = self.ok("get", body)
        assert answer["found"] is True, answer
        return answer["record"]


def known_bug(request: pytest.FixtureRequest, backend: str, backends: set[str], reason: str) -> None:
    """Mark the running test as a known product bug (strict xfail) on the given backends only."""
    if backend in backends:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=f"BUG ({backend}): {reason}"))


def clear_all(api: Api, namespace: str | None = None) -> int:
    """`clear` until done (API.md: the SDK repeats while `done` is false); the total deleted."""
    body = {} if namespace is None else {"namespace": namespace}
    total = 0
    for _ in range(100):
        answer = api.ok("clear", body)
        assert set(answer) <= {"deleted", "done"} and answer.get("done", True) in (True, False), answer
        total += answer["deleted"]
        if answer.get("done", True):
            return total
    raise AssertionError("clear never finished")


def backend_env(backend: str) -> dict[str, str]:
    presence, name_variable = BACKENDS[backend]
    if presence is not None and not os.environ.get(presence):
        required = {name.strip() for name in os.environ.get("DATASTORE_REQUIRE_BACKENDS", "").split(",")}
        message = f"!!! {backend.upper()} ACCEPTANCE TESTS NOT RUN: {presence} is not set"
        if backend in required:
            pytest.fail(f"{message}, but DATASTORE_REQUIRE_BACKENDS requires {backend}")
        pytest.skip(message)
    env = {"STORE_BACKEND": backend, "DATASTORE_AUTH": "none"}
    if name_variable is not None:
        env[name_variable] = f"acceptance_{uuid.uuid4().hex[:10]}"
    return env


def admin_create(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent_datastore.cli", "admin", "create"],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )
    assert result.returncode == 0, f"admin create failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module", params=list(BACKENDS))
def server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    backend = request.param
    env = backend_env(backend)
    if backend in ("dynamodb", "couchdb"):
        admin_create(env)
    with running_server(env=env) as running:
        running.backend = backend  # type: ignore[attr-defined]
        yield running


@pytest.fixture
def backend(server: RunningServer) -> str:
    return server.backend  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def new_api(server: RunningServer) -> Iterator[Callable[..., Api]]:
    clients: list[Api] = []

    def make(user: str | None = "", agent: str | None = "acceptance") -> Api:
        if user == "":
            user = f"acc-{uuid.uuid4().hex}"
        api = Api(server.url, user, agent)
        clients.append(api)
        return api

    yield make
    for api in clients:
        api.close()


@pytest.fixture
def api(new_api: Callable[..., Api]) -> Api:
    """A fresh random user, agent `acceptance`."""
    return new_api()
