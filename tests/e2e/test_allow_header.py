"""A 405 names the methods the resource takes (`Allow`, RFC 9110 section 15.5.6) at every edge:
POST on /v1/<operation>, GET and HEAD on the local pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent_datastore.api.app import Api
from agent_datastore.core.settings import Settings
from agent_datastore.edges.aws.handler import make_handler
from agent_datastore.edges.gcp import gcp_handler
from agent_datastore.stores.memory import MemoryStore
from tests.sdk.conftest import running_proxy
from tests.servers import free_port
from tests.support.server import RunningServer, running_server

ROOT = Path(__file__).resolve().parents[2]


def assert_405(response: httpx.Response, allow: str) -> None:
    assert response.status_code == 405, response.text
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.headers.get("allow") == allow, response.headers


@pytest.fixture(scope="module")
def proxy() -> Iterator[RunningServer]:
    # Its upstream is not listening: a 405 is the proxy's own answer.
    with running_proxy(f"http://127.0.0.1:{free_port()}", "--token", "T0K") as running:
        yield running


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "BREW"])
def test_the_local_server_names_post_on_an_operation(server: RunningServer, method: str) -> None:
    response = httpx.request(method, f"{server.url}/v1/get", content=b"{}", timeout=10)
    assert response.status_code == 405 and response.headers.get("allow") == "POST", response.headers
    if method != "HEAD":
        assert_405(response, "POST")


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/docs", "/ui"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_the_local_server_names_get_and_head_on_a_page(server: RunningServer, path: str, method: str) -> None:
    response = httpx.request(method, f"{server.url}{path}", content=b"{}", timeout=10)
    assert_405(response, "GET, HEAD")
    assert httpx.get(f"{server.url}{path}", timeout=10).status_code == 200


def test_an_unknown_path_is_still_404(server: RunningServer) -> None:
    response = httpx.put(f"{server.url}/nope", content=b"{}", timeout=10)
    assert response.status_code == 404 and "allow" not in response.headers


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "OPTIONS", "BREW"])
def test_the_proxy_names_post_on_an_operation(proxy: RunningServer, method: str) -> None:
    assert_405(httpx.request(method, f"{proxy.url}/v1/get", content=b"{}", timeout=10), "POST")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_the_proxy_names_get_and_head_on_healthz(proxy: RunningServer, method: str) -> None:
    headers = {"content-type": "application/json"}
    assert_405(httpx.request(method, f"{proxy.url}/healthz", content=b"{}", headers=headers, timeout=10), "GET, HEAD")


def test_the_aws_function_names_post() -> None:
    event = json.loads((ROOT / "events/aws/bad/get_wrong_method.json").read_text())
    handler = make_handler("get", Api(Settings(store_backend="memory", auth="gateway"), MemoryStore()))
    result = handler(event)
    assert result["statusCode"] == 405 and result["headers"]["allow"] == "POST"


def test_the_gcp_function_names_post() -> None:
    import flask

    handle = gcp_handler("get", Api(Settings(store_backend="memory", auth="gateway"), MemoryStore()))
    with flask.Flask(__name__).test_request_context("/", method="PUT", data=b"{}"):
        body, status, headers = handle(flask.request)
    assert status == 405 and headers["allow"] == "POST" and json.loads(body)["error"]["code"] == "method_not_allowed"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running_server(env={"DATASTORE_AUTH": "none"}) as running:
        yield running
