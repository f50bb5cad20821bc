"""Fixtures for the SDK, token and proxy tests.

A real `agent-datastore serve` process with `DATASTORE_AUTH=token`, real
`agent-datastore proxy` processes in front of it, and a tiny scripted stub
upstream on 127.0.0.1 for the retry and pass-through tests.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest

from agent_datastore.edges.auth import mint_token
from tests.servers import free_port
from tests.support.server import RunningServer, running_cli, running_server

SECRET = "sdk-tests-primary-secret-0123456789abcdef"
SECRET_K2 = "sdk-tests-rotated-secret-fedcba9876543210"
SERVER_ENV = {
    "DATASTORE_AUTH": "token",
    "DATASTORE_TOKEN_SECRET": SECRET,  # kid k1
    "DATASTORE_TOKEN_SECRETS": f"k2={SECRET_K2}",
    "STORE_BACKEND": "sqlite",
}


def mint(user: str, agent: str = "tester", **kwargs: Any) -> str:
    return mint_token(SECRET, user=user, agent=agent, **kwargs)


def raw_token(claims: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256", **headers: Any) -> str:
    return jwt.encode(claims, secret, algorithm=algorithm, headers=headers or None)


@pytest.fixture(scope="session")
def server() -> Iterator[Any]:
    with running_server(env=SERVER_ENV) as running:
        yield running


# -- the proxy as a real process ---------------------------------------------


RunningProxy = RunningServer


@contextmanager
def running_proxy(upstream: str, *args: str, env: dict[str, str] | None = None) -> Iterator[RunningProxy]:
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        child_env = {key: value for key, value in os.environ.items() if key != "DATASTORE_TOKEN"}
        child_env.update({"DATASTORE_TOKEN_SECRET": SECRET, **(env or {})})
        command = ["proxy", "--listen", f"127.0.0.1:{port}", "--upstream", upstream, *args]
        with running_cli(command, port, Path(folder), child_env) as proxy:
            yield proxy


@pytest.fixture
def sandbox_proxy(server: Any, user_id: str) -> Iterator[RunningProxy]:
    """A proxy for this test's user that mints its own tokens (agent `sandbox-agent`)."""
    with running_proxy(server.url, "--user", user_id, "--agent", "sandbox-agent") as proxy:
        yield proxy


# -- a scripted stub upstream --------------------------------------------------


@dataclass
class Answer:
    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class StubUpstream:
    """Answers POSTs from a script (the last answer repeats) and records every request."""

    url: str
    script: list[Answer]
    requests: list[dict[str, Any]]

    @property
    def count(self) -> int:
        return len(self.requests)


@contextmanager
def stub_upstream(*answers: Answer) -> Iterator[StubUpstream]:
    script = list(answers)
    requests: list[dict[str, Any]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with lock:
                index = len(requests)
                requests.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                )
                answer = script[min(index, len(script) - 1)]
            if answer.delay:
                time.sleep(answer.delay)
            data = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
            self.send_response(answer.status)
            self.send_header("content-type", "application/json")
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            with suppress(OSError):
                self.wfile.write(data)

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield StubUpstream(f"http://127.0.0.1:{httpd.server_address[1]}", script, requests)
    finally:
        httpd.shutdown()
        httpd.server_close()


# -- direct invocation: a real boto3 Lambda client, the network hop replaced ------


class _RawBody(io.BytesIO):
    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


@dataclass
class LambdaHarness:
    client: Any
    payloads: list[tuple[str, bytes]]


def lambda_client(invoke: Callable[[str, bytes], tuple[dict[str, str], bytes]]) -> LambdaHarness:
    """A real boto3 `lambda` client whose HTTP requests are answered by `invoke(function_name, payload)`.

    boto3 serialises `Invoke` exactly as it would for AWS; the hook receives the
    raw request bytes, and botocore parses the answer (including
    `X-Amz-Function-Error`) exactly as it would parse AWS's.
    """
    import boto3
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config

    payloads: list[tuple[str, bytes]] = []
    client = boto3.client(
        "lambda",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        endpoint_url="http://127.0.0.1:9",  # never reached: the hook answers first
        config=Config(retries={"total_max_attempts": 1}),
    )

    def before_send(request: Any, **_kwargs: Any) -> Any:
        # URL: /2015-03-31/functions/<name>/invocations
        name = request.url.split("/functions/", 1)[1].split("/", 1)[0]
        body = request.body if isinstance(request.body, bytes) else (request.body or b"")
        if hasattr(body, "read"):
            body = body.read()
        payloads.append((name, body))
        headers, data = invoke(name, body)
        return AWSResponse(request.url, 200, {"x-amz-executed-version": "$LATEST", **headers}, _RawBody(data))

    client.meta.events.register("before-send.lambda.Invoke", before_send)
    return LambdaHarness(client, payloads)


def handler_invoker(api: Any, prefix: str = "agent-datastore-") -> Callable[[str, bytes], tuple[dict[str, str], bytes]]:
    """Run the core's real per-operation handlers, as the Lambda runtime would."""
    from agent_datastore.edges.aws.handler import make_handler

    handlers: dict[str, Any] = {}

    def invoke(name: str, payload: bytes) -> tuple[dict[str, str], bytes]:
        assert name.startswith(prefix), name
        operation = name[len(prefix) :]
        handler = handlers.setdefault(operation, make_handler(operation, api))
        result = handler(json.loads(payload), None)
        return {}, json.dumps(result).encode()

    return invoke


@pytest.fixture
def namespace() -> str:
    return f"ns-{uuid.uuid4().hex[:8]}"
