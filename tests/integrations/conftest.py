"""Fixtures for the integrations: a real data store server with capability tokens, MCP sessions
driven by the MCP SDK's own client (stdio subprocess, streamable HTTP), LangGraph stores."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent_datastore.edges.auth import mint_token
from tests.servers import free_port
from tests.support.server import ROOT, RunningServer, running_cli, running_server

SECRET = "integration-tests-secret-0123456789abcdef"
SERVER_ENV = {"DATASTORE_AUTH": "token", "DATASTORE_TOKEN_SECRET": SECRET, "STORE_BACKEND": "sqlite"}


def mint(user: str, agent: str = "mcp-tester", **kwargs: Any) -> str:
    return mint_token(SECRET, user=user, agent=agent, **kwargs)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def api_server() -> Iterator[RunningServer]:
    """`agent-datastore serve` with capability tokens (SQLite in a temporary folder)."""
    with running_server(env=SERVER_ENV) as running:
        yield running


@pytest.fixture
def namespace() -> str:
    return f"ns-{uuid.uuid4().hex[:8]}"


# -- MCP: the server as a child process, the client from the MCP SDK ------------------------


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_DEFAULT_REGION")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    return {**env, **extra}


@asynccontextmanager
async def stdio_session(env: dict[str, str], errlog: Any = None) -> AsyncIterator[Any]:
    """`agent-datastore mcp` (stdio) as a subprocess, connected with the SDK's stdio client."""
    from mcp import Client, StdioServerParameters, stdio_client

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "agent_datastore.cli", "mcp"], env=_child_env(env), cwd=str(ROOT)
    )
    transport = stdio_client(params, errlog=errlog) if errlog is not None else params
    async with Client(transport) as client:
        yield client


@asynccontextmanager
async def http_session(url: str, token: str | None, headers: dict[str, str] | None = None) -> AsyncIterator[Any]:
    """The SDK's streamable HTTP client, with `token` as its bearer."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    sent = dict(headers or {})
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    http = httpx2.AsyncClient(headers=sent, timeout=httpx2.Timeout(30, read=60))
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        yield client


@contextmanager
def mcp_http_server(env: dict[str, str], *args: str) -> Iterator[RunningServer]:
    """`agent-datastore mcp --transport http` on a free loopback port (waits for /healthz)."""
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        command = ["mcp", "--transport", "http", "--port", str(port), *args]
        with running_cli(command, port, Path(folder), {**os.environ, **env}) as running:
            yield running


@pytest.fixture(scope="session")
def mcp_remote_http(api_server: RunningServer) -> Iterator[RunningServer]:
    """The MCP server over HTTP as a client of the API server (tokens are checked by the API)."""
    env = {"DATASTORE_URL": api_server.url, "DATASTORE_TOKEN_SECRET": "", "DATASTORE_TOKEN": ""}
    with mcp_http_server(env) as running:
        yield running


@pytest.fixture(scope="session")
def mcp_local_http() -> Iterator[RunningServer]:
    """The MCP server over HTTP on the in-process core (SQLite), checking tokens itself."""
    with tempfile.TemporaryDirectory() as folder:
        env = {
            "DATASTORE_URL": "",
            "DATASTORE_TOKEN_SECRET": SECRET,
            "STORE_BACKEND": "sqlite",
            "SQLITE_PATH": str(Path(folder) / "mcp.sqlite3"),
        }
        with mcp_http_server(env) as running:
            yield running


# -- LangGraph: DataStoreStore over the SDK, on SQLite (over HTTP) and DynamoDB (moto server) --------

LANGGRAPH_BACKENDS = ["sqlite", "dynamodb"]


class CountingTransport:
    """Records the operation of every call a store makes (the test seam; the SDK knows nothing of it)."""

    def __init__(self, inner: Any, calls: list[str]) -> None:
        self.inner, self.calls = inner, calls

    def call(self, call: Any) -> dict[str, Any]:
        self.calls.append(call.operation)
        result: dict[str, Any] = self.inner.call(call)
        return result

    def close(self) -> None:
        self.inner.close()


class AsyncCountingTransport(CountingTransport):
    async def call(self, call: Any) -> dict[str, Any]:  # type: ignore[override]
        self.calls.append(call.operation)
        result: dict[str, Any] = await self.inner.call(call)
        return result

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class LangGraphBackend:
    """Builds `DataStoreStore`s for one user on one backend, every SDK call counted in `calls`."""

    name: str
    user: str
    make: Callable[[str, list[str], dict[str, Any]], Any]
    calls: list[str] = field(default_factory=list)

    def store(self, **kwargs: Any) -> Any:
        return self.make(self.user, self.calls, kwargs)


@pytest.fixture(scope="session")
def dynamodb_store() -> Iterator[Any]:
    from tests.contract.backends import dynamodb

    reason = dynamodb.available()
    if reason is not None:
        required = os.environ.get("DATASTORE_REQUIRE_BACKENDS", "").split(",")
        if "dynamodb" in required:
            pytest.fail(f"backend dynamodb is required here but cannot run: {reason}")
        pytest.skip(f"BACKEND DYNAMODB NOT TESTED: {reason}")
    yield from dynamodb.make_store()


@pytest.fixture(params=LANGGRAPH_BACKENDS)
def langgraph_backend(request: pytest.FixtureRequest, user_id: str) -> LangGraphBackend:
    from agent_datastore_sdk import AsyncDataStore, DataStore
    from agent_datastore_sdk.langgraph import DataStoreStore
    from agent_datastore_sdk.transports.http import AsyncHttpTransport, HttpTransport
    from agent_datastore_sdk.transports.inprocess import InProcessTransport

    if request.param == "sqlite":
        # The usual deployment: the SDK over HTTP to a real server (SQLite behind it).
        api: RunningServer = request.getfixturevalue("api_server")

        def make(user: str, calls: list[str], kwargs: dict[str, Any]) -> Any:
            token = mint(user, agent="langgraph", ns_prefix=kwargs.pop("token_prefix", None))
            client = DataStore(transport=CountingTransport(HttpTransport(api.url, token), calls))
            aclient = AsyncDataStore(transport=AsyncCountingTransport(AsyncHttpTransport(api.url, token), calls))
            return DataStoreStore(client, async_client=aclient, **kwargs)

    else:
        backing = request.getfixturevalue("dynamodb_store")

        def make(user: str, calls: list[str], kwargs: dict[str, Any]) -> Any:
            prefix = kwargs.pop("token_prefix", None)
            inner = InProcessTransport(user, "langgraph", ns_prefix=prefix, store=backing)
            counted = CountingTransport(inner, calls)
            return DataStoreStore(
                DataStore(transport=counted), async_client=AsyncDataStore(transport=counted), **kwargs
            )

    return LangGraphBackend(request.param, user_id, make)
