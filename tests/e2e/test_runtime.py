"""The local server and the sandbox proxy run uvicorn on httptools and uvloop when they are
installed (they are package dependencies), and on h11 and asyncio otherwise, answering protocol
errors in the contract's shape either way. The processes are looked at from outside: which C
extensions they have loaded (Linux /proc/PID/maps)."""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from agent_datastore.api.app import Api
from agent_datastore.core.settings import Settings
from agent_datastore.edges.local import httpbase, protocols
from agent_datastore.edges.local.proxy import ProxyConfig, SandboxProxy, StaticToken
from agent_datastore.edges.local.server import DataStoreApp
from tests.servers import free_port
from tests.support.server import (
    RunningServer,
    loaded_libraries,
    raw_exchange,
    running_cli,
    running_server,
    without_httptools_and_uvloop,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/maps")

HTTPTOOLS = "httptools/parser/parser"
UVLOOP = "uvloop/loop"
# Requests uvicorn's parser refuses or the app refuses before routing, and the contract's answer.
PROTOCOL_ERRORS = [
    (b"FROB /v1/get HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method_not_allowed"),
    (b"brew /v1/get HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 405, "method_not_allowed"),
    (b"GARBAGE\r\n\r\n", 400, "invalid_request"),
    (b"POST /v1/get\r\n", 400, "invalid_request"),
    (b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request"),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 413, "payload_too_large"),
    (b"POST /v1/get HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (1 << 20) + b"\r\n\r\n", 413, "payload_too_large"),
    (b"POST /v1/get HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "invalid_request"),
    (
        b"POST /v1/get HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n",
        400,
        "invalid_request",
    ),
    (b"POST /v1/get HTTP/9.9\r\nHost: x\r\n\r\n", 400, "invalid_request"),
    (b"POST /v1/get HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400, "invalid_request"),
    (b"POST /v1/get HTTP/1.1\r\nHost: x\r\nHost: y\r\nContent-Length: 2\r\n\r\n{}", 400, "invalid_request"),
]


@pytest.fixture(scope="module")
def plain_server() -> Iterator[RunningServer]:
    with without_httptools_and_uvloop() as path, running_server(env={"PYTHONPATH": path}) as running:
        yield running


def test_the_runtime_is_httptools_and_uvloop_when_installed() -> None:
    assert httpbase.runtime() == ("httptools", "uvloop")
    settings = Settings(store_backend="memory", auth="none")
    proxy = SandboxProxy(("127.0.0.1", 1), ProxyConfig("http://127.0.0.1:2", StaticToken("t")))
    for app in (DataStoreApp(Api(settings)), proxy):
        config = httpbase.uvicorn_config(app, server_name="test", keep_alive=5)
        assert config.loop == "uvloop"
        assert isinstance(config.http, type) and issubclass(config.http, protocols.ContractHttpToolsProtocol)
        assert config.http.owner is app
        app.close()


def test_the_server_and_the_proxy_run_on_them(server: RunningServer) -> None:
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        command = ["proxy", "--listen", f"127.0.0.1:{port}", "--upstream", server.url, "--token", "t"]
        with running_cli(command, port, Path(folder), {**os.environ}) as proxy:
            for running in (server, proxy):
                libraries = loaded_libraries(running.process)
                assert HTTPTOOLS in libraries and UVLOOP in libraries, running.url


def test_without_them_the_server_runs_on_h11_and_asyncio(plain_server: RunningServer) -> None:
    libraries = loaded_libraries(plain_server.process)
    assert HTTPTOOLS not in libraries and UVLOOP not in libraries
    assert "_asyncio" in libraries


@pytest.mark.parametrize("runtime", ["httptools", "h11"])
@pytest.mark.parametrize(("raw", "status", "code"), PROTOCOL_ERRORS, ids=lambda value: repr(value)[:40])
def test_protocol_errors_are_answered_alike_on_both_runtimes(
    request: pytest.FixtureRequest, runtime: str, raw: bytes, status: int, code: str
) -> None:
    running = request.getfixturevalue("server" if runtime == "httptools" else "plain_server")
    got_status, body = raw_exchange(running.url, raw)
    assert (got_status, body["error"]["code"]) == (status, code), body  # type: ignore[index]


def test_one_write_per_response_and_keep_alive(server: RunningServer) -> None:
    address = urlparse(server.url)
    body = b'{"key":"k","value":1}'
    request = b"POST /v1/set HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    request += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        for _ in range(3):  # kept alive: the same connection answers again
            sock.sendall(request)
            data = sock.recv(65536)  # head and body arrive together
            head, _, answer = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 ") and json.loads(answer)["version"] >= 1


def one_answer(sock: socket.socket) -> tuple[bytes, dict[str, object]]:
    """One answer read by its Content-Length (the connection may stay open)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:])
    while len(body) < length:
        body += sock.recv(65536)
    return head, json.loads(body)


@pytest.mark.parametrize("runtime", ["httptools", "h11"])
def test_an_upgrade_request_is_answered_in_http_1_1(request: pytest.FixtureRequest, runtime: str) -> None:
    """curl --http2 on http:// asks for h2c: the servers never upgrade and answer the request itself
    (llhttp would take what follows the head, the body, for the new protocol's data)."""
    running = request.getfixturevalue("server" if runtime == "httptools" else "plain_server")
    address = urlparse(running.url)
    body = b'{"key":"upgrade-probe","value":7}'
    head = b"POST /v1/set HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    head += b"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Type: application/json\r\n"
    head += b"Content-Length: %d\r\n\r\n" % len(body)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(head + body[:10])
        sock.sendall(body[10:])  # the body in two writes
        status, answer = one_answer(sock)
    assert status.startswith(b"HTTP/1.1 200 "), (status, answer)
    assert answer["version"] == 1
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
        status, answer = one_answer(sock)
    assert status.startswith(b"HTTP/1.1 200 ") and answer["status"] == "ok"
