"""`agent-datastore mcp`, driven by the MCP SDK's own client: over stdio (a subprocess) and over
streamable HTTP, each as a client of a real API server (DATASTORE_URL) and on the in-process core.

Every route runs the same checks: one tool per operation with the request models' schemas, each
tool answering its operation's body as structured content, the contract's errors as tool errors,
and identity (a token scoped to an `ns_prefix` reaches nothing outside it; a read-only token
writes nothing).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_datastore.api.service import OPERATIONS
from agent_datastore.edges.mcp import tools
from tests.integrations.conftest import SECRET, http_session, mint, stdio_session
from tests.support.server import ROOT, RunningServer

pytestmark = pytest.mark.anyio

ROUTES = ["stdio-remote", "stdio-local", "http-remote", "http-local"]
Connect = Callable[[str], AbstractAsyncContextManager[Any]]


@pytest.fixture(params=ROUTES)
def connect(request: pytest.FixtureRequest, api_server: RunningServer, tmp_path: Path) -> Connect:
    """Open an MCP session acting with a token, on this test's route."""
    route = request.param
    sqlite = str(tmp_path / "mcp-stdio.sqlite3")

    def open_session(token: str) -> AbstractAsyncContextManager[Any]:
        if route == "stdio-remote":
            return stdio_session({"DATASTORE_URL": api_server.url, "DATASTORE_TOKEN": token})
        if route == "stdio-local":
            env = {"STORE_BACKEND": "sqlite", "SQLITE_PATH": sqlite, "DATASTORE_TOKEN_SECRET": SECRET}
            return stdio_session({**env, "DATASTORE_TOKEN": token})
        server = request.getfixturevalue("mcp_remote_http" if route == "http-remote" else "mcp_local_http")
        return http_session(f"{server.url}/mcp", token)

    return open_session


async def call(client: Any, name: str, **arguments: Any) -> dict[str, Any]:
    """A tool's structured result; the text content says the same."""
    result = await client.call_tool(name, arguments)
    assert result.structured_content is not None, result
    assert json.loads(result.content[0].text) == result.structured_content
    if result.is_error:
        assert set(result.structured_content) == {"error"}
    else:
        assert "error" not in result.structured_content
    return dict(result.structured_content)


def code_of(answer: dict[str, Any]) -> str:
    assert "error" in answer, answer
    return str(answer["error"]["code"])


async def test_a_tool_per_operation_with_the_request_models_schemas(connect: Connect, user_id: str) -> None:
    async with connect(mint(user_id)) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert list(listed) == list(OPERATIONS)
    for name, operation in OPERATIONS.items():
        schema = operation.request.model_json_schema(mode="validation")
        advertised = dict(listed[name].input_schema)
        if name == "clear":
            # The one argument that is not the request model's: the model must confirm.
            assert advertised["properties"].pop("confirm") == tools.CONFIRM
            assert advertised.pop("required") == ["confirm"]
        assert advertised == schema
        response = {"type": "object", **operation.response.model_json_schema(mode="serialization")}
        assert listed[name].output_schema == response
        assert listed[name].annotations.read_only_hint is (not operation.writes)
        assert "namespace" in listed[name].description


async def test_every_tool_answers_its_operation(connect: Connect, user_id: str, namespace: str) -> None:
    async with connect(mint(user_id, agent="writer")) as client:
        assert await call(client, "set", namespace=namespace, key="a/b:c", value={"n": 1}) == {
            "version": 1,
            "created": True,
        }
        assert await call(client, "get", namespace=namespace, key="a/b:c") == {"found": True, "value": {"n": 1}}
        record = (await call(client, "get", namespace=namespace, key="a/b:c", include_record=True))["record"]
        assert (record["key"], record["createdByAgent"], record["accessCount"]) == ("a/b:c", "writer", 2)
        assert await call(client, "get", namespace=namespace, key="nope") == {"found": False}
        written = await call(client, "set_many", namespace=namespace, items={"k1": 1, "k2": [2], "k3": "3"})
        assert written == {"written": 3, "versions": {"k1": 1, "k2": 1, "k3": 1}}
        assert await call(client, "get_many", namespace=namespace, keys=["k1", "k2", "zz"]) == {
            "values": {"k1": 1, "k2": [2]},
            "missing": ["zz"],
            "unprocessed": [],
        }
        first = await call(client, "list_keys", namespace=namespace, limit=2)
        assert first["keys"] == ["a/b:c", "k1"] and first["next_cursor"]
        rest = await call(client, "list_keys", namespace=namespace, cursor=first["next_cursor"])
        assert rest == {"keys": ["k2", "k3"], "next_cursor": None}
        assert await call(client, "increment", namespace=namespace, key="count", by=2.5) == {
            "value": 2.5,
            "version": 1,
        }
        assert namespace in (await call(client, "list_namespaces", prefix=namespace))["namespaces"]
        stats = (await call(client, "stats", namespace=namespace))["namespaces"]
        assert [(row["namespace"], row["keys"]) for row in stats] == [(namespace, 5)]
        assert await call(client, "delete", namespace=namespace, key="k3") == {"deleted": True}

        resources = {resource.name: resource for resource in (await client.list_resources()).resources}
        uri = tools.namespace_uri(namespace)
        assert str(resources[namespace].uri) == uri
        listing = json.loads((await client.read_resource(uri)).contents[0].text)
        assert listing == {"namespace": namespace, "keys": ["a/b:c", "count", "k1", "k2"], "next_cursor": None}
        templates = (await client.list_resource_templates()).resource_templates
        assert [template.uri_template for template in templates] == [tools.RESOURCE_TEMPLATE]

        refused = await call(client, "clear", namespace=namespace)
        assert code_of(refused) == "invalid_request" and "confirm" in refused["error"]["message"]
        assert len((await call(client, "list_keys", namespace=namespace))["keys"]) == 4  # nothing deleted
        assert code_of(await call(client, "clear", namespace=namespace, confirm=False)) == "invalid_request"
        assert await call(client, "clear", namespace=namespace, confirm=True) == {"deleted": 4}
        assert namespace not in (await call(client, "list_namespaces"))["namespaces"]


async def test_errors_are_tool_errors_with_the_contracts_code(connect: Connect, user_id: str, namespace: str) -> None:
    async with connect(mint(user_id)) as client:
        await call(client, "set", namespace=namespace, key="k", value=1)
        conflict = await call(client, "set", namespace=namespace, key="k", value=2, if_version=0)
        assert code_of(conflict) == "version_conflict"
        assert conflict["error"]["details"] == {"current_version": 1}
        big = "x" * (1024 * 1024)
        assert code_of(await call(client, "set", namespace=namespace, key="big", value=big)) == "value_too_large"
        assert code_of(await call(client, "get", namespace=namespace, key="")) == "invalid_key"
        assert code_of(await call(client, "get", namespace="", key="k")) == "invalid_namespace"
        assert code_of(await call(client, "get", namespace=namespace, key="k", userId="x")) == "invalid_request"
        await call(client, "set", namespace=namespace, key="text", value="abc")
        assert code_of(await call(client, "increment", namespace=namespace, key="text")) == "not_a_number"
        many = [f"k{i}" for i in range(101)]
        assert code_of(await call(client, "get_many", namespace=namespace, keys=many)) == "too_many_keys"
        assert code_of(await call(client, "set", namespace=namespace, key="t", value=1, ttl_seconds=0)) == (
            "invalid_request"
        )
        # Nothing was written by any refused call.
        assert (await call(client, "list_keys", namespace=namespace))["keys"] == ["k", "text"]
        assert await call(client, "get", namespace=namespace, key="k") == {"found": True, "value": 1}


async def test_a_scoped_token_reaches_nothing_outside_its_prefix(connect: Connect, user_id: str) -> None:
    mine, other = f"team-a:{uuid.uuid4().hex[:6]}", f"team-b:{uuid.uuid4().hex[:6]}"
    async with connect(mint(user_id)) as client:
        await call(client, "set", namespace=mine, key="k", value="mine")
        await call(client, "set", namespace=other, key="k", value="secret")
    async with connect(mint(user_id, ns_prefix="team-a:")) as client:
        assert await call(client, "get", namespace=mine, key="k") == {"found": True, "value": "mine"}
        for name, arguments in [
            ("get", {"key": "k"}),
            ("get_many", {"keys": ["k"]}),
            ("list_keys", {}),
            ("stats", {}),
            ("set", {"key": "k", "value": "overwritten"}),
            ("clear", {"confirm": True}),
        ]:
            assert code_of(await call(client, name, namespace=other, **arguments)) == "forbidden", name
        assert (await call(client, "list_namespaces"))["namespaces"] == [mine]
        assert [row["namespace"] for row in (await call(client, "stats"))["namespaces"]] == [mine]
        assert [resource.name for resource in (await client.list_resources()).resources] == [mine]
        from mcp import MCPError

        with pytest.raises(MCPError) as refused:
            await client.read_resource(tools.namespace_uri(other))
        assert refused.value.error.data["error"]["code"] == "forbidden"
    async with connect(mint(user_id)) as client:
        assert await call(client, "get", namespace=other, key="k") == {"found": True, "value": "secret"}


async def test_a_read_only_token_writes_nothing(connect: Connect, user_id: str, namespace: str) -> None:
    async with connect(mint(user_id)) as client:
        await call(client, "set", namespace=namespace, key="k", value=1)
    async with connect(mint(user_id, read_only=True)) as client:
        assert await call(client, "get", namespace=namespace, key="k") == {"found": True, "value": 1}
        for name, arguments in [
            ("set", {"key": "k", "value": 2}),
            ("set_many", {"items": {"a": 1}}),
            ("delete", {"key": "k"}),
            ("increment", {"key": "k"}),
            ("clear", {"confirm": True}),
        ]:
            assert code_of(await call(client, name, namespace=namespace, **arguments)) == "forbidden", name
        assert await call(client, "get", namespace=namespace, key="k") == {"found": True, "value": 1}


# -- streamable HTTP: the bearer token, identity headers, Origin --------------------------------

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@pytest.fixture(params=["mcp_remote_http", "mcp_local_http"])
def mcp_http(request: pytest.FixtureRequest) -> RunningServer:
    server: RunningServer = request.getfixturevalue(request.param)
    return server


def post(server: RunningServer, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **headers}, timeout=30)


def test_http_requires_a_bearer_token(mcp_http: RunningServer, user_id: str) -> None:
    assert post(mcp_http, {}).status_code == 401
    assert post(mcp_http, {"authorization": "Bearer not-a-token"}).status_code == 401
    expired = mint(user_id, ttl_seconds=1)
    import time

    time.sleep(1.5)
    assert post(mcp_http, {"authorization": f"Bearer {expired}"}).status_code == 401
    assert post(mcp_http, {"authorization": f"Bearer {mint(user_id)}"}).status_code == 200


async def test_http_a_forged_token_acts_as_nobody(mcp_http: RunningServer, user_id: str) -> None:
    from agent_datastore.edges.auth import mint_token

    forged = mint_token("not-the-secret-but-long-enough-0123456789", user=user_id, agent="forger")
    response = post(mcp_http, {"authorization": f"Bearer {forged}"})
    if response.status_code == 401:
        return  # the in-process server holds the secret and refuses it at the door
    # As a client of the API (no secret here) the API refuses it on every call.
    async with http_session(f"{mcp_http.url}/mcp", forged) as client:
        assert code_of(await call(client, "list_namespaces")) == "unauthorized"


@pytest.mark.parametrize("header", ["X-User-Id", "X-Agent-Name", "X-Apigateway-Api-Userinfo"])
def test_http_refuses_identity_headers(mcp_http: RunningServer, user_id: str, header: str) -> None:
    response = post(mcp_http, {"authorization": f"Bearer {mint(user_id)}", header: "someone-else"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_http_refuses_foreign_origins(mcp_http: RunningServer, user_id: str) -> None:
    token = {"authorization": f"Bearer {mint(user_id)}"}
    assert post(mcp_http, {**token, "origin": "https://evil.example"}).status_code == 403
    assert post(mcp_http, {**token, "origin": "http://127.0.0.1.evil.example"}).status_code == 403
    port = mcp_http.url.rsplit(":", 1)[1]
    assert post(mcp_http, {**token, "origin": f"http://127.0.0.1:{port}"}).status_code == 200
    assert post(mcp_http, {**token, "origin": f"http://localhost:{port}"}).status_code == 200


def _cli(*args: str, env: dict[str, str] | None = None, code: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "agent_datastore.cli", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, cwd=ROOT, env=env, stdin=subprocess.DEVNULL
    )


def test_http_binds_to_loopback_unless_told_otherwise() -> None:
    refused = _cli("mcp", "--transport", "http", "--host", "0.0.0.0", "--url", "http://127.0.0.1:9")
    assert refused.returncode == 2
    assert "loopback" in refused.stderr


# -- stdio identity ------------------------------------------------------------------------------


async def test_stdio_without_a_token_runs_as_the_local_user_loudly(tmp_path: Path, namespace: str) -> None:
    env = {"STORE_BACKEND": "sqlite", "SQLITE_PATH": str(tmp_path / "local.sqlite3"), "DATASTORE_AUTH": "none"}
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with stdio_session(env, errlog=errlog) as client:
            await call(client, "set", namespace=namespace, key="k", value=1)
            record = (await call(client, "get", namespace=namespace, key="k", include_record=True))["record"]
    assert (record["userId"], record["createdByAgent"]) == ("local", "mcp")
    assert "AUTHENTICATION IS OFF" in (tmp_path / "stderr.log").read_text()


def test_stdio_without_a_credential_does_not_start(tmp_path: Path) -> None:
    env = {"PATH": "", "SQLITE_PATH": str(tmp_path / "x.sqlite3"), "DATASTORE_AUTH": "token"}
    refused = _cli("mcp", env=env)
    assert refused.returncode == 2
    assert "DATASTORE_TOKEN" in refused.stderr


# -- an optional extra ---------------------------------------------------------------------------

BLOCK_MCP = "import sys; sys.modules['mcp'] = None; from agent_datastore.cli import main; "


def test_the_cli_works_without_the_mcp_extra() -> None:
    helped = _cli(code=BLOCK_MCP + "main(['--help'])")
    assert helped.returncode == 0, helped.stderr
    assert "mcp" in helped.stdout
    refused = _cli(code=BLOCK_MCP + "sys.exit(main(['mcp']))")
    assert refused.returncode == 2
    assert "agent-datastore[mcp]" in refused.stderr
    imported = _cli(
        code="import sys; from agent_datastore.cli import build_parser; build_parser(); "
        "import agent_datastore.api.app, agent_datastore.edges.aws.handler; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'langgraph', 'langchain_core')))"
    )
    assert imported.stdout.strip() == "[]", imported.stderr


def test_only_the_mcp_edge_imports_mcp_and_no_artifact_carries_it() -> None:
    import ast

    package = ROOT / "shared" / "agent_datastore"
    for path in package.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
        inside = path.is_relative_to(package / "edges" / "mcp") or path == package / "commands" / "mcp.py"
        if not inside:
            assert not names & {"mcp", "starlette", "langgraph"}, path
            # uvicorn (on httptools and uvloop) serves the local server and proxy too (edges/local), nowhere else
            if not path.is_relative_to(package / "edges" / "local"):
                assert not names & {"uvicorn", "httptools", "uvloop"}, path
    for requirements in [ROOT / "functions/aws/layer/requirements.txt", ROOT / "functions/gcp/requirements.txt"]:
        text = requirements.read_text().lower()
        assert "mcp" not in text and "langgraph" not in text and "uvicorn" not in text, requirements
        assert "httptools" not in text and "uvloop" not in text, requirements
