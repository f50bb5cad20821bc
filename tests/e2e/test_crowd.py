"""A crowd of agents at once: 256 clients released together against the real server process
and the real proxy process, each sending a few requests on a new connection each. Every request
gets its 200 answer: none is reset or refused (the stdlib server, listen backlog 5, reset dozens).
Throughput is bench/crowd.py's business, not this test's."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.crowd import CROWD_CLIENTS, USER, crowd, request_once
from tests.servers import free_port
from tests.support.server import RunningServer, running_cli, running_server

SECRET = "crowd-test-secret-of-at-least-32-bytes!!"
REQUESTS_EACH = 3


def port_of(running: RunningServer) -> int:
    return int(running.url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def token_server() -> Iterator[RunningServer]:
    with running_server(env={"DATASTORE_AUTH": "token", "DATASTORE_TOKEN_SECRET": SECRET}) as running:
        yield running


@pytest.fixture(scope="module")
def proxy(token_server: RunningServer) -> Iterator[RunningServer]:
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        env = {key: value for key, value in os.environ.items() if key != "DATASTORE_TOKEN"}
        env["DATASTORE_TOKEN_SECRET"] = SECRET
        command = ["proxy", "--listen", f"127.0.0.1:{port}", "--upstream", token_server.url]
        with running_cli([*command, "--user", USER, "--agent", "crowd"], port, Path(folder), env) as running:
            yield running


def test_the_server_answers_every_request_of_a_crowd(server: RunningServer) -> None:
    port = port_of(server)
    assert request_once(port, "POST", "/v1/set", b'{"namespace":"bench","key":"hot","value":1}')[0] == 200
    result = crowd(port, CROWD_CLIENTS, REQUESTS_EACH)
    assert result["requests"] == 256 * REQUESTS_EACH
    assert result["errors"] == 0, result["kinds"]


def test_the_proxy_answers_every_request_of_a_crowd(proxy: RunningServer) -> None:
    port = port_of(proxy)
    assert request_once(port, "POST", "/v1/set", b'{"namespace":"bench","key":"hot","value":1}')[0] == 200
    result = crowd(port, CROWD_CLIENTS, REQUESTS_EACH)
    assert result["requests"] == 256 * REQUESTS_EACH
    assert result["errors"] == 0, result["kinds"]
