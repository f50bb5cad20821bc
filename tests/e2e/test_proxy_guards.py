"""The sandbox proxy answers only loopback `Host` values and JSON bodies, so a web page open in a
browser on the sandbox host can drive it neither by DNS rebinding nor by a cross-site form post."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.sdk.conftest import Answer, StubUpstream, running_proxy, stub_upstream
from tests.support.server import RunningServer


@pytest.fixture(scope="module")
def upstream() -> Iterator[StubUpstream]:
    with stub_upstream(Answer(200, {"found": False})) as stub:
        yield stub


@pytest.fixture(scope="module")
def proxy(upstream: StubUpstream) -> Iterator[RunningServer]:
    with running_proxy(upstream.url, "--token", "T0K") as running:
        yield running


def port_of(proxy: RunningServer) -> int:
    return int(proxy.url.rsplit(":", 1)[1])


def send(proxy: RunningServer, lines: list[str], body: bytes = b'{"key": "k"}') -> tuple[int, dict[str, Any]]:
    """Raw HTTP/1.1, so that Host is exactly what a test says (httpx would write its own)."""
    head = [*lines, f"Content-Length: {len(body)}", "Connection: close"]
    data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
    with socket.create_connection(("127.0.0.1", port_of(proxy)), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    status = int(raw.split(b" ", 2)[1])
    payload = raw.split(b"\r\n\r\n", 1)[1]
    return status, httpx.Response(status, content=payload).json()


def forwarded(upstream: StubUpstream, before: int) -> int:
    return upstream.count - before


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}", "127.0.0.2:{port}", "127.0.0.1"],
)
def test_a_loopback_host_with_the_proxy_port_is_served(proxy: RunningServer, upstream: StubUpstream, host: str) -> None:
    before = upstream.count
    status, body = send(
        proxy,
        ["POST /v1/get HTTP/1.1", f"Host: {host.format(port=port_of(proxy))}", "Content-Type: application/json"],
    )
    assert (status, body) == (200, {"found": False}) and forwarded(upstream, before) == 1


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:{port}",  # DNS rebinding: the page's own name, resolved to 127.0.0.1
        "evil.example",
        "localhost.evil.example:{port}",
        "127.0.0.1.nip.io:{port}",
        "127.0.0.1:1",  # another port: not this proxy's address
        "localhost:{other}",
        "[::1]:1",
        "10.0.0.7:{port}",
        "",
        "127.0.0.1:{port}@evil.example",
    ],
)
def test_any_other_host_is_forbidden(proxy: RunningServer, upstream: StubUpstream, host: str) -> None:
    before = upstream.count
    value = host.format(port=port_of(proxy), other=port_of(proxy) + 1)
    for method in ("POST /v1/get", "GET /healthz"):
        status, body = send(proxy, [f"{method} HTTP/1.1", f"Host: {value}", "Content-Type: application/json"])
        assert status == 403 and body["error"]["code"] == "forbidden", (method, value, body)
        assert "Host" in body["error"]["message"]
    assert forwarded(upstream, before) == 0


def test_two_host_headers_are_forbidden(proxy: RunningServer, upstream: StubUpstream) -> None:
    before = upstream.count
    port = port_of(proxy)
    lines = ["POST /v1/get HTTP/1.1", f"Host: 127.0.0.1:{port}", "Host: evil.example", "Content-Type: application/json"]
    status, body = send(proxy, lines)
    assert status == 403 and body["error"]["code"] == "forbidden" and forwarded(upstream, before) == 0


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
        'application/json; charset="utf-8"',
    ],
)
def test_a_json_body_is_forwarded(proxy: RunningServer, upstream: StubUpstream, content_type: str) -> None:
    before = upstream.count
    response = httpx.post(f"{proxy.url}/v1/get", content=b'{"key": "k"}', headers={"content-type": content_type})
    assert response.status_code == 200 and forwarded(upstream, before) == 1


@pytest.mark.parametrize(
    "content_type",
    [
        None,  # what a bare fetch() of a string sends as text/plain; here: nothing at all
        "text/plain",  # a cross-site <form enctype="text/plain"> needs no CORS preflight
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "application/json-patch+json",
        "application/json; charset=latin-1",
        "application/json; profile=x",
        "",
    ],
)
def test_any_other_body_type_is_refused(proxy: RunningServer, upstream: StubUpstream, content_type: str | None) -> None:
    before = upstream.count
    headers = {} if content_type is None else {"content-type": content_type}
    response = httpx.post(f"{proxy.url}/v1/get", content=b'{"key": "k"}', headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and "application/json" in error["message"]
    assert forwarded(upstream, before) == 0
    # The connection stays usable for the next request.
    with httpx.Client(base_url=proxy.url) as client:
        assert client.post("/v1/get", content=b"{}", headers=headers).status_code == 400
        assert client.post("/v1/get", json={"key": "k"}).status_code == 200
