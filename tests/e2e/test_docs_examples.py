"""Every example in docs/*.md (and the README's SDK quick start) is run as written against a live server
on a free port, or, for commands that need a cloud account, a system install or the test suite itself,
checked for syntax (`bash -n`, `compile`). Every code block must be listed below, so a new example is
either run or says why not.

Addresses in the examples (`localhost:8080`, `https://api.example.com`, `$API_URL`, the proxy's port)
are replaced by the live server's and placeholders (`DATASTORE_TOKEN_SECRET=...`, `eyJ...`) by real
values; nothing else is changed. Where a Python line ends in a comment that starts with a literal
(`# ["my-key"]`, `# 0: the default`), that is what the line must give.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_datastore.edges.auth import mint_token
from tests.servers import free_port, wait_http
from tests.support.server import ROOT, RunningServer, running_server

DOCS = sorted((ROOT / "docs").glob("*.md"))
SECRET = "docs-examples-secret-0123456789abcdef-xyz"
TOKEN_ENV = {"DATASTORE_AUTH": "token", "DATASTORE_TOKEN_SECRET": SECRET, "STORE_BACKEND": "sqlite"}
OPEN_ENV = {"DATASTORE_AUTH": "none", "STORE_BACKEND": "sqlite"}
BIN = str(Path(sys.executable).parent)


@dataclass(frozen=True)
class Block:
    file: str
    line: int
    language: str
    text: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.file, next(line for line in self.text.splitlines() if line.strip()).strip())


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    start: int | None = None
    language, body = "", list[str]()
    for number, line in enumerate(lines, 1):
        if line.startswith("```") and start is None:
            start, language, body = number, line[3:].strip(), []
        elif line.startswith("```") and start is not None:
            found.append(Block(path.name, start, language, "\n".join(body) + "\n"))
            start = None
        elif start is not None:
            body.append(line)
    return found


def all_blocks() -> list[Block]:
    return [block for path in DOCS for block in blocks(path)]


def matches(example: Block, key: tuple[str, str]) -> bool:
    """Whether `key` (a file and the start of a first line) names `example`."""
    return example.key[0] == key[0] and example.key[1].startswith(key[1])


def block(file: str, start: str) -> Block:
    (found,) = [b for b in all_blocks() if matches(b, (file, start))]
    return found


# -- how each example is run (a block is named by its file and the start of its first line) --------

CLOUD = "needs a cloud account"
SYNTAX_ONLY: dict[tuple[str, str], str] = {
    ("admin.md", "apt-get update && apt-get install -y chromium chromium-driver"): "installs system packages",
    ("aws.md", "make sam-build"): CLOUD,
    ("aws.md", "aws lambda invoke"): CLOUD,
    ("aws.md", "sam build"): "needs Docker and the SAM CLI's images",
    ("couchdb.md", ".venv/bin/python -m tests.servers.run --only couchdb --"): "runs the test suite itself",
    (
        "gcp.md",
        "JAR=$(dpkg -L google-cloud-cli-firestore-emulator",
    ): "starts the emulator as tests/servers/firestore.py does for every Firestore test",
    ("gcp.md", "STORE_BACKEND=firestore make serve"): "installs into .venv and serves until stopped, on the emulator",
    ("gcp.md", ".venv/bin/python -m tests.servers.run --only firestore --"): "runs the test suite itself",
    ("gcp.md", "infra/gcp/package.sh"): CLOUD,
    ("gcp.md", "TOKEN=$(gcloud auth print-identity-token"): CLOUD,
    ("langgraph.md", "pip install './sdk[langgraph]' langgraph"): "installs packages (the test environment has them)",
    ("sdk.md", "import json, boto3"): CLOUD,
    ("sdk.md", "from agent_datastore_sdk import DataStore"): CLOUD + " (DataStore.direct invokes Lambda)",
}
NOT_CODE = {  # diagrams and layouts
    ("architecture.md", "functions/aws/<op>/app.py"),
    ("couchdb.md", '_id = "r-" + hex(utf8(userId))'),
    ("gcp.md", "{collection}/{u<user>}/namespaces/{n<namespace>}"),
}

EXPORT = ("admin.md", "agent-datastore admin export -o backup.ndjson")
IMPORT = ("admin.md", "agent-datastore admin import --format gofannon dump.json")
MIGRATE = ("admin.md", "STORE_BACKEND=couchdb COUCHDB_URL=http://admin:pw@127.0.0.1:5984")
AWS_CURL = ("aws.md", "# with a capability token")
AWS_LOCAL = ("aws.md", "# a local DynamoDB-protocol server (moto)")
COUCHDB_CREATE = ("couchdb.md", "STORE_BACKEND=couchdb COUCHDB_URL=http://admin:secret@127.0.0.1:5984")
GCP_FUNCTION = ("gcp.md", "STORE_BACKEND=firestore DATASTORE_AUTH=none")
LANGGRAPH = ("langgraph.md", "from agent_datastore_sdk import AsyncDataStore, DataStore")
MCP = ("mcp.md", "pip install 'agent-datastore[mcp]' ./sdk")
SDK_METHODS = ("sdk.md", 'data_store.set("my-key", {"result": "some data"})')
SDK_PROXY = ("sdk.md", "# mint short-lived tokens here")
SDK_TOKEN_CLI = ("sdk.md", "export DATASTORE_TOKEN_SECRET=...   # the server's secret")
SDK_TOKEN_PYTHON = ("sdk.md", "from agent_datastore.edges.auth import mint_token")
SDK_CURL = ("sdk.md", "curl -s https://api.example.com/v1/set")

RUN: dict[tuple[str, str], Callable[..., None]] = {}
RUN_WITH = {IMPORT: EXPORT}  # run within that one's test: the import examples read what the export examples wrote


def runs(key: tuple[str, str]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def register(function: Callable[..., None]) -> Callable[..., None]:
        RUN[key] = function
        return function

    return register


def test_every_code_block_is_run_or_says_why_not() -> None:
    examples, listed = all_blocks(), [*SYNTAX_ONLY, *NOT_CODE, *RUN, *RUN_WITH]
    for example in examples:
        named = [key for key in listed if matches(example, key)]
        assert len(named) == 1, f"{example.file}:{example.line}: run it below, or list why it cannot run ({named})"
    for key in listed:
        assert sum(matches(example, key) for example in examples) == 1, f"{key}: gone from the docs, or ambiguous"


@pytest.mark.parametrize(
    "example",
    [b for b in all_blocks() if not any(matches(b, key) for key in NOT_CODE)],
    ids=lambda b: f"{b.file}:{b.line}",
)
def test_every_example_parses(example: Block) -> None:
    if example.language in ("sh", "bash"):
        result = subprocess.run(["bash", "-n"], input=example.text, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
    elif example.language == "python":
        compile(example.text, f"{example.file}:{example.line}", "exec")
    else:
        pytest.fail(f"{example.file}:{example.line}: a code block needs a language (sh, bash, python)")


# -- helpers -----------------------------------------------------------------------------


def shell(script: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    child = {k: v for k, v in os.environ.items() if not k.startswith(("STORE_", "DATASTORE_", "SQLITE_"))}
    child.update({"PATH": f"{BIN}:{os.environ['PATH']}", **(env or {})})
    result = subprocess.run(
        ["bash", "-e", "-c", script], env=child, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (script, result.stdout, result.stderr)
    return result


@contextmanager
def background(script: str, ready: str, env: dict[str, str], log: Path) -> Iterator[None]:
    """Run `script` (a server that runs until stopped) until `ready` answers, then stop it and its children."""
    child = {k: v for k, v in os.environ.items() if not k.startswith(("STORE_", "DATASTORE_", "SQLITE_"))}
    child.update({"PATH": f"{BIN}:{os.environ['PATH']}", **env})
    with log.open("wb") as handle:
        process = subprocess.Popen(
            ["bash", "-c", script], env=child, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_http(ready, process, log, timeout=90)
        yield
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def json_documents(text: str) -> list[Any]:
    """The JSON documents printed one after another (curl prints no newline after a body)."""
    decoder, found, index = json.JSONDecoder(), [], 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        value, index = decoder.raw_decode(text, index)
        found.append(value)
    return found


def documented(comment: str) -> tuple[bool, Any]:
    """(True, value) when a comment starts with a literal: `# {"a": 1}`, `# 0: why`, `# ["k"]  (note)`."""
    for candidate in (comment.split("  ")[0], comment.split(":")[0]):
        try:
            return True, ast.literal_eval(candidate.strip())
        except (ValueError, SyntaxError):
            continue
    return False, None


def run_python(text: str, name: str, namespace: dict[str, Any]) -> int:
    """Run the code statement by statement; a statement whose line ends in a literal comment must give it.
    Returns how many results were compared."""
    tree, lines, compared = ast.parse(text), text.splitlines(), 0
    for statement in tree.body:
        line = lines[statement.end_lineno - 1] if statement.end_lineno else ""
        comment = line.split("  # ", 1)[1] if "  # " in line else ""
        if isinstance(statement, ast.Expr):
            value = eval(compile(ast.Expression(statement.value), name, "eval"), namespace)
            literal, expected = documented(comment)
            if literal:
                assert value == expected, (line, value)
                compared += 1
        else:
            exec(compile(ast.Module([statement], []), name, "exec"), namespace)
    return compared


@pytest.fixture(scope="module")
def token_server() -> Iterator[RunningServer]:
    with running_server(env=TOKEN_ENV) as server:
        yield server


def need(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        pytest.skip(f"EXAMPLE NOT RUN: {variable} is not set (run through `python -m tests.servers.run`)")
    return value


# -- the examples ------------------------------------------------------------------------------


def text_of(key: tuple[str, str]) -> str:
    return block(*key).text


@runs(EXPORT)
def export_and_import(tmp_path: Path) -> None:
    env = {"STORE_BACKEND": "sqlite", "SQLITE_PATH": str(tmp_path / "store.sqlite3")}
    with running_server(env={**OPEN_ENV, **env}) as server:
        for user, namespace, key in [
            ("alice", "files:my-org/my-repo", "a"),
            ("alice", "notes", "n"),
            ("bob", "x", "k"),
        ]:
            body = {"namespace": namespace, "key": key, "value": 1}
            assert httpx.post(f"{server.url}/v1/set", json=body, headers={"X-User-Id": user}).status_code == 200
        shell(text_of(EXPORT), env, tmp_path)
        backup = [json.loads(line) for line in (tmp_path / "backup.ndjson").read_text().splitlines()]
        assert [(row["userId"], row["key"]) for row in backup] == [("alice", "a"), ("alice", "n"), ("bob", "k")]
        files = [json.loads(line) for line in (tmp_path / "alice-files.ndjson").read_text().splitlines()]
        assert [(row["userId"], row["namespace"]) for row in files] == [("alice", "files:my-org/my-repo")]

        # The import examples: a Gofannon dump whose user is renamed, then the backup again (unchanged).
        dump = [{"userId": "local-dev-user", "namespace": "old", "key": "k", "value": {"from": "gofannon"}}]
        (tmp_path / "dump.json").write_text(json.dumps(dump))
        result = shell(text_of(IMPORT), env, tmp_path)
        assert result.stdout.splitlines() == [
            "imported 1, unchanged 0, skipped 0",
            "imported 0, unchanged 3, skipped 0",
        ]
        where = {"namespace": "old", "key": "k"}
        answer = httpx.post(f"{server.url}/v1/get", json=where, headers={"X-User-Id": "alice"})
        assert answer.json() == {"found": True, "value": {"from": "gofannon"}}


@runs(MIGRATE)
def migrate(tmp_path: Path) -> None:
    url = need("COUCHDB_URL")
    source, copy = f"docs_{uuid.uuid4().hex[:8]}", f"docs_{uuid.uuid4().hex[:8]}_v2"
    text = text_of(MIGRATE).replace("http://admin:pw@127.0.0.1:5984", url)
    text = text.replace("/data/store.sqlite3", str(tmp_path / "m.sqlite3")).replace("agent_data_store_v2", copy)
    env = {"COUCHDB_URL": url, "COUCHDB_DB": source, "SQLITE_PATH": str(tmp_path / "store.sqlite3")}
    shell("agent-datastore admin --backend couchdb create && agent-datastore admin --backend sqlite create", env)
    result = shell(text, env)
    assert result.stdout.count("verified: counts and checksums match") == 2, result.stdout


@runs(AWS_CURL)
def aws_curl(token_server: RunningServer) -> None:
    env = {
        "API_URL": token_server.url,
        "CAPABILITY_TOKEN": mint_token(SECRET, user="aws-docs", agent="reader"),
        "JWT": mint_token(SECRET, user="aws-docs", agent="indexer"),  # the local server's own token stands in
    }
    assert json_documents(shell(text_of(AWS_CURL), env).stdout) == [{"found": False}, {"version": 1, "created": True}]


@runs(AWS_LOCAL)
def aws_local_dynamodb(tmp_path: Path) -> None:
    port = free_port()
    env = {"PORT": str(port), "HOST": "127.0.0.1", "DATASTORE_AUTH": "none"}
    with background(text_of(AWS_LOCAL), f"http://127.0.0.1:{port}/healthz", env, tmp_path / "serve.log"):
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/set", json={"key": "k", "value": 1})
        assert answer.json() == {"version": 1, "created": True}
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["backend"] == "dynamodb"


@runs(COUCHDB_CREATE)
def couchdb_create() -> None:
    url = need("COUCHDB_URL")
    text = text_of(COUCHDB_CREATE).replace("http://admin:secret@127.0.0.1:5984", url)
    assert "storage is ready" in shell(text, {"COUCHDB_DB": f"docs_{uuid.uuid4().hex[:8]}"}).stdout


@runs(GCP_FUNCTION)
def gcp_function(tmp_path: Path) -> None:
    need("FIRESTORE_EMULATOR_HOST")
    port = str(free_port())
    serve, curl = text_of(GCP_FUNCTION).replace("8081", port).split("\ncurl ", 1)
    env = {"FIRESTORE_COLLECTION": f"docs_{uuid.uuid4().hex[:8]}"}
    with background(serve, f"http://127.0.0.1:{port}/", env, tmp_path / "function.log"):
        assert json_documents(shell("curl " + curl, env).stdout) == [{"found": False}]


@runs(LANGGRAPH)
def langgraph_store(token_server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from typing import TypedDict

    from langgraph.graph import StateGraph

    class State(TypedDict):
        n: int

    builder = StateGraph(State)  # the reader's graph
    builder.add_node("step", lambda state: {"n": state["n"] + 1})
    builder.set_entry_point("step")
    monkeypatch.setenv("DATASTORE_URL", token_server.url)
    monkeypatch.setenv("DATASTORE_TOKEN", mint_token(SECRET, user="lg-docs", agent="graph"))
    namespace: dict[str, Any] = {"builder": builder}
    exec(compile(text_of(LANGGRAPH), "langgraph.md", "exec"), namespace)
    store = namespace["store"]
    store.put(("memories", "x"), "k", {"v": 1})
    assert namespace["graph"].invoke({"n": 1}) == {"n": 2}
    assert store.get(("memories", "x"), "k").value == {"v": 1}


@runs(MCP)
def mcp_help() -> None:
    commands = [line for line in text_of(MCP).splitlines() if not line.startswith("pip install")]  # installed here
    assert "usage: agent-datastore mcp" in shell("\n".join(commands)).stdout


@runs(SDK_METHODS)
def sdk_methods() -> None:
    from agent_datastore_sdk import DataStore

    with running_server(env=OPEN_ENV) as server, DataStore(server.url) as data_store:
        assert run_python(text_of(SDK_METHODS), "sdk.md", {"data_store": data_store}) >= 6
        assert data_store.list_namespaces() == ["default"]  # the example cleared only the namespace it made


@runs(SDK_PROXY)
def sdk_proxy(token_server: RunningServer, tmp_path: Path) -> None:
    token = mint_token(SECRET, user="proxy-docs", agent="elsewhere")
    expected = [("alice", "researcher"), ("proxy-docs", "elsewhere")]
    paragraphs = text_of(SDK_PROXY).strip().split("\n\n")
    assert len(paragraphs) == len(expected)
    for number, paragraph in enumerate(paragraphs):
        port = free_port()
        script = (
            paragraph.replace("https://api.example.com", token_server.url)
            .replace("127.0.0.1:8787", f"127.0.0.1:{port}")
            .replace("DATASTORE_TOKEN_SECRET=...", f"DATASTORE_TOKEN_SECRET={SECRET}")
            .replace("DATASTORE_TOKEN=eyJ...", f"DATASTORE_TOKEN={token}")
        )
        with background(script, f"http://127.0.0.1:{port}/healthz", {}, tmp_path / f"proxy{number}.log"):
            proxy = f"http://127.0.0.1:{port}/v1"
            where = {"namespace": "results:docs", "key": f"k{number}"}
            assert httpx.post(f"{proxy}/set", json={**where, "value": number}).status_code == 200
            record = httpx.post(f"{proxy}/get", json={**where, "include_record": True}).json()["record"]
            assert (record["userId"], record["createdByAgent"]) == expected[number]


@runs(SDK_TOKEN_CLI)
def sdk_token_cli() -> None:
    result = shell(text_of(SDK_TOKEN_CLI).replace("DATASTORE_TOKEN_SECRET=...", f"DATASTORE_TOKEN_SECRET={SECRET}"))
    identity = {"valid": True, "user": "alice", "agent": "reporter", "ns_prefix": "results:", "read_only": False}
    assert json_documents(result.stdout) == [identity]


@runs(SDK_TOKEN_PYTHON)
def sdk_token_python(token_server: RunningServer) -> None:
    namespace: dict[str, Any] = {"secret": SECRET}
    exec(compile(text_of(SDK_TOKEN_PYTHON), "sdk.md", "exec"), namespace)
    headers = {"Authorization": f"Bearer {namespace['token']}"}
    where = {"namespace": "results:x", "key": "k"}
    assert httpx.post(f"{token_server.url}/v1/get", json=where, headers=headers).status_code == 200
    written = httpx.post(f"{token_server.url}/v1/set", json={**where, "value": 1}, headers=headers)
    assert written.status_code == 403  # read_only


@runs(SDK_CURL)
def sdk_curl() -> None:
    text = text_of(SDK_CURL)
    expected = [json.loads(line[2:]) for line in text.splitlines() if line.startswith("# {")]
    with running_server(env=TOKEN_ENV) as server:
        token = mint_token(SECRET, user="alice", agent="reporter", ns_prefix="results:")  # as the token example mints
        result = shell(text.replace("https://api.example.com", server.url), {"TOKEN": token})
    assert json_documents(result.stdout) == expected and len(expected) == 2


@pytest.mark.parametrize("key", sorted(RUN), ids=lambda key: f"{key[0]}:{key[1][:40]}")
def test_example_runs(key: tuple[str, str], request: pytest.FixtureRequest) -> None:
    function = RUN[key]
    names = function.__code__.co_varnames[: function.__code__.co_argcount]
    function(**{name: request.getfixturevalue(name) for name in names})


def test_the_readme_sdk_quick_start_runs_as_written() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", readme.split("## Calling it from agent code", 1)[1], re.S)
    assert code and 'DataStore("http://127.0.0.1:8080")' in code.group(1)
    with running_server(env=OPEN_ENV) as server:  # `make serve`: SQLite, auth off (on a port of its own here)
        namespace: dict[str, Any] = {}
        assert run_python(code.group(1).replace("http://127.0.0.1:8080", server.url), "README.md", namespace) >= 2
        namespace["data_store"].close()
